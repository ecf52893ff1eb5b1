"""The Procfile's gunicorn, one worker pinned to one core, and a redis-server, for a benchmark run."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for(ready: Callable[[], bool], what: str, process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    """Poll until `ready()` holds; fail at once if the process died."""
    deadline = time.monotonic() + timeout
    while not ready():
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} not ready after {timeout:.0f} s")
        time.sleep(0.05)  # polling interval


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()


def procfile_web_command() -> str:
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.startswith("web:"):
            return line.removeprefix("web:").strip()
    raise RuntimeError("the Procfile has no web: line")


@dataclass
class Service:
    base_url: str
    master_pid: int

    def worker_pids(self) -> list[int]:
        children = Path(f"/proc/{self.master_pid}/task/{self.master_pid}/children").read_text().split()
        return [int(pid) for pid in children]

    def worker_cpu_seconds(self) -> float:
        """The worker's CPU time so far, user and system: what a request costs whether or not the load
        generator kept the worker busy."""
        (worker,) = self.worker_pids()
        fields = Path(f"/proc/{worker}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def worker_rss_mb(self) -> float:
        (worker,) = self.worker_pids()
        for line in Path(f"/proc/{worker}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS")


def service_env(workdir: Path, *, redis_url: str | None) -> dict[str, str]:
    port = free_port()
    env = {
        **os.environ,
        "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "WEB_CONCURRENCY": "1",
        "IDP_BASE_URL": f"http://127.0.0.1:{port}",
        "IDP_KEYS_DIR": str(workdir / "keys"),
        "IDP_DATABASE": str(workdir / "idp.sqlite3"),
        "IDP_LINK_TTL": "3600",
        "IDP_ALLOW_HTTP_URLS": "1",
    }
    env.pop("REDIS_URL", None)
    if redis_url:
        env["REDIS_URL"] = redis_url
        env["IDP_REDIS_PREFIX"] = f"bench-{workdir.name}:"
    return env


@contextlib.contextmanager
def gunicorn(env: Mapping[str, str], log: Path, *, core: int, app: str = "idp.wsgi:app") -> Iterator[Service]:
    """The Procfile's web command, serving `app` (another WSGI app only to measure gunicorn alone)."""
    base_url = env["IDP_BASE_URL"]
    command = procfile_web_command()
    if app != "idp.wsgi:app":
        if not command.endswith(" idp.wsgi:app"):
            raise RuntimeError("the Procfile's web command no longer ends with the app it serves")
        command = command.removesuffix("idp.wsgi:app") + app
    with log.open("ab") as output:
        process = subprocess.Popen(
            ["taskset", "-c", str(core), "sh", "-c", "exec " + command],
            env=dict(env),
            cwd=ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_for(lambda: _answers(f"{base_url}/healthz"), "gunicorn", process)
        yield Service(base_url, process.pid)  # taskset and sh exec into gunicorn: the same pid
    finally:
        _stop(process)


@contextlib.contextmanager
def redis_server(workdir: Path, *, core: int) -> Iterator[str]:
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [
            "taskset",
            "-c",
            str(core),
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def pings() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    try:
        _wait_for(pings, "redis-server", process)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        _stop(process)
