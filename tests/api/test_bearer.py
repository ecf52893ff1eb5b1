"""Bearer authentication of the API (RFC 6750), seen through GET /users/self."""

from __future__ import annotations

import pytest


@pytest.fixture
def user(make):
    return make.user(brand=make.brand(), role="Agent")


def assert_unauthorized(response) -> str:
    """A 401 with the JSON error envelope; answers the WWW-Authenticate challenge."""
    assert response.status_code == 401
    assert response.json["http"] == 401
    assert response.json["message"]
    assert response.json["code"]
    return response.headers["WWW-Authenticate"]


def test_users_self_answers_the_caller_in_the_envelope(client, api, user):
    token = api.token(user)
    response = client.get("/users/self", headers={"Authorization": f"Bearer {token['access_token']}"})
    assert response.status_code == 200
    assert set(response.json) == {"code", "data"}
    assert response.json["code"] == "OK"
    assert response.json["data"] == token["data"]
    assert (response.json["data"]["id"], response.json["data"]["type"]) == (user.id, "user")


def test_no_authorization_header_is_a_401_with_a_bearer_challenge_and_no_error_code(client):
    challenge = assert_unauthorized(client.get("/users/self"))
    assert challenge.startswith("Bearer ")
    assert "error=" not in challenge


def test_a_bad_token_is_a_401_with_an_invalid_token_challenge(client):
    challenge = assert_unauthorized(client.get("/users/self", headers={"Authorization": "Bearer not-a-token"}))
    assert challenge.startswith("Bearer ")
    assert 'error="invalid_token"' in challenge


def test_the_bearer_scheme_name_is_case_insensitive_in_the_challenge_too(client):
    # RFC 7235 section 2.1: the scheme is case-insensitive; a presented bad token is an invalid_token.
    challenge = assert_unauthorized(client.get("/users/self", headers={"Authorization": "bearer not-a-token"}))
    assert 'error="invalid_token"' in challenge


def test_a_refresh_token_is_not_a_bearer_token(client, api, user):
    refresh_token = api.token(user)["refresh_token"]
    challenge = assert_unauthorized(client.get("/users/self", headers={"Authorization": f"Bearer {refresh_token}"}))
    assert 'error="invalid_token"' in challenge
