"""A refresh cut off by a real redis-server freezing at its rotation: 503, and the old token still works once."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.redis_process import ControlledRedis, controlled_redis
from tests.support import wait_until

pytestmark = pytest.mark.redis


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ControlledRedis]:
    with controlled_redis(tmp_path) as server:
        yield server


@pytest.fixture
def env(env: dict[str, str], server: ControlledRedis) -> dict[str, str]:
    """The service of tests/conftest.py, on the test's own Redis."""
    return {**env, "REDIS_URL": server.url, "IDP_REDIS_PREFIX": f"test:{uuid.uuid4().hex}:"}


def refresh(client, api, refresh_token: str):
    credentials = {"client_id": api.oauth_client.client.id, "client_secret": api.oauth_client.secret}
    return client.post(
        "/oauth2/token", json={"grant_type": "refresh_token", "refresh_token": refresh_token, **credentials}
    )


def test_a_refresh_cut_off_by_a_freeze_at_its_rotation_leaves_the_old_token_working_once(
    client, api, make, store, server: ControlledRedis, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = make.user(brand=make.brand())
    signed_in = api.token(user)
    second = refresh(client, api, signed_in["refresh_token"]).json  # the rotation script is on the server now
    runs_before = server.calls_of("evalsha")
    # Freeze exactly when the rotation has read the server's clock: its script is sent to a frozen server.
    redis_client = store.backend._redis
    real_time = redis_client.time

    def time_then_freeze() -> object:
        answer = real_time()
        server.freeze()
        return answer

    monkeypatch.setattr(redis_client, "time", time_then_freeze)

    cut_off = refresh(client, api, second["refresh_token"])

    monkeypatch.undo()
    server.wake()
    assert cut_off.status_code == 503, cut_off.json
    assert cut_off.json["code"] == "StoreUnavailable"
    assert cut_off.headers["Retry-After"] == "1"
    # The script the server got while frozen has run by now, and found itself too late to write.
    wait_until(lambda: server.calls_of("evalsha") > runs_before, timeout=5, what="the late rotation script")
    retried = refresh(client, api, second["refresh_token"])
    assert retried.status_code == 200, retried.json
    me = client.get("/users/self", headers={"Authorization": f"Bearer {retried.json['access_token']}"})
    assert me.status_code == 200
    assert refresh(client, api, retried.json["refresh_token"]).status_code == 200
    assert refresh(client, api, second["refresh_token"]).status_code == 400
