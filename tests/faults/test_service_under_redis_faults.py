"""The Procfile's gunicorn on a real redis-server that freezes (SIGSTOP, then SIGCONT) or dies (SIGKILL, then a
restart on the same port) under a stream of launches and refresh-token exchanges.

Whatever happens, every answer is a clean 200 or 503 within a bound (a refresh is never refused as a
reuse), no launch link works twice, and every sign-in's refresh token, as its client holds it, still
works once afterwards.

That includes a refresh in flight at the very instant of the fault, which Redis applied (and, syncing
every write, wrote to disk) but whose answer it never sent: its client still holds the rotated token,
and presents it again within the refresh reuse interval, so it gets the same successor pair that was
stored.  Only a launch link in that case may have been used up: a launch has no retry to answer.
"""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from queue import Empty, SimpleQueue

import pytest
import requests

from tests.deployment import Deployment, deploy, json_token
from tests.faults.redis_process import ControlledRedis, controlled_redis
from tests.support import PASSWORD, wait_until

pytestmark = pytest.mark.redis

BOUND = 2.0  # seconds any answer may take, Redis frozen or not
FROZEN_FOR = 2.5  # seconds Redis stays frozen: longer than BOUND, so merely waiting for it out fails
DOWN_FOR = 1.0  # seconds Redis stays dead before it is started again
LINKS = 40
SIGN_INS = 4
# One client thread per gunicorn worker (WEB_CONCURRENCY in tests/deployment.py), so that no request
# waits in the listen queue behind another and the time an answer takes is the service's own.
CLIENT_THREADS = 2


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlledRedis]:
    with controlled_redis(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture(scope="module")
def deployment(server: ControlledRedis, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    with deploy(tmp_path_factory.mktemp("service"), server.url) as deployment:
        yield deployment


@pytest.fixture(scope="module")
def app_id(deployment: Deployment) -> str:
    app = deployment.create_app(acs_url="http://127.0.0.1:9/acs", entity_id="https://sp.faults.example/metadata")
    return app["id"]


@dataclass
class SignIn:
    """One sign-in's refresh token, as its client holds it: replaced after a 200, kept after anything else."""

    refresh_token: str


@dataclass
class Answer:
    what: str  # "launch" or "refresh"
    sign_in: SignIn | None
    started: float
    took: float
    status: int  # 0: no HTTP answer at all
    headers: dict[str, str]
    body: str

    def spans(self, moment: float | None) -> bool:
        return moment is not None and self.started < moment < self.started + self.took


@dataclass
class Traffic:
    """Launches and refreshes, alternately, from CLIENT_THREADS threads until stopped."""

    deployment: Deployment
    links: list[str]
    sign_ins: list[SignIn]
    answers: list[Answer] = field(default_factory=list)
    statuses_by_link: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    links_in_doubt: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self._unused_links: SimpleQueue[str] = SimpleQueue()
        for link in self.links:
            self._unused_links.put(link)
        self._idle_sign_ins: SimpleQueue[SignIn] = SimpleQueue()
        for sign_in in self.sign_ins:
            self._idle_sign_ins.put(sign_in)
        self.fault_at: float | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(CLIENT_THREADS)]

    def __enter__(self) -> Traffic:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def fault_strikes_now(self) -> None:
        """Called just before the signal that starts the fault."""
        self.fault_at = time.monotonic()

    def count(self) -> int:
        with self._lock:
            return len(self.answers)

    def _run(self) -> None:
        turn = 0
        while not self._stop.is_set():
            turn += 1
            if turn % 2:
                self._launch()
            else:
                self._refresh()

    def _timed(self, what: str, call: Callable[[], requests.Response], sign_in: SignIn | None = None) -> Answer:
        started = time.monotonic()
        try:
            response = call()
            status, headers, body = response.status_code, dict(response.headers), response.text
        except requests.RequestException as error:
            status, headers, body = 0, {}, repr(error)
        answer = Answer(what, sign_in, started, time.monotonic() - started, status, headers, body)
        with self._lock:
            self.answers.append(answer)
        return answer

    def _launch(self) -> None:
        try:
            link = self._unused_links.get_nowait()
        except Empty:
            return self._refresh()  # every link has been tried once
        answer = self._timed("launch", lambda: requests.get(link, allow_redirects=False, timeout=10))
        with self._lock:
            self.statuses_by_link[link].append(answer.status)
            if answer.status != 200 and answer.spans(self.fault_at):
                self.links_in_doubt.add(link)

    def _refresh(self) -> None:
        sign_in = self._idle_sign_ins.get()  # each sign-in is used by one thread at a time, as by one client
        try:
            answer = self._timed("refresh", lambda: refresh(self.deployment, sign_in.refresh_token), sign_in)
            if answer.status == 200:
                sign_in.refresh_token = answer_json(answer)["refresh_token"]
        finally:
            self._idle_sign_ins.put(sign_in)


def answer_json(answer: Answer) -> dict:
    return json.loads(answer.body)


def refresh(deployment: Deployment, refresh_token: str) -> requests.Response:
    body = {
        "grant_type": "refresh_token",
        "refresh_token": refresh_token,
        "client_id": deployment.client_id,
        "client_secret": deployment.client_secret,
    }
    return requests.post(f"{deployment.base_url}/oauth2/token", json=body, timeout=10)


def sign_in(deployment: Deployment) -> SignIn:
    body = {
        "grant_type": "password",
        "username": deployment.agent_email,
        "password": PASSWORD,
        "client_id": deployment.client_id,
        "client_secret": deployment.client_secret,
    }
    response = requests.post(f"{deployment.base_url}/oauth2/token", json=body, timeout=10)
    assert response.status_code == 200, response.text
    return SignIn(response.json()["refresh_token"])


def fresh_links(deployment: Deployment, app_id: str, count: int) -> list[str]:
    """Launch links for the agent, each minted by listing the apps, as the agent's client does."""
    headers = {"Authorization": f"Bearer {json_token(deployment, deployment.agent_email)}"}
    url = f"{deployment.base_url}/brands/{deployment.office}/sso_applications"
    links = []
    for _ in range(count):
        listed = requests.get(url, headers=headers, timeout=10).json()["data"]
        (app,) = [item for item in listed if item["id"] == app_id]
        links.append(app["open_url"])
    return links


def answering_again(deployment: Deployment) -> Callable[[], bool]:
    """True once a call that reads the store is answered."""
    headers = {"Authorization": f"Bearer {json_token(deployment, deployment.agent_email)}"}

    def check() -> bool:
        try:
            return requests.get(f"{deployment.base_url}/users/self", headers=headers, timeout=5).status_code == 200
        except requests.RequestException:
            return False

    return check


def assert_every_answer_clean(traffic: Traffic) -> None:
    for answer in traffic.answers:
        # A refresh refused with 400 would be a revoked sign-in, and a launch link is used once: never 400.
        assert answer.status in {200, 503}, (answer.what, answer.status, answer.body[:300])
        assert answer.took < BOUND, (answer.what, answer.status, answer.took)
        if answer.status == 503:
            assert int(answer.headers["Retry-After"]) >= 1
            if answer.what == "refresh":
                assert answer_json(answer)["code"] == "StoreUnavailable"
            else:
                assert answer.headers["Content-Type"].startswith("text/html")
                assert "SAMLResponse" not in answer.body


def assert_answers_in(traffic: Traffic, start: float, end: float, status: int) -> None:
    """Every answer to a request made wholly inside the window has `status`; and there were some."""
    inside = [answer for answer in traffic.answers if start < answer.started and answer.started + answer.took < end]
    assert inside, "no request was answered during the fault"
    assert {answer.status for answer in inside} == {status}


def launch_statuses_afterwards(traffic: Traffic) -> dict[str, list[int]]:
    """Every link opened twice more once the service answers again; each link's statuses over the whole test."""
    statuses = {link: list(traffic.statuses_by_link.get(link, [])) for link in traffic.links}
    for link, seen in statuses.items():
        for _ in range(2):
            seen.append(requests.get(link, allow_redirects=False, timeout=10).status_code)
    return statuses


def assert_each_sign_in_refreshes_exactly_once_more(deployment: Deployment, traffic: Traffic) -> None:
    for held in traffic.sign_ins:
        first = refresh(deployment, held.refresh_token)
        assert first.status_code == 200, first.text
        successor = json.loads(first.text)["refresh_token"]
        assert refresh(deployment, successor).status_code == 200
        assert refresh(deployment, held.refresh_token).status_code == 400  # its successor is spent: a reuse


def run_traffic_through(deployment: Deployment, app_id: str, fault: Callable[[Traffic], None]) -> Traffic:
    traffic = Traffic(
        deployment, fresh_links(deployment, app_id, LINKS), [sign_in(deployment) for _ in range(SIGN_INS)]
    )
    with traffic:
        wait_until(lambda: traffic.count() >= 6, timeout=10, what="traffic before the fault")
        fault(traffic)
        wait_until(answering_again(deployment), timeout=10, what="the service answering again")
        after = traffic.count()
        wait_until(lambda: traffic.count() >= after + 6, timeout=10, what="traffic after the fault")
    return traffic


def test_a_frozen_redis_costs_each_request_a_prompt_503_and_nothing_more(
    deployment: Deployment, app_id: str, server: ControlledRedis
) -> None:
    window: list[float] = []

    def freeze_for_a_while(traffic: Traffic) -> None:
        traffic.fault_strikes_now()
        server.freeze()
        window.append(time.monotonic())
        try:
            time.sleep(FROZEN_FOR)  # how long Redis stays frozen is the fault itself
        finally:
            window.append(time.monotonic())
            server.wake()

    traffic = run_traffic_through(deployment, app_id, freeze_for_a_while)

    assert_every_answer_clean(traffic)
    assert_answers_in(traffic, window[0], window[1], 503)
    statuses = launch_statuses_afterwards(traffic)
    for link, seen in statuses.items():
        assert seen.count(200) <= 1, seen
        if not traffic.statuses_by_link.get(link):
            assert seen.count(200) == 1, seen  # a link nobody tried during the fault works once
    assert_each_sign_in_refreshes_exactly_once_more(deployment, traffic)


def test_a_killed_and_restarted_redis_is_picked_up_and_loses_no_sign_in(
    deployment: Deployment, app_id: str, server: ControlledRedis
) -> None:
    window: list[float] = []

    def kill_then_restart(traffic: Traffic) -> None:
        traffic.fault_strikes_now()
        server.kill()
        window.append(time.monotonic())
        time.sleep(DOWN_FOR)  # how long Redis stays down is the fault itself
        window.append(time.monotonic())
        server.start()

    traffic = run_traffic_through(deployment, app_id, kill_then_restart)

    assert_every_answer_clean(traffic)
    assert_answers_in(traffic, window[0], window[1], 503)
    statuses = launch_statuses_afterwards(traffic)
    for link, seen in statuses.items():
        # A link refused while Redis was down was never claimed: it still has its one use.
        if link not in traffic.links_in_doubt:
            assert seen.count(200) == 1, seen
        assert seen.count(200) <= 1, seen
    assert_each_sign_in_refreshes_exactly_once_more(deployment, traffic)
