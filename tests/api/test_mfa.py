"""Opt-in TOTP MFA in Rechat's flow: setup, verify (enables), validate (per token pair), remove; and launching with it.

Every code here is made by pyotp from the secret in mfa_url, never by idp's own TOTP module.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import subprocess
from pathlib import Path

import pyotp
import pytest
from oauthlib.oauth2 import LegacyApplicationClient
from requests_oauthlib import OAuth2Session

from idp.accounts.throttle import DEFAULT_RULES
from tests.api.helpers import NS, Apps, Org, page_text, parse_page, saml_app, saml_response
from tests.api.mfa_helpers import (
    STEP,
    Mfa,
    MfaUser,
    Pair,
    code,
    live_server,
    middle_of_current_step,
    next_code,
    pin_mfa_clock,
    read_png,
    wrong_code,
)
from tests.independent import python3_saml_accepts
from tests.support import PASSWORD, QR_ONLY

# An issuer with a space in it, as authenticator apps show it above the code.
ISSUER = "Acme Realty Sign In"
AC_MFA = "https://refeds.org/profile/mfa"
AC_PASSWORD = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
# The characters RFC 3986 allows in a URI; a space, for one, must be percent-encoded.
URI_CHARACTERS = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")
(ACCOUNT_AND_ADDRESS_LIMIT,) = (rule.limit for rule in DEFAULT_RULES if rule.scope == "account+address")


@pytest.fixture
def env(env: dict[str, str]) -> dict[str, str]:
    return {**env, "IDP_NAME": ISSUER}


@pytest.fixture
def mfa(client, api) -> Mfa:
    return Mfa(client, api)


@pytest.fixture
def brand(make):
    return make.brand()


@pytest.fixture
def user(make, brand):
    return make.user(brand=brand, role="Agent")


@pytest.fixture
def enabled(mfa: Mfa, user) -> MfaUser:
    return mfa.enable(user)


@pytest.fixture
def keyring(app):
    return app.extensions["idp"].keyring


def apps_path(brand) -> str:
    return Apps.path(brand)


def assert_mfa_required(response) -> None:
    assert response.status_code == 401, response.json
    assert response.json["code"] == "MFARequired"
    assert response.json["message"] == "MFA required"


def assert_wrong_token(response) -> None:
    assert response.status_code == 400, response.json
    assert response.json["field"] == "token"


def mfa_enabled(mfa: Mfa, pair: Pair) -> bool:
    response = mfa.me(pair)
    assert response.status_code == 200, response.json
    return response.json["data"]["mfa_enabled"]


# setup


def test_setup_answers_the_user_with_an_otpauth_url(client, mfa: Mfa, user):
    response = mfa.setup(mfa.pair(user))
    assert response.status_code == 200, response.json
    assert response.json["code"] == "OK"
    data = response.json["data"]
    assert (data["type"], data["id"], data["email"]) == ("user", user.id, user.email)
    assert data["mfa_enabled"] is False
    assert URI_CHARACTERS.fullmatch(data["mfa_url"]), data["mfa_url"]
    parsed = pyotp.parse_uri(data["mfa_url"])
    assert isinstance(parsed, pyotp.TOTP)
    assert (parsed.issuer, parsed.name) == (ISSUER, user.email)
    assert (parsed.digest, parsed.digits, parsed.interval) == (hashlib.sha1, 6, 30)
    assert len(parsed.byte_secret()) >= 16


def test_setup_answers_a_qr_code_that_is_a_real_png(mfa: Mfa, user, tmp_path: Path):
    data = mfa.setup(mfa.pair(user)).json["data"]
    prefix = "data:image/png;base64,"
    assert data["mfa_qr_code"].startswith(prefix)
    png_bytes = base64.b64decode(data["mfa_qr_code"][len(prefix) :], validate=True)
    png = read_png(png_bytes)
    assert png.width == png.height, "a QR code is square"
    assert 100 <= png.width <= 2000, "big enough to scan from a screen, small enough for a page"
    reader = shutil.which("zbarimg")
    if reader is not None:
        image = tmp_path / "mfa.png"
        image.write_bytes(png_bytes)
        result = subprocess.run(
            [reader, "--quiet", "--raw", *QR_ONLY, str(image)], capture_output=True, text=True, check=True
        )
        assert result.stdout.strip() == data["mfa_url"]


def test_setup_alone_leaves_mfa_off_and_new_pairs_unchallenged(client, mfa: Mfa, user, brand):
    pair = mfa.pair(user)
    mfa.set_up(pair)
    assert mfa_enabled(mfa, pair) is False
    fresh = mfa.pair(user)
    assert client.get(apps_path(brand), headers=fresh.headers).status_code == 200


def test_a_second_setup_replaces_the_pending_secret(mfa: Mfa, user):
    pair = mfa.pair(user)
    first, second = mfa.set_up(pair), mfa.set_up(pair)
    assert first != second
    stale = code(first)
    assert stale not in {code(second, offset) for offset in (-STEP, 0, STEP)}, "the two secrets collide now"
    assert_wrong_token(mfa.verify(pair, stale))
    assert mfa_enabled(mfa, pair) is False
    response = mfa.verify(pair, code(second))
    assert response.status_code == 200, response.json
    assert response.json["data"]["mfa_enabled"] is True


# verify


def test_verify_enables_mfa_and_answers_the_user(mfa: Mfa, user):
    pair = mfa.pair(user)
    secret = mfa.set_up(pair)
    response = mfa.verify(pair, code(secret))
    assert response.status_code == 200, response.json
    assert response.json["code"] == "OK"
    assert (response.json["data"]["id"], response.json["data"]["mfa_enabled"]) == (user.id, True)
    assert mfa_enabled(mfa, pair) is True


def test_the_pair_that_verified_keeps_working_on_every_call(client, mfa: Mfa, enabled: MfaUser, brand):
    for _ in range(3):
        assert client.get(apps_path(brand), headers=enabled.pair.headers).status_code == 200
        assert mfa.me(enabled.pair).status_code == 200


@pytest.mark.parametrize(
    "token",
    [pytest.param(None, id="wrong"), "12345", "1234567", "abcdef", "", 123456],
)
def test_verify_refuses_a_bad_code_naming_the_token_field(mfa: Mfa, user, token):
    pair = mfa.pair(user)
    secret = mfa.set_up(pair)
    assert_wrong_token(mfa.verify(pair, wrong_code(secret) if token is None else token))
    assert mfa_enabled(mfa, pair) is False


def test_verify_without_a_token_is_refused_naming_the_token_field(client, mfa: Mfa, user):
    pair = mfa.pair(user)
    mfa.set_up(pair)
    assert_wrong_token(client.post("/users/self/mfa/verify", json={}, headers=pair.headers))
    assert mfa_enabled(mfa, pair) is False


def test_a_refused_verify_does_not_ask_new_pairs_for_mfa(client, mfa: Mfa, user, brand):
    pair = mfa.pair(user)
    secret = mfa.set_up(pair)
    assert_wrong_token(mfa.verify(pair, wrong_code(secret)))
    assert client.get(apps_path(brand), headers=mfa.pair(user).headers).status_code == 200


# validate, per token pair

CALLS_BEHIND_MFA = [
    pytest.param("GET", "/brands/{brand}/sso_applications", None, id="list-apps"),
    pytest.param("POST", "/brands/{brand}/sso_applications", saml_app(), id="create-app"),
    pytest.param("POST", "/users/self/mfa/setup", None, id="mfa-setup"),
    pytest.param("DELETE", "/users/self/mfa", {"token": "000000"}, id="mfa-remove"),
    pytest.param("PUT", "/users/self/password", {"old_password": PASSWORD, "new_password": "x" * 20}, id="password"),
]


@pytest.mark.parametrize(("method", "path", "body"), CALLS_BEHIND_MFA)
def test_a_new_pair_after_enabling_gets_mfa_required(client, mfa: Mfa, enabled: MfaUser, brand, method, path, body):
    fresh = mfa.pair(enabled.user)
    response = client.open(path.format(brand=brand.id), method=method, json=body, headers=fresh.headers)
    assert_mfa_required(response)


def test_a_new_pair_may_read_its_user_before_validating(mfa: Mfa, enabled: MfaUser):
    response = mfa.me(mfa.pair(enabled.user))
    assert response.status_code == 200, response.json
    assert (response.json["data"]["id"], response.json["data"]["mfa_enabled"]) == (enabled.user.id, True)


def test_validate_answers_204_and_the_pair_then_works(client, mfa: Mfa, enabled: MfaUser, brand):
    fresh = mfa.pair(enabled.user)
    response = mfa.validate(fresh, next_code(enabled.secret))
    assert response.status_code == 204
    assert response.data == b""
    for _ in range(2):
        assert client.get(apps_path(brand), headers=fresh.headers).status_code == 200


@pytest.mark.parametrize(("method", "path", "body"), CALLS_BEHIND_MFA)
def test_a_validated_pair_passes_the_mfa_check_on_every_call(
    client, mfa: Mfa, enabled: MfaUser, brand, method, path, body
):
    fresh = mfa.pair(enabled.user)
    assert mfa.validate(fresh, next_code(enabled.secret)).status_code == 204
    response = client.open(path.format(brand=brand.id), method=method, json=body, headers=fresh.headers)
    assert response.status_code != 401, response.json


def test_validating_one_pair_leaves_other_pairs_unvalidated(client, mfa: Mfa, enabled: MfaUser, brand):
    validated, other = mfa.pair(enabled.user), mfa.pair(enabled.user)
    assert mfa.validate(validated, next_code(enabled.secret)).status_code == 204
    assert_mfa_required(client.get(apps_path(brand), headers=other.headers))


def test_validate_refuses_a_wrong_code_and_the_pair_stays_unvalidated(client, mfa: Mfa, enabled: MfaUser, brand):
    fresh = mfa.pair(enabled.user)
    assert_wrong_token(mfa.validate(fresh, wrong_code(enabled.secret)))
    assert_mfa_required(client.get(apps_path(brand), headers=fresh.headers))


def test_refreshing_a_validated_pair_gives_a_validated_pair(client, mfa: Mfa, enabled: MfaUser, brand):
    fresh = mfa.pair(enabled.user)
    assert mfa.validate(fresh, next_code(enabled.secret)).status_code == 204
    refreshed = mfa.refresh(fresh)
    assert refreshed.access_token != fresh.access_token
    assert client.get(apps_path(brand), headers=refreshed.headers).status_code == 200
    again = mfa.refresh(refreshed)
    assert client.get(apps_path(brand), headers=again.headers).status_code == 200


def test_refreshing_the_pair_that_verified_gives_a_validated_pair(client, mfa: Mfa, enabled: MfaUser, brand):
    refreshed = mfa.refresh(enabled.pair)
    assert client.get(apps_path(brand), headers=refreshed.headers).status_code == 200


def test_refreshing_an_unvalidated_pair_gives_an_unvalidated_pair(client, mfa: Mfa, enabled: MfaUser, brand):
    refreshed = mfa.refresh(mfa.pair(enabled.user))
    assert_mfa_required(client.get(apps_path(brand), headers=refreshed.headers))
    assert mfa.validate(refreshed, next_code(enabled.secret)).status_code == 204
    assert client.get(apps_path(brand), headers=refreshed.headers).status_code == 200


def test_validate_refuses_non_ascii_digits_as_a_wrong_code(client, mfa: Mfa, enabled: MfaUser, brand):
    # Arabic-Indic digits: str.isdigit() holds for them, yet they are no TOTP code.
    fresh = mfa.pair(enabled.user)
    assert_wrong_token(mfa.validate(fresh, "\u0661\u0662\u0663\u0664\u0665\u0666"))
    assert_mfa_required(client.get(apps_path(brand), headers=fresh.headers))


# remove


def test_removing_mfa_answers_204_and_new_pairs_need_no_validation(client, mfa: Mfa, enabled: MfaUser, brand):
    response = mfa.remove(enabled.pair, next_code(enabled.secret))
    assert response.status_code == 204
    assert mfa_enabled(mfa, enabled.pair) is False
    assert client.get(apps_path(brand), headers=mfa.pair(enabled.user).headers).status_code == 200


def test_removing_mfa_with_a_wrong_code_keeps_it(client, mfa: Mfa, enabled: MfaUser, brand):
    assert_wrong_token(mfa.remove(enabled.pair, wrong_code(enabled.secret)))
    assert mfa_enabled(mfa, enabled.pair) is True
    assert_mfa_required(client.get(apps_path(brand), headers=mfa.pair(enabled.user).headers))


# drift and reuse


@pytest.fixture
def pinned_now(monkeypatch) -> float:
    """The MFA endpoints' clock, held in the middle of the current step so that no boundary passes mid-test."""
    now = middle_of_current_step()
    pin_mfa_clock(monkeypatch, now)
    return now


@pytest.mark.parametrize(("steps", "accepted"), [(-1, True), (1, True), (-2, False), (2, False)])
def test_a_code_counts_within_one_step_either_side(client, mfa: Mfa, user, brand, pinned_now, steps, accepted):
    pair = mfa.pair(user)
    secret = mfa.set_up(pair)
    totp = pyotp.TOTP(secret)
    assert mfa.verify(pair, totp.at(pinned_now)).status_code == 200
    drifted = totp.at(pinned_now + steps * STEP)
    assert drifted not in {totp.at(pinned_now + k * STEP) for k in (-1, 0, 1) if k != steps}, "codes collide"
    fresh = mfa.pair(user)
    response = mfa.validate(fresh, drifted)
    if accepted:
        assert response.status_code == 204, response.json
        assert client.get(apps_path(brand), headers=fresh.headers).status_code == 200
    else:
        assert_wrong_token(response)
        assert_mfa_required(client.get(apps_path(brand), headers=fresh.headers))


def test_a_code_validates_once_only(client, mfa: Mfa, enabled: MfaUser, brand):
    used = next_code(enabled.secret)
    first, second = mfa.pair(enabled.user), mfa.pair(enabled.user)
    assert mfa.validate(first, used).status_code == 204
    assert_wrong_token(mfa.validate(second, used))
    assert_mfa_required(client.get(apps_path(brand), headers=second.headers))


def test_the_code_that_enabled_mfa_cannot_validate_another_pair(client, mfa: Mfa, user, brand):
    pair = mfa.pair(user)
    secret = mfa.set_up(pair)
    used = code(secret)
    assert mfa.verify(pair, used).status_code == 200
    fresh = mfa.pair(user)
    assert_wrong_token(mfa.validate(fresh, used))
    assert_mfa_required(client.get(apps_path(brand), headers=fresh.headers))


# throttling


def test_wrong_codes_up_to_the_limit_still_let_a_right_code_through(mfa: Mfa, enabled: MfaUser):
    fresh = mfa.pair(enabled.user)
    for _ in range(ACCOUNT_AND_ADDRESS_LIMIT - 1):
        assert_wrong_token(mfa.validate(fresh, wrong_code(enabled.secret)))
    assert mfa.validate(fresh, next_code(enabled.secret)).status_code == 204


def test_after_too_many_wrong_codes_even_a_right_code_gets_429(client, mfa: Mfa, enabled: MfaUser, brand):
    fresh = mfa.pair(enabled.user)
    for _ in range(ACCOUNT_AND_ADDRESS_LIMIT):
        assert_wrong_token(mfa.validate(fresh, wrong_code(enabled.secret)))
    response = mfa.validate(fresh, next_code(enabled.secret))
    assert response.status_code == 429, response.json
    retry_after = response.headers["Retry-After"]
    assert retry_after.isascii() and retry_after.isdigit() and int(retry_after) > 0
    assert_mfa_required(client.get(apps_path(brand), headers=fresh.headers))


# the secret at rest


def stored_user_text(store, user_id: str) -> str:
    return json.dumps(store.backend.get("user", user_id)).lower()


def test_the_pending_secret_is_not_stored_in_the_clear(store, mfa: Mfa, user):
    secret = mfa.set_up(mfa.pair(user))
    assert store.backend.get("user", user.id) is not None
    assert secret.lower().rstrip("=") not in stored_user_text(store, user.id)


def test_the_enabled_secret_is_not_stored_in_the_clear(store, settings, enabled: MfaUser):
    assert enabled.secret.lower().rstrip("=") not in stored_user_text(store, enabled.user.id)
    database = settings.database_path
    for path in (database, database.with_name(database.name + "-wal")):
        if path.exists():
            assert enabled.secret.encode() not in path.read_bytes(), path


# launching with MFA


def assert_accepted_with_context(client, keyring, app: dict, open_url: str, context: str) -> None:
    """Open the link as a browser would; python3-saml (strict) accepts the response, which names `context`."""
    response = client.get(open_url)
    assert response.status_code == 200, page_text(response.text)
    (form,) = parse_page(response.text).forms
    encoded = form.hidden["SAMLResponse"]
    python3_saml_accepts(
        encoded,
        idp_entity_id=app["issuer"],
        idp_certificate_b64=keyring.certificate_base64,
        sp_entity_id=app["entity_id"],
        acs_url=app["acs_url"],
        want_assertions_signed=True,
        want_messages_signed=True,
    )
    contexts = saml_response(encoded).xpath(
        "saml:Assertion/saml:AuthnStatement/saml:AuthnContext/saml:AuthnContextClassRef/text()", namespaces=NS
    )
    assert contexts == [context]


def mapped_saml_app() -> dict:
    """A SAML application that sends attributes: python3-saml, strict, wants an AttributeStatement."""
    return saml_app(mappings={"givenName": "first_name", "sn": "last_name", "role": "role"})


def listed_open_url(client, brand, pair: Pair, app_id: str) -> str:
    response = client.get(apps_path(brand), headers=pair.headers)
    assert response.status_code == 200, response.json
    (listed,) = [item for item in response.json["data"] if item["id"] == app_id]
    return listed["open_url"]


def test_an_mfa_user_launching_from_the_list_gets_the_refeds_mfa_context(
    client, apps: Apps, mfa: Mfa, org: Org, keyring
):
    app = apps.created(org.admin, org.brand, mapped_saml_app())
    agent = mfa.enable(org.agent)
    open_url = listed_open_url(client, org.brand, agent.pair, app["id"])
    assert_accepted_with_context(client, keyring, app, open_url, AC_MFA)


def test_an_mfa_admin_launching_from_the_create_answer_gets_the_refeds_mfa_context(client, mfa: Mfa, org: Org, keyring):
    admin = mfa.enable(org.admin)
    response = client.post(apps_path(org.brand), json=mapped_saml_app(), headers=admin.pair.headers)
    assert response.status_code == 200, response.json
    app = response.json["data"]
    assert_accepted_with_context(client, keyring, app, app["open_url"], AC_MFA)


def test_a_user_without_mfa_gets_password_protected_transport(client, apps: Apps, org: Org, keyring):
    app = apps.created(org.admin, org.brand, mapped_saml_app())
    (listed,) = [item for item in apps.listed(org.agent, org.brand) if item["id"] == app["id"]]
    assert_accepted_with_context(client, keyring, app, listed["open_url"], AC_PASSWORD)


def test_a_link_minted_before_mfa_was_enabled_asks_for_the_totp_step_first(client, apps: Apps, mfa: Mfa, org: Org):
    app = apps.created(org.admin, org.brand, mapped_saml_app())
    old_url = listed_open_url(client, org.brand, mfa.pair(org.agent), app["id"])
    mfa.enable(org.agent)
    response = client.get(old_url)
    assert response.status_code == 303 and response.headers["Location"] == "/login/totp"
    assert "SAMLResponse" not in response.text


# a standard OAuth2 client library, over real HTTP


def test_a_standard_oauth2_client_validates_its_pair_and_refresh_keeps_it(
    app, api, mfa: Mfa, enabled: MfaUser, brand, monkeypatch
):
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # plain HTTP on loopback only
    client_id, client_secret = api.oauth_client.client.id, api.oauth_client.secret
    with live_server(app) as base_url:
        token_url, apps_url = f"{base_url}/oauth2/token", f"{base_url}{apps_path(brand)}"
        session = OAuth2Session(client=LegacyApplicationClient(client_id=client_id))
        token = session.fetch_token(
            token_url, username=enabled.user.email, password=PASSWORD, client_secret=client_secret
        )
        assert token["token_type"] == "Bearer"

        refused = session.get(apps_url)
        assert refused.status_code == 401
        assert (refused.json()["code"], refused.json()["message"]) == ("MFARequired", "MFA required")
        assert session.get(f"{base_url}/users/self").status_code == 200

        validated = session.post(f"{base_url}/users/self/mfa/validate", json={"token": next_code(enabled.secret)})
        assert validated.status_code == 204
        assert session.get(apps_url).status_code == 200

        refreshed = session.refresh_token(token_url, auth=(client_id, client_secret))
        assert refreshed["access_token"] != token["access_token"]
        assert session.access_token == refreshed["access_token"]
        assert session.get(apps_url).status_code == 200
