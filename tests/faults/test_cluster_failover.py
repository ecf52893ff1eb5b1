"""A real Redis Cluster of three masters with a replica each losing a master (SIGKILL): the backend follows
the promoted replica by itself, and what it claimed before, acknowledged by the replica, stays claimed."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from idp.errors import StoreUnavailable
from idp.store.backend import Write
from idp.store.redis import RedisBackend
from tests.faults.redis_process import RunningCluster, redis_cluster
from tests.faults.test_sentinel_failover import eventually
from tests.support import wait_until

pytestmark = pytest.mark.redis

KINDS = ["brand", "user", "membership", "client", "app", "grant", "session", "sp-request"]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCluster]:
    with redis_cluster(tmp_path_factory.mktemp("cluster"), masters=3, replicas=1) as cluster:
        yield cluster


@pytest.fixture
def backend(cluster: RunningCluster) -> Iterator[RedisBackend]:
    backend = RedisBackend(cluster.url, prefix=f"test:{uuid.uuid4().hex}:", claim_replicas=1)
    yield backend
    backend.close()


def master_of(cluster: RunningCluster, key: str) -> int:
    with cluster.node(cluster.alive()[0]) as node:
        slot = int(node.cluster("KEYSLOT", key))
        for start, end, (_, port, *_) in ((s[0], s[1], s[2]) for s in node.execute_command("CLUSTER", "SLOTS")):
            if start <= slot <= end:
                return int(port)
    raise AssertionError(f"no master serves {key}")


def test_after_a_master_fails_the_backend_follows_its_replica_and_every_claim_stays_claimed(
    cluster: RunningCluster, backend: RedisBackend
) -> None:
    prefix = backend._prefix
    links = [f"link:{number}" for number in range(30)]
    # Each claim waited for a replica's acknowledgement (WAIT 1), and got it.
    assert all(backend.claim_once(link, ttl=60) for link in links)
    for kind in KINDS:
        backend.put(kind, "k1", {"kind": "refresh"}, index={"owner": ["o1"]}, unique={"name": f"{kind}-1"})
    backend.put("grant", "r1", {"kind": "refresh"})
    assert backend.swap("grant", "r1", {"kind": "refresh"}, [Write("grant", "r1", {"kind": "rotated"})])
    # Documents are not waited for, but a claim acknowledged after them on the same master covers them too
    # (a replica takes its master's writes in order): claims on every master make the test independent of timing.
    assert all(backend.claim_once(f"fence-{number}", ttl=60) for number in range(60))
    victim = master_of(cluster, f"{prefix}c:{links[0]}")

    cluster.kill(victim)
    wait_until(
        lambda: cluster.state_ok() and len(cluster.masters()) == 3 and victim not in cluster.masters(),
        timeout=30,
        what="the cluster to promote the failed master's replica",
    )

    assert not any(eventually(lambda link=link: backend.claim_once(link, ttl=60)) for link in links)
    for kind in KINDS:
        assert eventually(lambda kind=kind: backend.get(kind, "k1") is not None)
        assert backend.find(kind, "owner", "o1") == ["k1"]
        assert backend.find_unique(kind, "name", f"{kind}-1") == "k1"
    assert backend.get("grant", "r1") == {"kind": "rotated"}
    assert backend.swap("grant", "r1", {"kind": "refresh"}, [Write("grant", "r1", {"kind": "x"})]) is False

    # The promoted master has no replica of its own now: its new claims are refused, not granted,
    # while the other masters, replicas and all, grant theirs.
    promoted = master_of(cluster, f"{prefix}c:{links[0]}")
    assert promoted != victim
    fresh = {master_of(cluster, f"{prefix}c:new-{number}"): f"new-{number}" for number in range(60)}
    assert set(fresh) == set(cluster.masters())
    for port, key in fresh.items():
        if port == promoted:
            with pytest.raises(StoreUnavailable):
                backend.claim_once(key, ttl=60)
        else:
            assert backend.claim_once(key, ttl=60) is True
