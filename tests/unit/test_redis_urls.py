"""REDIS_URL in each documented form: one server, the Sentinels of a master set, a cluster's nodes."""

from __future__ import annotations

import pytest

from idp.config import RedisAddress, Settings, parse_redis_url
from idp.errors import ConfigurationError


@pytest.mark.parametrize(
    "url", ["redis://127.0.0.1:6379/0", "rediss://:secret@redis.example:6380/2", "unix:///run/redis.sock?db=1"]
)
def test_a_single_server_url_is_handed_on_as_given(url: str) -> None:
    assert parse_redis_url(url) == RedisAddress(mode="single", url=url)


def test_a_sentinel_url_names_the_sentinels_the_master_set_the_password_and_the_database() -> None:
    url = "redis+sentinel://:s%40cret@10.0.0.1:26379,10.0.0.2:26380,[::1]:26381/idp-main/3?sentinel_password=watch"

    address = parse_redis_url(url)

    assert address.mode == "sentinel"
    assert address.nodes == (("10.0.0.1", 26379), ("10.0.0.2", 26380), ("::1", 26381))
    assert address.master_set == "idp-main"
    assert (address.username, address.password, address.db) == (None, "s@cret", 3)
    assert address.sentinel_password == "watch"


def test_a_sentinel_url_without_a_database_uses_database_0_and_may_name_a_user() -> None:
    address = parse_redis_url("redis+sentinel://idp:pw@127.0.0.1:26379/idp-main")

    assert (address.username, address.password, address.db, address.sentinel_password) == ("idp", "pw", 0, None)


def test_a_cluster_url_names_its_startup_nodes() -> None:
    address = parse_redis_url("redis+cluster://:pw@10.0.0.1:7000,10.0.0.2:7001")

    assert address.mode == "cluster"
    assert address.nodes == (("10.0.0.1", 7000), ("10.0.0.2", 7001))
    assert address.password == "pw"


@pytest.mark.parametrize(
    "url",
    [
        "memcached://127.0.0.1:11211",
        "redis+sentinel://127.0.0.1:26379",  # no master set
        "redis+sentinel://127.0.0.1:26379/idp/db-two",
        "redis+sentinel://127.0.0.1/idp",  # no port
        "redis+sentinel://127.0.0.1:26379/idp?password=x",
        "redis+cluster://127.0.0.1:7000/1",  # a cluster has only database 0
        "redis+cluster://127.0.0.1:7000,127.0.0.1:99999",
    ],
)
def test_any_other_form_is_refused_naming_the_variable(url: str) -> None:
    with pytest.raises(ConfigurationError, match="REDIS_URL"):
        Settings.from_env({"REDIS_URL": url})


@pytest.mark.parametrize(
    ("url", "replicas"),
    [
        (None, 0),
        ("redis://127.0.0.1:6379/0", 0),
        ("redis+sentinel://127.0.0.1:26379/idp", 1),
        ("redis+cluster://127.0.0.1:7000", 1),
    ],
)
def test_claims_wait_for_one_replica_by_default_wherever_a_replica_can_be_promoted(
    url: str | None, replicas: int
) -> None:
    assert Settings.from_env({"REDIS_URL": url} if url else {}).redis_claim_replicas == replicas


def test_the_replicas_a_claim_waits_for_can_be_set_and_zero_turns_waiting_off() -> None:
    sentinel = "redis+sentinel://127.0.0.1:26379/idp"

    assert Settings.from_env({"REDIS_URL": sentinel, "IDP_REDIS_CLAIM_REPLICAS": "0"}).redis_claim_replicas == 0
    assert Settings.from_env({"REDIS_URL": sentinel, "IDP_REDIS_CLAIM_REPLICAS": "2"}).redis_claim_replicas == 2
    with pytest.raises(ConfigurationError, match="IDP_REDIS_CLAIM_REPLICAS"):
        Settings.from_env({"REDIS_URL": sentinel, "IDP_REDIS_CLAIM_REPLICAS": "-1"})
