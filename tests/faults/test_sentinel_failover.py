"""A real Sentinel failing a master over to its replica: the backend and the Procfile's gunicorn follow the
new master by themselves, and a single-use value stays used across the failover.

Replication is asynchronous, so a master can acknowledge a claim its replica never received; if that
master then fails, the promoted replica has never heard of the claim.  The tests make that moment
on purpose (the replica frozen with SIGSTOP while the master takes the claim, then the master killed)
and show both sides: without waiting for a replica the used value is granted a second time; waiting
for one replica (the default on a Sentinel URL) the claim is refused at the time, and the value is
granted once in all.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator

import pytest
import requests

from idp.errors import StoreUnavailable
from idp.store.backend import Write
from idp.store.redis import RedisBackend
from tests.deployment import Deployment, deploy
from tests.faults.redis_process import SentinelGroup, sentinel_group
from tests.faults.test_service_under_redis_faults import (
    Answer,
    Traffic,
    fresh_links,
    refresh,
    run_traffic_through,
    sign_in,
)
from tests.support import wait_until

pytestmark = pytest.mark.redis

SOCKET_TIMEOUT = 0.5  # the default; WAIT gives up after half of it
KIND = "grant"
BOUND = 2.0  # seconds any answer may take during the failover


@pytest.fixture(scope="module")
def sentinels(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SentinelGroup]:
    with sentinel_group(tmp_path_factory.mktemp("sentinel")) as group:
        yield group


@pytest.fixture
def group(sentinels: SentinelGroup) -> SentinelGroup:
    """The module's Sentinel group, its master and replica in sync again after the last test's failover."""
    for server in sentinels.servers:
        if server.process is None or server.process.poll() is not None:
            server.start()
    sentinels.wait_healthy()
    return sentinels


@pytest.fixture
def open_backend(group: SentinelGroup) -> Iterator[Callable[[int], RedisBackend]]:
    prefix = f"test:{uuid.uuid4().hex}:"
    opened: list[RedisBackend] = []

    def open_(claim_replicas: int) -> RedisBackend:
        backend = RedisBackend(group.url, prefix=prefix, claim_replicas=claim_replicas)
        opened.append(backend)
        return backend

    yield open_
    for backend in opened:
        backend.close()


def eventually(call: Callable[[], bool]) -> bool:
    """The answer of `call` once the store answers it (a failover costs a few StoreUnavailable first)."""
    answers: list[bool] = []

    def answered() -> bool:
        try:
            answers.append(call())
        except StoreUnavailable:
            return False
        return True

    wait_until(answered, timeout=15, what="the store answering after the failover")
    return answers[-1]


def tries_until_answered(call: Callable[[], bool]) -> list[bool | None]:
    """What each try of `call` got, None for StoreUnavailable, until one is answered.

    A refused claim may still have been made (its WAIT timed out on a busy machine): a later try then
    finds it used.  That is the price of refusing rather than granting; a value is never granted twice."""
    tries: list[bool | None] = []

    def answered() -> bool:
        try:
            tries.append(call())
        except StoreUnavailable:
            tries.append(None)
            return False
        return True

    wait_until(answered, timeout=15, what="the store answering")
    return tries


def granted_at_most_once(tries: list[bool | None]) -> bool:
    """Refused tries, then one answer: granted, or found used only because a refused try had used it."""
    *refused, last = tries
    return all(outcome is None for outcome in refused) and (last is True or (last is False and bool(refused)))


def lose_the_masters_last_writes(group: SentinelGroup, writes: Callable[[], None]) -> None:
    """Make `writes` on the master while its replica is frozen and cut off, then kill the master and let the
    Sentinel promote the replica, which never received them."""
    master, replica = group.master(), group.replica()
    replica.freeze()
    try:
        # A frozen process's kernel still takes in what the master sends; the cut link takes in nothing more.
        with master.client() as client:
            client.client_kill_filter(_type="replica")
        writes()
    finally:
        master.kill()
        replica.wake()
    group.wait_promoted(replica.port)


def test_the_backend_follows_the_new_master_and_what_it_claimed_before_stays_claimed(
    group: SentinelGroup, open_backend: Callable[[int], RedisBackend]
) -> None:
    backend = open_backend(1)
    links = [f"link:{number}" for number in range(20)]
    assert all(backend.claim_once(link, ttl=60) for link in links)
    backend.put(KIND, "refresh-1", {"kind": "refresh"})
    assert backend.swap(KIND, "refresh-1", {"kind": "refresh"}, [Write(KIND, "refresh-1", {"kind": "rotated"})])
    old_master = group.master().port

    group.fail_over()

    assert group.master().port != old_master
    assert not any(eventually(lambda link=link: backend.claim_once(link, ttl=60)) for link in links)
    assert backend.get(KIND, "refresh-1") == {"kind": "rotated"}
    # The first swap on the new master, whose script cache is empty, is answered, not refused.
    assert backend.swap(KIND, "refresh-1", {"kind": "refresh"}, [Write(KIND, "refresh-1", {"kind": "x"})]) is False
    group.wait_healthy()  # the old master is now the new one's replica, so claims are acknowledged again
    # Fresh links are granted again (each refused try, if any, used its link up).
    fresh = iter(range(1000))
    assert eventually(lambda: backend.claim_once(f"link:after-{next(fresh)}", ttl=60))


def test_without_waiting_for_a_replica_a_claim_the_failover_lost_is_granted_again(
    group: SentinelGroup, open_backend: Callable[[int], RedisBackend]
) -> None:
    backend = open_backend(0)
    granted_before: list[bool] = []

    lose_the_masters_last_writes(group, lambda: granted_before.append(backend.claim_once("link:x", ttl=60)))

    assert granted_before == [True]
    # The hazard itself: the same launch link, used once, works a second time on the promoted replica.
    assert eventually(lambda: backend.claim_once("link:x", ttl=60)) is True


def test_waiting_for_a_replica_refuses_the_claim_a_failover_would_lose_so_it_is_granted_once_in_all(
    group: SentinelGroup, open_backend: Callable[[int], RedisBackend]
) -> None:
    backend = open_backend(1)
    backend.put(KIND, "refresh-1", {"kind": "refresh"})
    wait_until(lambda: group.replica().client().exists(f"{backend._prefix}d:{KIND}:refresh-1") == 1, what="sync")
    refused: list[str] = []

    def claim_and_rotate() -> None:
        started = time.monotonic()
        with pytest.raises(StoreUnavailable):
            backend.claim_once("link:x", ttl=60)
        with pytest.raises(StoreUnavailable):
            backend.swap(KIND, "refresh-1", {"kind": "refresh"}, [Write(KIND, "refresh-1", {"kind": "rotated"})])
        # Refused promptly: each waited out its WAIT (half the socket timeout, twice for a swap that finds
        # its script missing), not the socket timeout.
        assert time.monotonic() - started < 2 * SOCKET_TIMEOUT + 0.5
        refused.append("both")

    lose_the_masters_last_writes(group, claim_and_rotate)
    assert refused == ["both"]
    # The promoted master has no replica until the old one is back: claims are refused, not granted, meanwhile.
    with pytest.raises(StoreUnavailable):
        backend.claim_once("link:y", ttl=60)
    # The killed master comes back without the claim it took, as the new master's replica.  Were it to
    # come back with its own data, a second failover (on a loaded machine the Sentinel may find the new
    # master slow to answer and promote again) could choose it, and the lost claim would be back: the
    # value found used, never granted twice, but not granted once either.
    group.replica().start_afresh_as_replica_of(group.master())
    group.wait_healthy()

    # Neither the claim nor the rotation was granted before, so each is granted now, once (unless a try
    # is refused again, which uses it up), and never twice.
    claims = tries_until_answered(lambda: backend.claim_once("link:x", ttl=60))
    assert granted_at_most_once(claims), claims
    assert backend.claim_once("link:x", ttl=60) is False
    rotate = [Write(KIND, "refresh-1", {"kind": "rotated"})]
    swaps = tries_until_answered(lambda: backend.swap(KIND, "refresh-1", {"kind": "refresh"}, rotate))
    assert granted_at_most_once(swaps), swaps
    assert backend.swap(KIND, "refresh-1", {"kind": "refresh"}, rotate) is False


@pytest.fixture
def writes_refused_without_a_replica(group: SentinelGroup) -> Iterator[None]:
    """min-replicas-to-write 1 on both servers, as the README advises: a master with no replica in sync
    refuses writes before making them, so a refresh it refuses leaves the token as it was."""

    def require(replicas: int) -> None:
        for server in group.servers:
            with server.client() as client:
                client.config_set("min-replicas-to-write", replicas)

    require(1)
    yield
    require(0)


@pytest.fixture
def deployment(group: SentinelGroup, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    with deploy(tmp_path_factory.mktemp("service"), group.url) as deployment:
        yield deployment


@pytest.mark.usefixtures("writes_refused_without_a_replica")
def test_launches_and_refreshes_carry_on_across_a_failover_and_no_link_works_twice(
    group: SentinelGroup, deployment: Deployment
) -> None:
    app_id = deployment.create_app(acs_url="http://127.0.0.1:9/acs", entity_id="https://sp.sentinel.example/metadata")[
        "id"
    ]
    window: list[float] = []

    def fail_over(traffic: Traffic) -> None:
        traffic.fault_strikes_now()
        window.append(time.monotonic())
        group.fail_over()
        group.wait_healthy()  # until the old master serves as the new one's replica, claims are refused
        window.append(time.monotonic())

    traffic = run_traffic_through(deployment, app_id, fail_over)

    def during_the_failover(answer: Answer) -> bool:
        return answer.started < window[1] and answer.started + answer.took > window[0]

    # A refresh refused during the failover may have been applied all the same, on a master that lost it
    # or on one that kept it: its sign-in's next refresh may be a reuse, which ends the sign-in.
    for answer in traffic.answers:
        if answer.sign_in is not None and answer.status != 200 and during_the_failover(answer):
            answer.sign_in.in_doubt = True
    for answer in traffic.answers:
        assert answer.took < BOUND, (answer.what, answer.status, answer.took)
        if answer.what == "launch":
            assert answer.status in (200, 503), (answer.status, answer.body[:300])
        else:
            assert answer.status in ((200, 400, 503) if answer.sign_in.in_doubt else (200, 503)), answer.body[:300]
        if answer.status == 503:
            assert during_the_failover(answer), (answer.what, answer.body[:300])  # refused only while it lasted
            assert "SAMLResponse" not in answer.body
    for link in traffic.links:
        seen = traffic.statuses_by_link.get(link, [])
        seen += [requests.get(link, allow_redirects=False, timeout=10).status_code for _ in range(2)]
        assert seen.count(200) <= 1, seen  # no launch link works twice
        if not traffic.statuses_by_link.get(link):
            assert seen.count(200) == 1, seen  # a link nobody tried before works once, after the failover
    for held in traffic.sign_ins:
        again = [refresh(deployment, held.refresh_token) for _ in range(2)]
        successors = {answer.json()["refresh_token"] for answer in again if answer.status_code == 200}
        assert len(successors) <= 1, successors  # a refresh token is never exchanged for two pairs
        if not held.in_doubt:
            # Every rotation answered 200 survived the failover: the token works, and presented again
            # (within the reuse interval) it gets the same successor; once that is used, it is spent.
            assert [answer.status_code for answer in again] == [200, 200], [answer.text for answer in again]
            assert refresh(deployment, successors.pop()).status_code == 200
            assert refresh(deployment, held.refresh_token).status_code == 400

    # The service carries on: new sign-ins and new links work, each link once.
    assert refresh(deployment, sign_in(deployment).refresh_token).status_code == 200
    for link in fresh_links(deployment, app_id, 3):
        assert [requests.get(link, allow_redirects=False, timeout=10).status_code for _ in range(2)] == [200, 400]
