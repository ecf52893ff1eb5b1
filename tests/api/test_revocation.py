"""Disabling or deleting a user takes effect at once, everywhere, on SQLite and on a real redis-server.

An access token, a refresh token, an IdP session, a pending email code and a launch link, all made
a moment before, stop working the instant the admin's call returns; enabling the user again brings
none of them back.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import pytest

from idp.models import Brand, User
from tests.api.helpers import BACKENDS, Apps, on_backend, saml_app
from tests.api.mfa_helpers import Mfa, Pair
from tests.api.people_helpers import As, browser_sign_in, is_signed_in, person


@pytest.fixture(params=BACKENDS)
def env(request: pytest.FixtureRequest, env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    return on_backend(request, {**env, "IDP_OUTBOX": str(tmp_path / "outbox")})


@dataclass
class Held:
    """Everything a user holds a moment before an admin acts."""

    pair: Pair
    browser: object
    open_url: str


@pytest.fixture
def brand(make) -> Brand:
    return make.brand("Acme Realty")


@pytest.fixture
def admin(make, brand) -> User:
    return person(make, brand, "Admin", "Ann", "Admin")


@pytest.fixture
def agent(make, store, brand) -> User:
    agent = person(make, brand, "Agent", "Ada", "Agent")
    store.save_user(dataclasses.replace(agent, email_2fa_enabled=True))
    return store.user(agent.id)


@pytest.fixture
def held(app, client, api, store, brand, admin, agent) -> Held:
    apps = Apps(client, api)
    apps.created(admin, brand, saml_app())
    pair = Mfa(client, api).pair(agent)
    (listed,) = client.get(f"/brands/{brand.id}/sso_applications", headers=pair.headers).json["data"]
    browser = browser_sign_in(app, agent.email)
    assert client.post("/users/2fa/send-email-code", json={"emailOrUsername": agent.email}).status_code == 200
    # Each works, a moment before the admin acts.
    assert client.get("/users/self", headers=pair.headers).status_code == 200
    assert is_signed_in(browser)
    assert store.email_codes(agent.id)
    return Held(pair, browser, listed["open_url"])


def refresh(client, api, pair: Pair):
    return client.post(
        "/oauth2/token",
        json={
            "grant_type": "refresh_token",
            "refresh_token": pair.refresh_token,
            "client_id": api.oauth_client.client.id,
            "client_secret": api.oauth_client.secret,
        },
    )


def assert_all_revoked(client, api, store, agent: User, held: Held) -> None:
    assert client.get("/users/self", headers=held.pair.headers).status_code == 401
    refreshed = refresh(client, api, held.pair)
    assert refreshed.status_code == 400 and refreshed.json["error"] == "invalid_grant"
    assert not is_signed_in(held.browser)
    assert client.get(held.open_url).status_code == 403
    assert store.email_codes(agent.id) == []
    assert store.grants_by("user", agent.id) == {}
    assert store.sessions_of(agent.id) == []


@pytest.mark.parametrize("action", ["disable", "delete"])
def test_everything_the_user_held_fails_at_once(client, api, store, admin, agent, held, action) -> None:
    as_ = As(client, api)
    method, path = ("POST", f"/users/{agent.id}/disable") if action == "disable" else ("DELETE", f"/users/{agent.id}")
    assert as_.call(admin, method, path).status_code in (200, 204)
    assert_all_revoked(client, api, store, agent, held)


def test_enabling_again_brings_nothing_back(client, api, store, brand, admin, agent, held) -> None:
    as_ = As(client, api)
    assert as_.call(admin, "POST", f"/users/{agent.id}/disable").status_code == 200
    assert as_.call(admin, "POST", f"/users/{agent.id}/enable").status_code == 200
    # The launch link was minted before the revocation: refused even though the user is active again.
    assert_all_revoked(client, api, store, agent, held)
    # A new sign-in works, and so does a link minted after enabling (within the second of the revocation).
    fresh = Mfa(client, api).pair(agent)
    assert client.get("/users/self", headers=fresh.headers).status_code == 200
    (listed,) = client.get(f"/brands/{brand.id}/sso_applications", headers=fresh.headers).json["data"]
    assert client.get(listed["open_url"]).status_code == 200
