"""What the contract suite cannot see on a three-master Redis Cluster: where the keys go, and claims that
wait for replicas the cluster does not have."""

from __future__ import annotations

import time
import uuid
from collections import defaultdict
from collections.abc import Iterator

import pytest
import redis

from idp.errors import StoreUnavailable
from idp.store.backend import Write
from idp.store.redis import RedisBackend
from tests.support import free_port

pytestmark = pytest.mark.redis

# Twelve kinds: the chance that all land on one of three masters (3 / 3**12) is negligible.
KINDS = ["brand", "user", "membership", "client", "app", "icon", "grant", "email-codes", "session"]
KINDS += ["sp-request", "sign-in", "pending"]


@pytest.fixture
def prefix() -> str:
    return f"test:{uuid.uuid4().hex}:"


@pytest.fixture
def backend(redis_cluster_url: str, prefix: str) -> Iterator[RedisBackend]:
    backend = RedisBackend(redis_cluster_url, prefix=prefix, claim_replicas=0)
    yield backend
    backend.close()


def masters(url: str) -> list[redis.Redis]:
    nodes = (node.split(":") for node in url.removeprefix("redis+cluster://").split(","))
    return [redis.Redis(host=host, port=int(port), decode_responses=True) for host, port in nodes]


def test_each_kind_keeps_to_one_slot_while_the_keys_spread_over_every_master(
    backend: RedisBackend, redis_cluster_url: str, prefix: str
) -> None:
    for kind in KINDS:
        for number in range(3):
            key = f"{kind}-{number}"
            backend.put(kind, key, {"n": number}, index={"owner": [f"o{number % 2}"]}, unique={"name": key})
        backend.swap(kind, f"{kind}-0", {}, [Write(kind, f"{kind}-0", {"n": 0, "state": "spent"})])
    for number in range(60):
        backend.claim_once(f"link:{number}", ttl=60)
        backend.record_event(f"login:{number}", time.time(), window=60)

    slots_by_kind: dict[str, set[int]] = defaultdict(set)
    masters_holding: dict[str, set[int]] = defaultdict(set)
    for number, master in enumerate(masters(redis_cluster_url)):
        with master:
            for name in master.scan_iter(match=f"*{prefix}*", count=1000):
                if name.startswith("{"):
                    kind = name[1 : name.index("}")].removeprefix(prefix)
                    slots_by_kind[kind].add(int(master.cluster("KEYSLOT", name)))
                    masters_holding[kind].add(number)
                else:
                    masters_holding[name.removeprefix(prefix).split(":")[0]].add(number)

    # Every document, index and unique entry of a kind is in the kind's one slot: atomic writes stay on one node.
    assert set(slots_by_kind) == set(KINDS)
    assert all(len(slots) == 1 for slots in slots_by_kind.values()), slots_by_kind
    # The kinds are not all on one master, and claims and event windows spread over all three.
    assert len({master for kind in KINDS for master in masters_holding[kind]}) > 1
    assert masters_holding["c"] == masters_holding["t"] == {0, 1, 2}


def test_a_claim_waiting_for_a_replica_the_cluster_lacks_is_refused_not_granted(
    redis_cluster_url: str, prefix: str
) -> None:
    backend = RedisBackend(redis_cluster_url, prefix=prefix, claim_replicas=1, socket_timeout=0.2)
    try:
        backend.put("grant", "old", {"kind": "refresh"})
        started = time.monotonic()
        with pytest.raises(StoreUnavailable):
            backend.claim_once("link:n1", ttl=60)
        with pytest.raises(StoreUnavailable):
            backend.swap("grant", "old", {"kind": "refresh"}, [Write("grant", "old", {"kind": "rotated"})])
        took = time.monotonic() - started
    finally:
        backend.close()

    assert took < 2 * 0.2 + 0.2  # each waited its WAIT timeout (half the socket timeout), no longer


def test_a_cluster_out_of_reach_when_the_backend_is_made_costs_store_unavailable_not_a_crash() -> None:
    backend = RedisBackend(f"redis+cluster://127.0.0.1:{free_port()}", prefix="test:")  # nothing listens there
    try:
        with pytest.raises(StoreUnavailable):
            backend.get("user", "u1")
        with pytest.raises(StoreUnavailable):
            backend.claim_once("link:n1", ttl=60)
    finally:
        backend.close()
