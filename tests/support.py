"""Helpers the test suites share: free ports, real server processes, data factories."""

from __future__ import annotations

import contextlib
import datetime
import os
import shutil
import socket
import sqlite3
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509.oid import NameOID

from idp.accounts import provisioning
from idp.models import Brand, User
from idp.store import Store

PASSWORD = "correct horse battery staple"
# zbarimg's options to look for QR codes only: with every symbology on, it may also find a 1-D
# barcode in a QR code's modules and print it on a line of its own.
QR_ONLY = ("-Sdisable", "-Sqrcode.enable")


_handed_out: set[int] = set()


def free_port() -> int:
    """A loopback port free now, and never one this process handed out before: a server's URL is often
    also a name (an SP's entityID, its ACS), and a port the kernel gives again would make a later
    server's name the same as an earlier one's, still registered."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port not in _handed_out:
            _handed_out.add(port)
            return port


def wait_until(ready: Callable[[], bool], *, timeout: float = 20.0, what: str = "condition") -> None:
    """Poll `ready` until it holds; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        time.sleep(0.05)
    raise TimeoutError(f"{what} not ready after {timeout}s")


def http_ok(url: str) -> Callable[[], bool]:
    def check() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                return response.status == 200
        except OSError:
            return False

    return check


@contextlib.contextmanager
def running(
    command: list[str],
    *,
    ready: Callable[[], bool],
    what: str,
    env: dict[str, str] | None = None,
    log: Path | None = None,
) -> Iterator[subprocess.Popen]:
    """Start a process, wait for it to be ready, and always stop it afterwards."""
    out = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115 - closed below
    process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        try:
            wait_until(lambda: process.poll() is None and ready(), timeout=30, what=what)
        except TimeoutError:
            detail = log.read_text(errors="replace")[-2000:] if log and log.exists() else ""
            raise TimeoutError(f"{what} did not start (exit {process.poll()}): {detail}") from None
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if log:
            out.close()


def redis_ping(port: int) -> Callable[[], bool]:
    def check() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    return check


@contextlib.contextmanager
def redis_server(workdir: Path) -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        import pytest

        pytest.skip("redis-server is not installed (Debian package redis-server)")
    port = free_port()
    command = [
        binary,
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
    ]
    with running(command, ready=redis_ping(port), what="redis-server", log=workdir / "redis.log"):
        yield f"redis://127.0.0.1:{port}/0"


def child_pids(parent: int) -> set[int]:
    """The pids of a process's living children, read from /proc (a gunicorn arbiter's are its workers)."""
    children = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # gone meanwhile
        # Fields after the command name, which is in parentheses and may hold spaces: state, ppid, ...
        state, ppid = stat.rpartition(")")[2].split()[:2]
        if int(ppid) == parent and state != "Z":
            children.add(int(entry.name))
    return children


def venv_bin(name: str) -> str:
    """An executable installed beside the running interpreter (gunicorn, idp)."""
    import sys

    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else name


@dataclass
class Factory:
    """Builds brands, users and clients straight in a store, with sensible defaults."""

    store: Store
    counter: int = 0

    def _next(self) -> int:
        self.counter += 1
        return self.counter

    def brand(self, name: str | None = None, *, parent: Brand | None = None, brand_type: str = "Brokerage") -> Brand:
        return provisioning.create_brand(
            self.store,
            name or f"Brand {self._next()}",
            parent_id=parent.id if parent else None,
            brand_type=brand_type,
        )

    def user(
        self,
        *,
        brand: Brand | None = None,
        role: str | None = None,
        email: str | None = None,
        password: str = PASSWORD,
        first_name: str = "Ada",
        last_name: str = "Agent",
    ) -> User:
        if brand is not None and role is None:
            role = "Agent"
        return provisioning.create_user(
            self.store,
            email or f"user{self._next()}-{os.getpid()}@example.com",
            first_name=first_name,
            last_name=last_name,
            password=password,
            brand_id=brand.id if brand else None,
            role=role,
        )

    def member(self, user: User, brand: Brand, role: str = "Agent") -> None:
        provisioning.add_member(self.store, user.id, brand.id, role)

    def client(self, name: str = "web") -> provisioning.NewClient:
        return provisioning.create_client(self.store, name)


@contextlib.contextmanager
def write_lock_held(database: Path) -> Iterator[None]:
    """Another process's view of a SQLite file: a connection that holds the write lock until the block ends."""
    holder = sqlite3.connect(database, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        yield
        holder.execute("ROLLBACK")
    finally:
        holder.close()


def self_signed_certificate(
    key: CertificateIssuerPrivateKeyTypes, common_name: str, *, days_before: int = 0, days_after: int = 365
) -> x509.Certificate:
    """A self-signed certificate for `key`, as SPs make their own (SHA-256, or none for Ed25519)."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=days_before))
        .not_valid_after(now + datetime.timedelta(days=days_after))
    )
    return builder.sign(key, None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256())
