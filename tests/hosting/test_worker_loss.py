"""A gunicorn worker killed in the middle of a stream of launches is replaced, the stream gets only
clean answers (at worst a dropped connection for what the dead worker held), and service goes on."""

from __future__ import annotations

import os
import queue
import signal
import threading
import time
from collections.abc import Iterator

import pytest
import requests

from tests.deployment import Deployment, deploy, json_token
from tests.support import child_pids, wait_until

APPS = 10
LISTINGS = 25  # each listing mints one link per app: APPS x LISTINGS links in the stream
CLIENTS = 4
KILL_AFTER = 20  # launches answered before a worker is killed
TIMEOUT = 10
DROPPED = "connection dropped"


@pytest.fixture(scope="module")
def deployment(tmp_path_factory) -> Iterator[Deployment]:
    with deploy(tmp_path_factory.mktemp("worker-loss"), None) as running:
        yield running


def fresh_links(deployment: Deployment, count: int) -> list[str]:
    """`count` listings' worth of fresh launch links for the agent, one per app per listing."""
    headers = {"Authorization": f"Bearer {json_token(deployment, deployment.agent_email)}"}
    url = f"{deployment.base_url}/brands/{deployment.office}/sso_applications"
    links = []
    for _ in range(count):
        listed = requests.get(url, headers=headers, timeout=TIMEOUT)
        assert listed.status_code == 200, listed.text
        links += [app["open_url"] for app in listed.json()["data"]]
    return links


def launch(link: str) -> int | str:
    try:
        return requests.get(link, timeout=TIMEOUT, allow_redirects=False).status_code
    except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError):
        return DROPPED  # the worker holding the connection died: reset, or closed before the answer ended
    except requests.RequestException as error:
        return f"unclean: {error!r}"


def is_clean(outcome: int | str) -> bool:
    if isinstance(outcome, str):
        return outcome == DROPPED
    return 200 <= outcome < 300 or 400 <= outcome < 500 or outcome == 503


def test_a_killed_worker_is_replaced_and_the_stream_of_launches_gets_clean_answers(deployment: Deployment):
    for number in range(APPS):
        deployment.create_app(
            name=f"App {number}", acs_url="http://127.0.0.1:9/acs", entity_id=f"https://sp{number}.example.com/sp"
        )
    workers = child_pids(deployment.master_pid)
    assert len(workers) == 2

    pending: queue.SimpleQueue[str] = queue.SimpleQueue()
    for link in fresh_links(deployment, LISTINGS):
        pending.put(link)
    outcomes: list[int | str] = []
    lock = threading.Lock()

    def client() -> None:
        while True:
            try:
                link = pending.get_nowait()
            except queue.Empty:
                return
            outcome = launch(link)
            with lock:
                outcomes.append(outcome)

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    try:
        wait_until(lambda: len(outcomes) >= KILL_AFTER, timeout=30, what="launches under way")
        victim = min(workers)
        os.kill(victim, signal.SIGKILL)
        left_at_kill = pending.qsize()
        wait_until(
            lambda: len(child_pids(deployment.master_pid) - {victim}) == 2, timeout=30, what="a replacement worker"
        )
    finally:
        for thread in threads:
            thread.join(timeout=60)

    assert left_at_kill > CLIENTS, "the worker died while launches were under way"
    assert len(outcomes) == APPS * LISTINGS
    assert all(is_clean(outcome) for outcome in outcomes), sorted(set(map(str, outcomes)))
    assert outcomes.count(DROPPED) <= CLIENTS, "only what was in flight on the dead worker may be lost"
    assert outcomes.count(200) >= len(outcomes) - CLIENTS

    # Service goes on, on the new worker too: fresh links open, every one of them.
    replaced = child_pids(deployment.master_pid)
    assert victim not in replaced and len(replaced) == 2
    started = time.monotonic()
    assert [launch(link) for link in fresh_links(deployment, 3)] == [200] * (3 * APPS)
    assert time.monotonic() - started < TIMEOUT


def test_gunicorn_opens_no_control_socket(deployment: Deployment):
    """Workers are managed by signals alone; a control socket at the user's fixed path would be shared
    by every gunicorn the user runs."""
    log = deployment.log.read_text()
    assert "Booting worker" in log
    assert "Control socket" not in log
