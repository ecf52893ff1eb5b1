"""POST /oauth2/token: the password and refresh_token grants, and their RFC 6749 errors."""

from __future__ import annotations

import base64
import time
from urllib.parse import quote_plus, urlencode

import pytest

from idp.accounts.secrets import token_hash
from idp.models import Client
from tests.support import PASSWORD

TOKEN_KEYS = {"access_token", "refresh_token", "expires_in", "code", "data", "token_type"}


@pytest.fixture
def env(env, request):
    """The service's environment; a test parametrized indirectly on `env` sets the refresh reuse interval."""
    reuse_interval = getattr(request, "param", None)
    return env if reuse_interval is None else {**env, "IDP_REFRESH_REUSE_INTERVAL": reuse_interval}


@pytest.fixture
def user(make):
    return make.user(brand=make.brand(), role="Agent")


def credentials(api) -> dict[str, str]:
    return {"client_id": api.oauth_client.client.id, "client_secret": api.oauth_client.secret}


def password_body(api, user, password: str = PASSWORD, **extra: str) -> dict[str, str]:
    return {"grant_type": "password", "username": user.email, "password": password, **credentials(api), **extra}


def refresh_body(api, refresh_token: str) -> dict[str, str]:
    return {"grant_type": "refresh_token", "refresh_token": refresh_token, **credentials(api)}


def basic(client_id: str, secret: str) -> dict[str, str]:
    """HTTP Basic as RFC 6749 section 2.3.1 asks: each part form-urlencoded, then base64."""
    pair = f"{quote_plus(client_id)}:{quote_plus(secret)}"
    return {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode()}


def assert_oauth_error(response, status: int, error: str) -> None:
    assert response.status_code == status, response.json
    assert response.json["error"] == error
    assert response.headers["Cache-Control"] == "no-store"


def test_password_grant_answers_the_documented_token_shape(client, api, user):
    response = client.post("/oauth2/token", json=password_body(api, user))
    assert response.status_code == 200
    body = response.json
    assert set(body) == TOKEN_KEYS
    assert body["code"] == "OK"
    assert body["token_type"] == "Bearer"
    assert body["access_token"] and body["refresh_token"] and body["access_token"] != body["refresh_token"]
    assert isinstance(body["expires_in"], int) and body["expires_in"] > 0
    assert body["data"]["type"] == "user"
    assert (body["data"]["id"], body["data"]["email"]) == (user.id, user.email)
    assert response.headers["Cache-Control"] == "no-store"


def test_password_grant_accepts_a_form_urlencoded_body(client, api, user):
    response = client.post("/oauth2/token", data=password_body(api, user))
    assert response.status_code == 200, response.json
    assert response.json["data"]["id"] == user.id
    me = client.get("/users/self", headers={"Authorization": f"Bearer {response.json['access_token']}"})
    assert me.json["data"]["id"] == user.id


def test_password_grant_accepts_client_credentials_by_http_basic(client, api, user):
    body = {"grant_type": "password", "username": user.email, "password": PASSWORD}
    response = client.post(
        "/oauth2/token", data=body, headers=basic(api.oauth_client.client.id, api.oauth_client.secret)
    )
    assert response.status_code == 200, response.json
    assert response.json["data"]["id"] == user.id


def test_http_basic_credentials_are_form_urlencoded_before_base64(client, store, user):
    # An id and secret with characters that form-encoding changes: ':', '+', '%', '/', space, non-ASCII.
    client_id, secret = "partner:web+app", "s3cret%2F+/: é"
    store.save_client(Client(client_id, "partner", token_hash(secret), time.time()))
    body = {"grant_type": "password", "username": user.email, "password": PASSWORD}
    response = client.post("/oauth2/token", data=body, headers=basic(client_id, secret))
    assert response.status_code == 200, response.json


def test_refresh_grant_answers_new_tokens_without_data(client, api, user):
    first = api.token(user)
    response = client.post("/oauth2/token", json=refresh_body(api, first["refresh_token"]))
    assert response.status_code == 200, response.json
    assert set(response.json) == TOKEN_KEYS - {"data"}
    assert response.json["token_type"] == "Bearer"
    assert response.json["refresh_token"] != first["refresh_token"]
    assert response.json["access_token"] != first["access_token"]
    assert response.headers["Cache-Control"] == "no-store"


def test_refresh_tokens_rotate_each_one_working_once(client, api, user):
    first = api.token(user)
    second = client.post("/oauth2/token", json=refresh_body(api, first["refresh_token"])).json
    third = client.post("/oauth2/token", json=refresh_body(api, second["refresh_token"]))
    assert third.status_code == 200, third.json
    me = client.get("/users/self", headers={"Authorization": f"Bearer {third.json['access_token']}"})
    assert me.json["data"]["id"] == user.id


def refresh(client, api, refresh_token: str):
    return client.post("/oauth2/token", json=refresh_body(api, refresh_token))


def test_reusing_a_refresh_token_whose_successor_was_exchanged_revokes_the_whole_family(client, api, user):
    first = api.token(user)
    second = refresh(client, api, first["refresh_token"]).json
    third = refresh(client, api, second["refresh_token"]).json
    assert_oauth_error(refresh(client, api, first["refresh_token"]), 400, "invalid_grant")
    for token in (second["refresh_token"], third["refresh_token"]):
        assert_oauth_error(refresh(client, api, token), 400, "invalid_grant")
    for token in (first["access_token"], second["access_token"], third["access_token"]):
        assert client.get("/users/self", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_a_retry_within_the_reuse_interval_gets_the_same_successor_and_forks_nothing(client, api, user):
    first = api.token(user)
    second = refresh(client, api, first["refresh_token"])
    retry = refresh(client, api, first["refresh_token"])  # as a client whose first answer was lost
    assert retry.status_code == 200, retry.json
    assert retry.json["refresh_token"] == second.json["refresh_token"]
    assert retry.json["access_token"] == second.json["access_token"]
    assert 0 < retry.json["expires_in"] <= second.json["expires_in"]
    me = client.get("/users/self", headers={"Authorization": f"Bearer {retry.json['access_token']}"})
    assert me.status_code == 200
    third = refresh(client, api, retry.json["refresh_token"])
    assert third.status_code == 200, third.json
    # The successor is exchanged: now the first token is a reuse, and the family goes.
    assert_oauth_error(refresh(client, api, first["refresh_token"]), 400, "invalid_grant")
    assert_oauth_error(refresh(client, api, third.json["refresh_token"]), 400, "invalid_grant")


@pytest.mark.parametrize("env", ["0"], indirect=True)
def test_with_no_reuse_interval_any_second_exchange_revokes_the_family(client, api, user):
    first = api.token(user)
    second = refresh(client, api, first["refresh_token"]).json
    assert_oauth_error(refresh(client, api, first["refresh_token"]), 400, "invalid_grant")
    assert_oauth_error(refresh(client, api, second["refresh_token"]), 400, "invalid_grant")
    assert client.get("/users/self", headers={"Authorization": f"Bearer {second['access_token']}"}).status_code == 401


def test_a_retry_after_the_reuse_interval_is_a_reuse(client, api, user, monkeypatch):
    first = api.token(user)
    second = refresh(client, api, first["refresh_token"]).json
    later = time.time() + 31  # the default interval is 30 seconds
    monkeypatch.setattr("idp.accounts.tokens.time.time", lambda: later)
    assert_oauth_error(refresh(client, api, first["refresh_token"]), 400, "invalid_grant")
    monkeypatch.undo()
    assert_oauth_error(refresh(client, api, second["refresh_token"]), 400, "invalid_grant")


def test_a_retry_by_another_client_is_refused_and_revokes_nothing(client, api, user, make):
    first = api.token(user)
    second = refresh(client, api, first["refresh_token"]).json
    other = make.client("other")
    body = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"], "client_id": other.client.id}
    assert_oauth_error(client.post("/oauth2/token", json={**body, "client_secret": other.secret}), 400, "invalid_grant")
    assert refresh(client, api, second["refresh_token"]).status_code == 200


def test_reuse_revokes_only_that_family(client, api, user):
    other_sign_in = api.token(user)
    first = api.token(user)
    second = refresh(client, api, first["refresh_token"]).json
    refresh(client, api, second["refresh_token"])
    assert refresh(client, api, first["refresh_token"]).status_code == 400
    headers = {"Authorization": f"Bearer {other_sign_in['access_token']}"}
    assert client.get("/users/self", headers=headers).status_code == 200


def test_a_missing_grant_type_is_an_invalid_request(client, api, user):
    body = password_body(api, user)
    del body["grant_type"]
    assert_oauth_error(client.post("/oauth2/token", json=body), 400, "invalid_request")


def test_an_unknown_grant_type_is_unsupported(client, api, user):
    body = password_body(api, user, grant_type="client_credentials")
    assert_oauth_error(client.post("/oauth2/token", json=body), 400, "unsupported_grant_type")


def test_a_wrong_client_secret_is_an_invalid_client(client, api, user):
    body = password_body(api, user, client_secret=api.oauth_client.secret + "x")
    assert_oauth_error(client.post("/oauth2/token", json=body), 401, "invalid_client")


def test_an_unknown_client_id_is_an_invalid_client(client, api, user):
    body = password_body(api, user, client_id="no-such-client")
    assert_oauth_error(client.post("/oauth2/token", json=body), 401, "invalid_client")


def test_a_wrong_secret_by_http_basic_is_an_invalid_client_with_a_basic_challenge(client, api, user):
    body = {"grant_type": "password", "username": user.email, "password": PASSWORD}
    response = client.post("/oauth2/token", data=body, headers=basic(api.oauth_client.client.id, "wrong"))
    assert_oauth_error(response, 401, "invalid_client")
    assert response.headers["WWW-Authenticate"].startswith("Basic")


def test_wrong_password_and_unknown_user_get_the_same_invalid_grant(client, api, user):
    wrong_password = client.post("/oauth2/token", json=password_body(api, user, password="not the password"))
    unknown_user = client.post("/oauth2/token", json=password_body(api, user, username="nobody@example.com"))
    assert_oauth_error(wrong_password, 400, "invalid_grant")
    assert_oauth_error(unknown_user, 400, "invalid_grant")
    assert wrong_password.json == unknown_user.json


def test_a_refresh_token_used_by_another_client_is_an_invalid_grant(client, api, make, user):
    refresh_token = api.token(user)["refresh_token"]
    other = make.client("other")
    body = {
        "grant_type": "refresh_token",
        "refresh_token": refresh_token,
        "client_id": other.client.id,
        "client_secret": other.secret,
    }
    assert_oauth_error(client.post("/oauth2/token", json=body), 400, "invalid_grant")


def test_an_access_token_used_as_a_refresh_token_is_an_invalid_grant(client, api, user):
    access_token = api.token(user)["access_token"]
    assert_oauth_error(client.post("/oauth2/token", json=refresh_body(api, access_token)), 400, "invalid_grant")


def test_client_secret_by_both_http_basic_and_the_body_is_an_invalid_request(client, api, user):
    response = client.post(
        "/oauth2/token",
        data=password_body(api, user),
        headers=basic(api.oauth_client.client.id, api.oauth_client.secret),
    )
    assert_oauth_error(response, 400, "invalid_request")


def test_a_repeated_parameter_is_an_invalid_request(client, api, user):
    # RFC 6749 sections 3.2 and 5.2: parameters must not repeat, and a request that repeats one is invalid.
    body = password_body(api, user, password="not the password")
    form = urlencode([*body.items(), ("password", PASSWORD)])
    response = client.post("/oauth2/token", data=form, content_type="application/x-www-form-urlencoded")
    assert_oauth_error(response, 400, "invalid_request")
