"""The Procfile's gunicorn with two workers: /metrics adds up what every worker counted, whichever
answers the scrape, and keeps a dead worker's counts; every log line of the service is JSON."""

from __future__ import annotations

import os
import signal
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.deployment import Deployment, deploy
from tests.support import child_pids, wait_until
from tests.telemetry.scrape import json_lines, value

TIMEOUT = 10


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    with deploy(tmp_path_factory.mktemp("telemetry"), None) as running:
        yield running


def request_lines(deployment: Deployment, route: str) -> list[dict]:
    entries = json_lines(deployment.log.read_text())
    return [entry for entry in entries if entry.get("event") == "request" and entry["route"] == route]


def healthz(deployment: Deployment, count: int) -> None:
    """`count` probes, each on a connection of its own, several at once, so both workers take some."""

    def one(_: int) -> int:
        return requests.get(f"{deployment.base_url}/healthz", timeout=TIMEOUT).status_code

    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(one, range(count))) == {200}


def scrape(deployment: Deployment) -> tuple[str, int]:
    """The exposition, and the pid of the worker that answered it (from its request line)."""
    response = requests.get(f"{deployment.base_url}/metrics", timeout=TIMEOUT)
    assert response.status_code == 200
    request_id = response.headers["X-Request-ID"]
    wait_until(
        lambda: any(line["request_id"] == request_id for line in request_lines(deployment, "/metrics")),
        timeout=TIMEOUT,
        what="the scrape's log line",
    )
    (line,) = [line for line in request_lines(deployment, "/metrics") if line["request_id"] == request_id]
    return response.text, line["pid"]


def healthz_count(text: str) -> float:
    return value(text, "idp_request_duration_seconds_count", route="/healthz", method="GET", status="200")


def test_every_workers_counts_are_added_up_whoever_answers(deployment: Deployment):
    workers = child_pids(deployment.master_pid)
    assert len(workers) == 2
    sent = 0
    while {line["pid"] for line in request_lines(deployment, "/healthz")} != workers:
        assert sent < 800, "one worker took every request"
        healthz(deployment, 40)
        sent += 40
    logged = len(request_lines(deployment, "/healthz"))  # the readiness poll of the deployment counts too
    assert logged >= sent

    answered_by: set[int] = set()
    for _ in range(200):
        text, pid = scrape(deployment)
        assert healthz_count(text) == logged  # both workers' counts, not the answering worker's alone
        answered_by.add(pid)
        if answered_by == workers:
            break
    assert answered_by == workers, "every scrape was answered by the same worker"


def test_a_dead_workers_counts_stay_counted(deployment: Deployment):
    healthz(deployment, 20)
    before = healthz_count(scrape(deployment)[0])
    victim = min(child_pids(deployment.master_pid))
    os.kill(victim, signal.SIGKILL)
    wait_until(
        lambda: victim not in (workers := child_pids(deployment.master_pid)) and len(workers) == 2,
        timeout=30,
        what="a replacement worker",
    )
    assert healthz_count(scrape(deployment)[0]) == before


def test_the_request_id_comes_back_and_lines_are_json(deployment: Deployment):
    response = requests.get(f"{deployment.base_url}/readyz", headers={"X-Request-ID": "lb-0042"}, timeout=TIMEOUT)
    assert response.status_code == 200 and response.json()["status"] == "ok"
    assert response.headers["X-Request-ID"] == "lb-0042"
    wait_until(lambda: any(line["request_id"] == "lb-0042" for line in request_lines(deployment, "/readyz")))
    (line,) = [line for line in request_lines(deployment, "/readyz") if line["request_id"] == "lb-0042"]
    assert line["method"] == "GET" and line["status"] == 200 and line["client"] == "127.0.0.1"
    # What is not JSON is gunicorn's own arbiter and worker lines, and no access log.
    for text in deployment.log.read_text().splitlines():
        assert text.startswith("{") or "[INFO]" in text or "[WARNING]" in text or "[ERROR]" in text, text
    assert '"GET /readyz HTTP/1.1"' not in deployment.log.read_text()
