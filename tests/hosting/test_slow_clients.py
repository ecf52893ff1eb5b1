"""A handful of clients that send their requests a byte at a time do not stop the Procfile's
deployment (two workers) from answering everyone else promptly."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import requests

from tests.deployment import Deployment, deploy
from tests.support import wait_until

SLOW_CLIENTS = 5
DRIBBLE_INTERVAL = 0.5  # seconds between two bytes of a slow client's headers
PROMPT = 2.0  # seconds within which every other client must be answered
CHECKING_FOR = 6.0  # seconds of normal requests while the slow clients are connected


@pytest.fixture(scope="module")
def deployment(tmp_path_factory) -> Iterator[Deployment]:
    with deploy(tmp_path_factory.mktemp("slow-clients"), None) as running:
        yield running


class SlowClient:
    """A socket that sends a request's headers one byte every DRIBBLE_INTERVAL, and never finishes them."""

    def __init__(self, address: tuple[str, int]) -> None:
        self.sock = socket.create_connection(address, timeout=5)
        self.started = threading.Event()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._dribble, daemon=True)
        self.thread.start()

    def _dribble(self) -> None:
        endless_headers = b"GET /healthz HTTP/1.1\r\nHost: slow\r\nX-Padding: " + b"a" * 10_000
        for byte in endless_headers:
            try:
                self.sock.sendall(bytes([byte]))
            except OSError:
                return  # the server gave up on us: that is its right
            self.started.set()
            if self.stop.wait(DRIBBLE_INTERVAL):  # the dribble is the behaviour under test
                return

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=5)
        self.sock.close()


@contextlib.contextmanager
def slow_clients(base_url: str, count: int) -> Iterator[list[SlowClient]]:
    parts = urlsplit(base_url)
    clients: list[SlowClient] = []
    try:
        for _ in range(count):
            clients.append(SlowClient((parts.hostname, parts.port)))
        wait_until(lambda: all(client.started.is_set() for client in clients), timeout=5, what="slow clients")
        yield clients
    finally:
        for client in clients:
            client.close()


def test_slow_clients_do_not_keep_others_from_being_answered(deployment: Deployment):
    with slow_clients(deployment.base_url, SLOW_CLIENTS) as clients:
        waits = []
        deadline = time.monotonic() + CHECKING_FOR
        while time.monotonic() < deadline:
            began = time.monotonic()
            try:
                answer = requests.get(f"{deployment.base_url}/healthz", timeout=PROMPT)
            except requests.Timeout:
                pytest.fail(f"/healthz not answered within {PROMPT}s while {SLOW_CLIENTS} slow clients were connected")
            assert answer.status_code == 200
            waits.append(time.monotonic() - began)
        assert all(not client.stop.is_set() and client.thread.is_alive() for client in clients), (
            "the slow clients were still dribbling throughout"
        )
    assert len(waits) > 10 and max(waits) < PROMPT
