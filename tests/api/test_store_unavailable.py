"""What a request gets when the store cannot answer (here a SQLite file another process holds locked):
a prompt 503 with Retry-After, as JSON for the API and as a page for a browser."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.api.helpers import Org, page_text, saml_app
from tests.api.test_tokens import refresh_body
from tests.support import write_lock_held

BUSY_TIMEOUT = 0.2


@pytest.fixture
def user(make):
    return make.user(brand=make.brand(), role="Agent")


@pytest.fixture(autouse=True)
def database(env: dict[str, str]) -> Path:
    """The service's file, with a short wait for a lock (set before the service is built)."""
    env["IDP_SQLITE_BUSY_TIMEOUT"] = str(BUSY_TIMEOUT)
    return Path(env["IDP_DATABASE"])


def assert_unavailable(response) -> None:
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) >= 1


def test_a_locked_store_answers_the_api_503_with_retry_after_and_the_error_body(client, api, user, database):
    refresh_token = api.token(user)["refresh_token"]

    with write_lock_held(database):
        started = time.monotonic()
        response = client.post("/oauth2/token", json=refresh_body(api, refresh_token))
        took = time.monotonic() - started

    assert_unavailable(response)
    assert response.json == {"http": 503, "message": response.json["message"], "code": "StoreUnavailable"}
    assert took < BUSY_TIMEOUT + 1.0


def test_a_refresh_refused_by_a_locked_store_works_once_when_the_lock_is_gone(client, api, user, database):
    refresh_token = api.token(user)["refresh_token"]
    with write_lock_held(database):
        assert_unavailable(client.post("/oauth2/token", json=refresh_body(api, refresh_token)))

    exchanged = client.post("/oauth2/token", json=refresh_body(api, refresh_token))
    assert exchanged.status_code == 200
    assert client.post("/oauth2/token", json=refresh_body(api, exchanged.json["refresh_token"])).status_code == 200
    assert client.post("/oauth2/token", json=refresh_body(api, refresh_token)).status_code == 400


def test_a_locked_store_answers_a_launch_with_a_page_and_the_link_still_works_afterwards(
    apps, client, org: Org, database
):
    created = apps.created(org.admin, org.brand, saml_app())
    (listed,) = [item for item in apps.listed(org.agent, org.brand) if item["id"] == created["id"]]

    with write_lock_held(database):
        refused = client.get(listed["open_url"])

    assert_unavailable(refused)
    assert refused.mimetype == "text/html"
    assert "briefly unavailable" in page_text(refused.text)
    assert "SAMLResponse" not in refused.text
    # Nothing was claimed while the file was locked, so the link has its one use left.
    assert client.get(listed["open_url"]).status_code == 200
    assert client.get(listed["open_url"]).status_code == 400
