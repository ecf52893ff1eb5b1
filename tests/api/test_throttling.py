"""Throttling over HTTP: wrong passwords at /oauth2/token and wrong second-factor codes.

The limits come from DEFAULT_RULES. Client addresses are set through the WSGI environ of Flask's
test client (REMOTE_ADDR); no traffic leaves the process.
"""

from __future__ import annotations

import hashlib
import time
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest

from idp.accounts.throttle import DEFAULT_RULES
from idp.models import User
from tests.support import PASSWORD

PER_ACCOUNT_AND_ADDRESS = next(rule for rule in DEFAULT_RULES if rule.scope == "account+address")
LIMIT = PER_ACCOUNT_AND_ADDRESS.limit
ANOTHER_ADDRESS = {"REMOTE_ADDR": "10.0.0.2"}
WRONG = "a wrong password, long enough"
NEW_PASSWORD = "purple monkey dishwasher 42"


@pytest.fixture
def user(make) -> User:
    return make.user()


@pytest.fixture
def other_user(make) -> User:
    return make.user()


def sign_in(client, api, username: str, password: str, environ: dict[str, str] | None = None):
    body = {
        "grant_type": "password",
        "username": username,
        "password": password,
        "client_id": api.oauth_client.client.id,
        "client_secret": api.oauth_client.secret,
    }
    return client.post("/oauth2/token", json=body, environ_base=environ or {})


def fail_until_the_limit(client, api, username: str) -> None:
    for attempt in range(LIMIT):
        response = sign_in(client, api, username, WRONG)
        assert response.status_code == 400, f"attempt {attempt + 1}: {response.json}"
        assert response.json["error"] == "invalid_grant"


def assert_throttled(response) -> int:
    assert response.status_code == 429, response.json
    assert response.json["code"] == "TooManyRequests"
    retry_after = response.headers["Retry-After"]
    assert retry_after.isdigit(), retry_after
    assert 0 < int(retry_after) <= PER_ACCOUNT_AND_ADDRESS.window
    return int(retry_after)


# --- /oauth2/token ---------------------------------------------------------------------------------------------------


def test_wrong_passwords_past_the_limit_answer_429_with_retry_after(client, api, user) -> None:
    fail_until_the_limit(client, api, user.email)

    assert_throttled(sign_in(client, api, user.email, WRONG))


def test_the_right_password_is_refused_while_throttled(client, api, user) -> None:
    fail_until_the_limit(client, api, user.email)

    assert_throttled(sign_in(client, api, user.email, PASSWORD))


def test_attempts_while_throttled_do_not_push_the_wait_further(client, api, user) -> None:
    fail_until_the_limit(client, api, user.email)
    first = assert_throttled(sign_in(client, api, user.email, WRONG))

    for _ in range(5):
        later = assert_throttled(sign_in(client, api, user.email, WRONG))

    assert later <= first


def test_another_account_from_the_same_address_can_still_sign_in(client, api, user, other_user) -> None:
    fail_until_the_limit(client, api, user.email)

    assert sign_in(client, api, other_user.email, PASSWORD).status_code == 200


def test_the_same_account_from_another_address_can_still_sign_in(client, api, user) -> None:
    fail_until_the_limit(client, api, user.email)

    response = sign_in(client, api, user.email, PASSWORD, environ=ANOTHER_ADDRESS)

    assert response.status_code == 200, response.json
    assert_throttled(sign_in(client, api, user.email, PASSWORD))  # still throttled from the first address


def test_a_sign_in_clears_the_count_for_that_account_from_that_address(client, api, user) -> None:
    for _ in range(LIMIT - 1):
        assert sign_in(client, api, user.email, WRONG).status_code == 400
    assert sign_in(client, api, user.email, PASSWORD).status_code == 200

    for _ in range(LIMIT - 1):
        assert sign_in(client, api, user.email, WRONG).status_code == 400

    assert sign_in(client, api, user.email, PASSWORD).status_code == 200


def test_unknown_and_known_accounts_get_the_same_answer(client, api, user) -> None:
    known = sign_in(client, api, user.email, WRONG)
    unknown = sign_in(client, api, "nobody@example.com", WRONG)

    assert (unknown.status_code, unknown.json) == (known.status_code, known.json)
    assert unknown.headers["Cache-Control"] == known.headers["Cache-Control"]


def test_unknown_accounts_are_throttled_like_known_ones(client, api, user) -> None:
    fail_until_the_limit(client, api, user.email)
    fail_until_the_limit(client, api, "nobody@example.com")

    known = sign_in(client, api, user.email, WRONG)
    unknown = sign_in(client, api, "nobody@example.com", WRONG)

    assert_throttled(known)
    assert_throttled(unknown)
    assert unknown.json == known.json


def test_the_username_is_counted_whatever_its_case(client, api, user) -> None:
    for attempt in range(LIMIT):
        username = user.email.upper() if attempt % 2 else user.email
        assert sign_in(client, api, username, WRONG).status_code == 400

    assert_throttled(sign_in(client, api, user.email, PASSWORD))


# --- x-2fa-code ------------------------------------------------------------------------------------------------------


def change_password(client, headers: dict[str, str], code: str, method: str):
    body = {"old_password": PASSWORD, "new_password": NEW_PASSWORD}
    return client.put(
        "/users/self/password", json=body, headers={**headers, "x-2fa-code": code, "x-2fa-method": method}
    )


def digest(password: str) -> str:
    return hashlib.sha256(password.encode()).hexdigest()


def test_wrong_password_codes_are_throttled_and_then_the_right_one_is_refused(client, api, user) -> None:
    headers = api.headers(user)
    for attempt in range(LIMIT):
        response = change_password(client, headers, digest(WRONG), "password")
        assert response.status_code == 403, f"attempt {attempt + 1}: {response.json}"
        assert response.json["errorType"] == "totp-invalid"

    assert_throttled(change_password(client, headers, digest(WRONG), "password"))
    assert_throttled(change_password(client, headers, digest(PASSWORD), "password"))
    assert sign_in(client, api, user.email, PASSWORD).status_code == 200  # the password did not change


def test_wrong_totp_codes_are_throttled(client, api, user) -> None:
    headers = api.headers(user)
    setup = client.post("/users/self/mfa/setup", headers=headers)
    totp = pyotp.TOTP(parse_qs(urlsplit(setup.json["data"]["mfa_url"]).query)["secret"][0])
    assert client.post("/users/self/mfa/verify", json={"token": totp.now()}, headers=headers).status_code == 200
    now = time.time()
    valid = {totp.at(now + steps * totp.interval) for steps in range(-2, 3)}
    wrong = next(code for code in ("000000", "111111", "222222", "333333", "444444", "555555") if code not in valid)

    for attempt in range(LIMIT):
        response = change_password(client, headers, wrong, "totp")
        assert response.status_code == 403, f"attempt {attempt + 1}: {response.json}"
        assert response.json["errorType"] == "totp-invalid"

    assert_throttled(change_password(client, headers, wrong, "totp"))
    assert_throttled(change_password(client, headers, totp.at(time.time() + totp.interval), "totp"))
