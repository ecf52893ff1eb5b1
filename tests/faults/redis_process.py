"""A real redis-server that a test can freeze, wake, kill and start again on the same port."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.support import free_port, redis_ping, wait_until


class ControlledRedis:
    """One redis-server on a free loopback port, its data in an append-only file synced on every write,
    so a killed server comes back with everything it acknowledged."""

    def __init__(self, binary: str, workdir: Path) -> None:
        self.binary = binary
        self.workdir = workdir
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None
        self._log = open(workdir / "redis.log", "ab")  # noqa: SIM115 - closed in stop()

    def start(self) -> None:
        command = [
            self.binary,
            *("--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.workdir)),
            *("--save", "", "--appendonly", "yes", "--appendfsync", "always"),
        ]
        self.process = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT)
        process = self.process
        wait_until(lambda: process.poll() is None and redis_ping(self.port)(), timeout=20, what="redis-server")

    def _pid(self) -> int:
        assert self.process is not None and self.process.poll() is None, "redis-server is not running"
        return self.process.pid

    def freeze(self) -> None:
        """SIGSTOP: the port still accepts connections, but nothing is answered."""
        os.kill(self._pid(), signal.SIGSTOP)

    def wake(self) -> None:
        os.kill(self._pid(), signal.SIGCONT)

    def kill(self) -> None:
        """SIGKILL, as a crash: no goodbye to the clients beyond the kernel closing the sockets."""
        os.kill(self._pid(), signal.SIGKILL)
        assert self.process is not None
        self.process.wait(timeout=10)

    def client(self) -> redis.Redis:
        """A plain client of the test's own, to look at the server from outside the service."""
        return redis.Redis(host="127.0.0.1", port=self.port, decode_responses=True, socket_timeout=5)

    def calls_of(self, command: str) -> int:
        """How many times the server has run `command` (INFO commandstats)."""
        with self.client() as client:
            stats = client.info("commandstats")
        entry = stats.get(f"cmdstat_{command}")
        return int(entry["calls"]) if entry else 0

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGCONT)  # a stopped process would hold SIGTERM until woken
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


@contextlib.contextmanager
def controlled_redis(workdir: Path) -> Iterator[ControlledRedis]:
    """A started ControlledRedis, always stopped afterwards."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (Debian package redis-server)")
    server = ControlledRedis(binary, workdir)
    try:
        server.start()
        yield server
    finally:
        server.stop()
