"""The Redis backend against a real redis-server that freezes (SIGSTOP), wakes, dies and comes back."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from idp.config import Settings
from idp.errors import StoreUnavailable
from idp.store import open_store
from idp.store.backend import Write
from idp.store.redis import RedisBackend
from tests.faults.redis_process import ControlledRedis, controlled_redis
from tests.support import wait_until

pytestmark = pytest.mark.redis

KIND = "thing"
SOCKET_TIMEOUT = 0.5  # the default
PROMPTLY = 2 * SOCKET_TIMEOUT + 0.2


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ControlledRedis]:
    with controlled_redis(tmp_path) as server:
        yield server


@pytest.fixture
def backend(server: ControlledRedis) -> Iterator[RedisBackend]:
    backend = RedisBackend(server.url, prefix=f"test:{uuid.uuid4().hex}:")
    yield backend
    backend.close()


def operations(backend: RedisBackend) -> dict[str, Callable[[], object]]:
    """One call of every backend operation, on data `seed` wrote."""
    return {
        "get": lambda: backend.get(KIND, "k1"),
        "get_many": lambda: backend.get_many(KIND, ["k1", "k2"]),
        "put": lambda: backend.put(KIND, "k2", {"n": 2}, index={"tag": ["x"]}),
        "put with a unique value": lambda: backend.put(KIND, "k3", {"n": 3}, unique={"email": "c@example.com"}),
        "delete": lambda: backend.delete(KIND, "k2"),
        "find": lambda: backend.find(KIND, "tag", "x"),
        "find_unique": lambda: backend.find_unique(KIND, "email", "a@example.com"),
        "swap": lambda: backend.swap(KIND, "k1", {"state": "none"}, [Write(KIND, "k4", {"n": 4})]),
        "claim_once": lambda: backend.claim_once(f"nonce-{uuid.uuid4()}", ttl=60),
        "record_event": lambda: backend.record_event("login:ann", time.time(), window=60),
        "events_since": lambda: backend.events_since("login:ann", 0),
        "clear_events": lambda: backend.clear_events("login:bob"),
    }


READS = {"get", "get_many", "find", "find_unique", "events_since"}


def seed(backend: RedisBackend) -> None:
    backend.put(KIND, "k1", {"n": 1, "state": "fresh"}, index={"tag": ["x"]}, unique={"email": "a@example.com"})


def outcome_and_time(call: Callable[[], object]) -> tuple[str, float]:
    started = time.monotonic()
    try:
        call()
    except StoreUnavailable:
        return "unavailable", time.monotonic() - started
    return "answered", time.monotonic() - started


def run_all_at_once(backend: RedisBackend) -> dict[str, tuple[str, float]]:
    calls = operations(backend)
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        results = pool.map(outcome_and_time, calls.values())
        return dict(zip(calls, results, strict=True))


def test_every_operation_on_a_frozen_redis_raises_store_unavailable_promptly(
    server: ControlledRedis, backend: RedisBackend
) -> None:
    seed(backend)
    run_all_at_once(backend)  # every thread holds a pooled connection from now on

    server.freeze()
    try:
        frozen = run_all_at_once(backend)
    finally:
        server.wake()

    assert {name: outcome for name, (outcome, _) in frozen.items()} == dict.fromkeys(frozen, "unavailable")
    slow = {name: took for name, (_, took) in frozen.items() if took > PROMPTLY}
    assert not slow, f"held longer than {PROMPTLY}s: {slow}"


def test_after_a_freeze_the_same_backend_answers_again(server: ControlledRedis, backend: RedisBackend) -> None:
    seed(backend)
    server.freeze()
    with pytest.raises(StoreUnavailable):
        backend.get(KIND, "k1")

    server.wake()

    answered = run_all_at_once(backend)
    assert {name: outcome for name, (outcome, _) in answered.items()} == dict.fromkeys(answered, "answered")
    assert backend.get(KIND, "k1") is not None


def test_a_dead_redis_raises_store_unavailable_at_once(server: ControlledRedis, backend: RedisBackend) -> None:
    seed(backend)

    server.kill()

    down = run_all_at_once(backend)
    assert {name: outcome for name, (outcome, _) in down.items()} == dict.fromkeys(down, "unavailable")
    assert max(took for _, took in down.values()) < PROMPTLY


def test_a_restarted_redis_is_picked_up_by_the_next_call(server: ControlledRedis, backend: RedisBackend) -> None:
    seed(backend)
    run_all_at_once(backend)  # pooled connections to the server about to die

    server.kill()
    server.start()

    # Not one call fails: the pool replaces a connection the old server closed before using it.
    answered = run_all_at_once(backend)
    assert {name: outcome for name, (outcome, _) in answered.items()} == dict.fromkeys(answered, "answered")
    assert backend.get(KIND, "k1") == {"n": 1, "state": "fresh"}


def test_a_swap_the_client_gave_up_on_does_nothing_when_the_frozen_redis_wakes(
    server: ControlledRedis, backend: RedisBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend.put(KIND, "old", {"state": "fresh"}, index={"family": ["f"]})
    assert backend.swap(KIND, "absent", {}, []) is False  # the script is known to the server from now on
    runs_before = server.calls_of("evalsha")
    # The freeze comes exactly between the swap's TIME and its script: the script is sent, and waits.
    real_time = backend._redis.time

    def time_then_freeze() -> object:
        answer = real_time()
        server.freeze()
        return answer

    monkeypatch.setattr(backend._redis, "time", time_then_freeze)

    with pytest.raises(StoreUnavailable):
        backend.swap(
            KIND,
            "old",
            {"state": "fresh"},
            [Write(KIND, "old", {"state": "rotated"}, index={"family": ["f"]}), Write(KIND, "new", {"state": "fresh"})],
        )
    server.wake()
    wait_until(lambda: server.calls_of("evalsha") > runs_before, timeout=5, what="the late script to run")

    assert backend.get(KIND, "old") == {"state": "fresh"}
    assert backend.get(KIND, "new") is None
    assert backend.find(KIND, "family", "f") == ["old"]


def test_a_freeze_in_the_middle_of_a_watched_write_raises_store_unavailable_promptly(
    server: ControlledRedis, backend: RedisBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(backend)
    # The freeze comes right after the write's WATCH.  redis-py then drops the connection and sends UNWATCH
    # over a fresh one, which times out too: two timeouts, and the write must not spend a third on its way out.
    real_pipeline = backend._redis.pipeline

    def pipeline_freezing_after_watch(*args: object, **kwargs: object) -> object:
        pipe = real_pipeline(*args, **kwargs)  # type: ignore[arg-type]
        real_watch = pipe.watch

        def watch_then_freeze(*names: str) -> None:
            real_watch(*names)
            server.freeze()

        pipe.watch = watch_then_freeze  # type: ignore[method-assign]
        return pipe

    monkeypatch.setattr(backend._redis, "pipeline", pipeline_freezing_after_watch)

    with ThreadPoolExecutor(max_workers=1) as pool:
        attempt = pool.submit(outcome_and_time, lambda: backend.put(KIND, "k1", {"n": 2}))
        try:
            outcome, took = attempt.result(timeout=5)
        finally:
            server.wake()

    assert outcome == "unavailable"
    assert took < 2 * SOCKET_TIMEOUT + 0.25


def test_the_configured_socket_timeout_is_the_one_a_frozen_redis_costs(server: ControlledRedis, tmp_path: Path) -> None:
    settings = Settings.from_env(
        {"REDIS_URL": server.url, "IDP_REDIS_PREFIX": f"test:{uuid.uuid4().hex}:", "IDP_REDIS_SOCKET_TIMEOUT": "0.2"}
    )
    store = open_store(settings)
    try:
        store.brand("any")  # connected
        server.freeze()
        try:
            started = time.monotonic()
            with pytest.raises(StoreUnavailable):
                store.brand("any")
            took = time.monotonic() - started
        finally:
            server.wake()
    finally:
        store.close()

    assert 0.15 < took < 0.45


def test_a_master_short_of_replicas_refuses_every_write_as_unavailable_and_writes_nothing(
    server: ControlledRedis, backend: RedisBackend
) -> None:
    seed(backend)
    with server.client() as client:
        client.config_set("min-replicas-to-write", 1)  # and this server has none
    try:
        writes = {name: call for name, call in operations(backend).items() if name not in READS}
        writes["swap"] = lambda: backend.swap(KIND, "k1", {"state": "fresh"}, [Write(KIND, "k4", {"n": 4})])
        refused = {name: outcome_and_time(call)[0] for name, call in writes.items()}
    finally:
        with server.client() as client:
            client.config_set("min-replicas-to-write", 0)

    assert refused == dict.fromkeys(writes, "unavailable")
    assert backend.get(KIND, "k1") == {"n": 1, "state": "fresh"}
    assert backend.get(KIND, "k2") is None and backend.get(KIND, "k4") is None
    assert backend.find(KIND, "tag", "x") == ["k1"]
    assert backend.find_unique(KIND, "email", "c@example.com") is None
    assert backend.events_since("login:ann", 0) == []
