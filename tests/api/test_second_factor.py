"""The second factor for sensitive calls, in Rocket.Chat's protocol, with email codes over a real SMTP server.

A call without `x-2fa-code` is refused 403 with the method to use; the client repeats it with
`x-2fa-code` and `x-2fa-method`. Covered here: the challenge body and how the method is chosen,
the password, totp and email methods, email codes (mailed over STARTTLS with AUTH, single use,
expiring, stored hashed), disabling email 2FA, the end of other sessions on a password change,
and the password rules.
"""

from __future__ import annotations

import hashlib
import json
import time
from datetime import datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest

from idp.accounts import email_codes
from idp.config import Settings
from idp.errors import SecondFactorInvalid
from idp.models import User
from idp.web import create_app
from tests.api.smtp_fixtures import SMTP_USER, Pki, SmtpServer, mailing_through
from tests.support import PASSWORD

NEW_PASSWORD = "purple monkey dishwasher 42"
CHALLENGE_KEYS = {"success", "error", "errorType", "details", "code"}
SHORT_TTL = 60  # seconds; under the five minutes that spare a new mail, so every challenge mails a code


# --- fixtures --------------------------------------------------------------------------------------------------------


@pytest.fixture
def env(env: dict[str, str], smtp: SmtpServer, pki: Pki, tmp_path: Path) -> dict[str, str]:
    """Every service in this module mails through the real server, trusting the throwaway CA."""
    return mailing_through(env, smtp, pki, tmp_path / "outbox")


@pytest.fixture
def user(make) -> User:
    # The email's local part is unlike the names, so each rule about them can be seen on its own.
    return make.user(email="gh1906@navy.example", first_name="Grace", last_name="Hopper")


class Caller:
    """One signed-in token pair of a user, calling the account endpoints."""

    def __init__(self, client, api, user: User) -> None:
        self.client = client
        self.user = user
        self.tokens = api.token(user)
        self.headers = {"Authorization": f"Bearer {self.tokens['access_token']}"}

    def change_password(self, second: dict[str, str] | None = None, *, old=PASSWORD, new=NEW_PASSWORD):
        body = {"old_password": old, "new_password": new}
        return self.client.put("/users/self/password", json=body, headers={**self.headers, **(second or {})})

    def enable_email_2fa(self) -> None:
        response = self.client.post("/users/self/2fa/email/enable", headers=self.headers)
        assert response.status_code == 200, response.json
        assert response.json["data"]["email_2fa_enabled"] is True

    def disable_email_2fa(self, second: dict[str, str] | None = None):
        return self.client.post("/users/self/2fa/email/disable", headers={**self.headers, **(second or {})})

    def enable_mfa(self) -> pyotp.TOTP:
        """Set up and verify TOTP MFA; this pair counts as MFA-validated afterwards."""
        setup = self.client.post("/users/self/mfa/setup", headers=self.headers)
        assert setup.status_code == 200, setup.json
        totp = pyotp.TOTP(parse_qs(urlsplit(setup.json["data"]["mfa_url"]).query)["secret"][0])
        verify = self.client.post("/users/self/mfa/verify", json={"token": totp.at(time.time())}, headers=self.headers)
        assert verify.status_code == 200, verify.json
        return totp

    def me(self):
        return self.client.get("/users/self", headers=self.headers)


@pytest.fixture
def caller(client, api, user: User) -> Caller:
    return Caller(client, api, user)


# --- helpers ---------------------------------------------------------------------------------------------------------


def digest(password: str) -> str:
    return hashlib.sha256(password.encode()).hexdigest()


def by_password(password: str = PASSWORD) -> dict[str, str]:
    return {"x-2fa-code": digest(password), "x-2fa-method": "password"}


def by_email(code: str) -> dict[str, str]:
    return {"x-2fa-code": code, "x-2fa-method": "email"}


def by_totp(code: str) -> dict[str, str]:
    return {"x-2fa-code": code, "x-2fa-method": "totp"}


def next_totp(totp: pyotp.TOTP) -> str:
    """A code of the next time step: still accepted (one step of drift) and never the step used just before."""
    return totp.at(time.time() + totp.interval)


def wrong_totp(totp: pyotp.TOTP) -> str:
    now = time.time()
    valid = {totp.at(now + steps * totp.interval) for steps in range(-2, 3)}
    return next(code for code in ("000000", "111111", "222222", "333333", "444444", "555555") if code not in valid)


def sign_in(client, api, email: str, password: str):
    body = {
        "grant_type": "password",
        "username": email,
        "password": password,
        "client_id": api.oauth_client.client.id,
        "client_secret": api.oauth_client.secret,
    }
    return client.post("/oauth2/token", json=body)


def signs_in(client, api, user: User, password: str) -> bool:
    response = sign_in(client, api, user.email, password)
    assert response.status_code in (200, 400), response.json
    return response.status_code == 200


def assert_required(response, details: dict) -> None:
    """403 with exactly Rocket.Chat's totp-required body, plus our `code`."""
    assert response.status_code == 403, response.json
    assert response.json == {
        "success": False,
        "error": "TOTP Required [totp-required]",
        "errorType": "totp-required",
        "details": details,
        "code": "TOTPRequired",
    }


def assert_invalid(response, method: str) -> None:
    """403 with exactly Rocket.Chat's totp-invalid body, plus our `code`."""
    assert response.status_code == 403, response.json
    assert response.json == {
        "success": False,
        "error": "TOTP Invalid [totp-invalid]",
        "errorType": "totp-invalid",
        "details": {"method": method},
        "code": "TOTPInvalid",
    }


def email_challenge(caller: Caller, smtp: SmtpServer, request=None) -> tuple[dict, str]:
    """Call without a code (a password change unless `request` says otherwise); the details and the mailed code."""
    before = len(smtp.mailbox.to(caller.user.email))
    response = request() if request else caller.change_password()
    assert response.status_code == 403, response.json
    assert response.json["details"]["method"] == "email"
    mails = smtp.mailbox.to(caller.user.email)
    assert len(mails) == before + 1, "the challenge mailed no code"
    return response.json["details"], mails[-1].code()


def change_password_on(app, caller: Caller, second: dict[str, str] | None = None):
    """A password change sent to another app (over the same store) than the `client` fixture's."""
    body = {"old_password": PASSWORD, "new_password": NEW_PASSWORD}
    return app.test_client().put("/users/self/password", json=body, headers={**caller.headers, **(second or {})})


def parse_instant(value: str) -> float:
    assert value.endswith("Z"), value
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


# --- the challenge: Rocket.Chat's body, and the method it names -------------------------------------------------------


def test_password_change_without_a_code_answers_rocket_chats_totp_required_body(client, api, caller, user) -> None:
    response = caller.change_password()

    assert set(response.json) == CHALLENGE_KEYS
    assert_required(
        response,
        {
            "method": "password",
            "codeGenerated": False,
            "codeCount": 0,
            "codeExpires": [],
            "availableMethods": ["password"],
        },
    )
    assert signs_in(client, api, user, PASSWORD)
    assert not signs_in(client, api, user, NEW_PASSWORD)


def test_challenge_names_totp_for_a_user_with_mfa(caller) -> None:
    caller.enable_mfa()

    assert_required(
        caller.change_password(),
        {"method": "totp", "codeGenerated": False, "codeCount": 0, "codeExpires": [], "availableMethods": ["totp"]},
    )


def test_challenge_names_email_when_email_2fa_is_on(caller, smtp) -> None:
    caller.enable_email_2fa()

    response = caller.change_password()

    assert response.json["details"]["method"] == "email"
    assert response.json["details"]["availableMethods"] == ["email"]
    assert response.json["details"]["codeGenerated"] is True


def test_totp_comes_before_email_and_then_no_mail_is_sent(caller, smtp, user) -> None:
    caller.enable_mfa()
    caller.enable_email_2fa()

    assert_required(
        caller.change_password(),
        {
            "method": "totp",
            "codeGenerated": False,
            "codeCount": 0,
            "codeExpires": [],
            "availableMethods": ["totp", "email"],
        },
    )
    assert smtp.mailbox.to(user.email) == []


# --- method: password ------------------------------------------------------------------------------------------------


def test_password_method_with_the_current_passwords_sha256_changes_the_password(client, api, caller, user) -> None:
    response = caller.change_password(by_password(PASSWORD))

    assert response.status_code == 204, response.json
    assert not signs_in(client, api, user, PASSWORD)
    assert signs_in(client, api, user, NEW_PASSWORD)


def test_password_method_accepts_the_digest_in_upper_case(client, api, caller, user) -> None:
    second = {"x-2fa-code": digest(PASSWORD).upper(), "x-2fa-method": "password"}

    assert caller.change_password(second).status_code == 204
    assert signs_in(client, api, user, NEW_PASSWORD)


def test_wrong_password_digest_is_totp_invalid_and_changes_nothing(client, api, caller, user) -> None:
    response = caller.change_password(by_password("not the current password"))

    assert_invalid(response, "password")
    assert signs_in(client, api, user, PASSWORD)
    assert not signs_in(client, api, user, NEW_PASSWORD)


def test_the_password_itself_is_not_a_valid_password_code(client, api, caller, user) -> None:
    response = caller.change_password({"x-2fa-code": PASSWORD, "x-2fa-method": "password"})

    assert_invalid(response, "password")
    assert signs_in(client, api, user, PASSWORD)


def test_password_method_is_refused_for_a_user_with_totp(client, api, caller, user) -> None:
    caller.enable_mfa()

    assert_invalid(caller.change_password(by_password(PASSWORD)), "password")
    assert signs_in(client, api, user, PASSWORD)


# --- method: totp ----------------------------------------------------------------------------------------------------


def test_totp_code_changes_the_password(client, api, caller, user) -> None:
    totp = caller.enable_mfa()

    response = caller.change_password(by_totp(next_totp(totp)))

    assert response.status_code == 204, response.json
    assert signs_in(client, api, user, NEW_PASSWORD)


def test_totp_code_without_a_method_header_uses_the_named_method(client, api, caller, user) -> None:
    totp = caller.enable_mfa()

    assert caller.change_password({"x-2fa-code": next_totp(totp)}).status_code == 204
    assert signs_in(client, api, user, NEW_PASSWORD)


def test_wrong_totp_code_is_totp_invalid_and_changes_nothing(client, api, caller, user) -> None:
    totp = caller.enable_mfa()

    assert_invalid(caller.change_password(by_totp(wrong_totp(totp))), "totp")
    assert signs_in(client, api, user, PASSWORD)


# --- method: email, over a real SMTP server ---------------------------------------------------------------------------


def test_email_challenge_mails_a_six_digit_code_over_starttls_with_auth(caller, smtp, user) -> None:
    caller.enable_email_2fa()
    before = time.time()

    response = caller.change_password()

    details = response.json["details"]
    assert_required(response, details)
    assert (details["method"], details["codeGenerated"], details["codeCount"]) == ("email", True, 1)
    assert details["availableMethods"] == ["email"]
    [expires] = details["codeExpires"]
    assert before + 600 - 5 <= parse_instant(expires) <= time.time() + 600 + 1  # IDP_EMAIL_CODE_TTL, 10 minutes
    [mail] = smtp.mailbox.received
    assert mail.rcpt_tos == [user.email]
    assert mail.message["To"] == user.email
    assert mail.tls, "the mail came over an unencrypted session"
    assert mail.login == SMTP_USER
    assert len(mail.code()) == 6


def test_mailed_code_changes_the_password(client, api, caller, smtp, user) -> None:
    caller.enable_email_2fa()
    _, code = email_challenge(caller, smtp)

    response = caller.change_password(by_email(code))

    assert response.status_code == 204, response.json
    assert not signs_in(client, api, user, PASSWORD)
    assert signs_in(client, api, user, NEW_PASSWORD)


def test_mailed_code_works_only_once(client, api, caller, smtp, user) -> None:
    caller.enable_email_2fa()
    _, code = email_challenge(caller, smtp)
    assert caller.change_password(by_email(code)).status_code == 204

    again = caller.change_password(by_email(code), old=NEW_PASSWORD, new="another long passphrase 7")

    assert_invalid(again, "email")
    assert signs_in(client, api, user, NEW_PASSWORD)


def test_wrong_email_code_is_totp_invalid_and_changes_nothing(client, api, caller, smtp, user) -> None:
    caller.enable_email_2fa()
    _, code = email_challenge(caller, smtp)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"

    assert_invalid(caller.change_password(by_email(wrong)), "email")
    assert signs_in(client, api, user, PASSWORD)
    assert caller.change_password(by_email(code)).status_code == 204  # the real code was not spent by the miss


def test_a_second_challenge_while_a_fresh_code_is_pending_mails_nothing(caller, smtp, user) -> None:
    caller.enable_email_2fa()
    first, _ = email_challenge(caller, smtp)

    again = caller.change_password()

    assert_required(
        again,
        {
            "method": "email",
            "codeGenerated": False,
            "codeCount": 1,
            "codeExpires": first["codeExpires"],
            "availableMethods": ["email"],
        },
    )
    assert len(smtp.mailbox.to(user.email)) == 1


def test_send_email_code_mails_a_working_code_without_a_token(client, api, caller, smtp, user) -> None:
    caller.enable_email_2fa()

    response = client.post("/users/2fa/send-email-code", json={"emailOrUsername": user.email})

    assert response.status_code == 200
    assert response.json == {"success": True, "code": "OK"}
    [mail] = smtp.mailbox.to(user.email)
    assert mail.tls
    assert caller.change_password(by_email(mail.code())).status_code == 204
    assert signs_in(client, api, user, NEW_PASSWORD)


def test_send_email_code_answers_the_same_for_an_unknown_address_and_sends_nothing(client, caller, smtp, user) -> None:
    caller.enable_email_2fa()
    known = client.post("/users/2fa/send-email-code", json={"emailOrUsername": user.email})
    assert len(smtp.mailbox.received) == 1

    unknown = client.post("/users/2fa/send-email-code", json={"emailOrUsername": "nobody@navy.example"})

    assert (unknown.status_code, unknown.json) == (known.status_code, known.json)
    assert len(smtp.mailbox.received) == 1


def test_send_email_code_sends_nothing_to_a_user_without_email_2fa(client, smtp, user) -> None:
    response = client.post("/users/2fa/send-email-code", json={"emailOrUsername": user.email})

    assert (response.status_code, response.json) == (200, {"success": True, "code": "OK"})
    assert smtp.mailbox.received == []


def test_send_email_code_answers_the_same_for_a_known_address_when_mail_cannot_be_sent(
    env, store, caller, smtp, user
) -> None:
    # The answer must not tell which addresses hold accounts, even while the mail server refuses us.
    caller.enable_email_2fa()
    refused = f"smtp://{SMTP_USER}:not-the-password@127.0.0.1:{smtp.port}"
    failing = create_app(Settings.from_env({**env, "SMTP_URL": refused}), store=store).test_client()

    known = failing.post("/users/2fa/send-email-code", json={"emailOrUsername": user.email})
    unknown = failing.post("/users/2fa/send-email-code", json={"emailOrUsername": "nobody@navy.example"})

    assert smtp.mailbox.received == []
    assert (unknown.status_code, unknown.json) == (200, {"success": True, "code": "OK"})
    assert (known.status_code, known.json) == (unknown.status_code, unknown.json)


def test_an_expired_email_code_is_refused(env, store, caller, smtp, user) -> None:
    caller.enable_email_2fa()
    short = create_app(Settings.from_env({**env, "IDP_EMAIL_CODE_TTL": str(SHORT_TTL)}), store=store)
    details, code = email_challenge(caller, smtp, lambda: change_password_on(short, caller))
    [expires] = details["codeExpires"]
    assert parse_instant(expires) <= time.time() + SHORT_TTL + 1
    second_factor = short.extensions["idp"].accounts.second_factor

    with pytest.raises(SecondFactorInvalid):
        second_factor.require(user, code=code, method="email", address="127.0.0.1", now=time.time() + SHORT_TTL + 1)

    # Refused for its age alone: before it expires, the same code still works.
    assert change_password_on(short, caller, by_email(code)).status_code == 204


def test_consume_refuses_a_code_past_its_ttl_and_takes_it_just_before(app, store, caller, smtp, user) -> None:
    caller.enable_email_2fa()
    _, code = email_challenge(caller, smtp)
    keyring = app.extensions["idp"].keyring
    [stored] = store.email_codes(user.id)

    assert email_codes.consume(store, keyring, user, code, now=stored["expires_at"]) is False
    assert email_codes.consume(store, keyring, user, code, now=stored["expires_at"] + 3600) is False
    assert email_codes.consume(store, keyring, user, code, now=stored["expires_at"] - 1) is True


def test_email_codes_are_stored_only_as_keyed_hashes(tmp_path, caller, smtp, store, user) -> None:
    caller.enable_email_2fa()
    _, code = email_challenge(caller, smtp)

    stored = store.email_codes(user.id)

    assert len(stored) == 1
    document = json.dumps(stored)
    assert code not in document
    assert hashlib.sha256(code.encode()).hexdigest() not in document  # not a plain hash: 10^6 guesses would undo it
    raw = b"".join(path.read_bytes() for path in tmp_path.glob("idp.sqlite3*"))
    assert code.encode() not in raw


def test_challenge_reports_no_code_generated_when_the_send_limit_stops_the_mail(env, store, caller, smtp, user) -> None:
    # With a short TTL no pending code is "fresh", so every challenge tries to mail one; past the
    # per-user send limit nothing goes out, and the challenge must not claim a code was generated.
    caller.enable_email_2fa()
    short = create_app(Settings.from_env({**env, "IDP_EMAIL_CODE_TTL": str(SHORT_TTL)}), store=store)
    for _ in range(200):
        sent = len(smtp.mailbox.received)
        short.test_client().post("/users/2fa/send-email-code", json={"emailOrUsername": user.email})
        if len(smtp.mailbox.received) == sent:
            break
    else:
        pytest.fail("sends to one user were never limited")
    sent = len(smtp.mailbox.received)

    response = change_password_on(short, caller)

    assert response.json["details"]["method"] == "email"
    assert len(smtp.mailbox.received) == sent  # the limit held: no mail
    assert response.json["details"]["codeGenerated"] is False


# --- disabling email 2FA ---------------------------------------------------------------------------------------------


def test_disabling_email_2fa_needs_the_second_factor(caller, smtp, store, user) -> None:
    caller.enable_email_2fa()

    response = caller.disable_email_2fa()

    assert response.status_code == 403
    assert response.json["errorType"] == "totp-required"
    assert response.json["details"]["method"] == "email"
    assert store.user(user.id).email_2fa_enabled is True


def test_disabling_email_2fa_with_the_mailed_code_turns_it_off(caller, smtp, store, user) -> None:
    caller.enable_email_2fa()
    _, code = email_challenge(caller, smtp, caller.disable_email_2fa)

    response = caller.disable_email_2fa(by_email(code))

    assert response.status_code == 200, response.json
    assert response.json["data"]["email_2fa_enabled"] is False
    assert store.user(user.id).email_2fa_enabled is False
    assert caller.change_password().json["details"]["availableMethods"] == ["password"]


def test_disabling_email_2fa_with_a_wrong_code_leaves_it_on(caller, smtp, store, user) -> None:
    caller.enable_email_2fa()
    _, code = email_challenge(caller, smtp, caller.disable_email_2fa)

    assert_invalid(caller.disable_email_2fa(by_email(f"{(int(code) + 1) % 1_000_000:06d}")), "email")
    assert store.user(user.id).email_2fa_enabled is True


# --- other sessions --------------------------------------------------------------------------------------------------


def test_password_change_ends_the_users_other_sessions_and_keeps_the_current_one(client, api, user) -> None:
    current, other = Caller(client, api, user), Caller(client, api, user)
    assert other.me().status_code == 200

    assert current.change_password(by_password()).status_code == 204

    assert other.me().status_code == 401
    refreshed = client.post(
        "/oauth2/token",
        json={
            "grant_type": "refresh_token",
            "refresh_token": other.tokens["refresh_token"],
            "client_id": api.oauth_client.client.id,
            "client_secret": api.oauth_client.secret,
        },
    )
    assert refreshed.status_code == 400
    assert refreshed.json["error"] == "invalid_grant"
    assert current.me().status_code == 200
    renewed = client.post(
        "/oauth2/token",
        json={
            "grant_type": "refresh_token",
            "refresh_token": current.tokens["refresh_token"],
            "client_id": api.oauth_client.client.id,
            "client_secret": api.oauth_client.secret,
        },
    )
    assert renewed.status_code == 200, renewed.json


def test_password_change_through_the_api_signs_the_users_browsers_out(app, client, api, user) -> None:
    from tests.api.people_helpers import browser_sign_in, is_signed_in  # it builds on this module's sign_in

    browser = browser_sign_in(app, user.email)
    assert is_signed_in(browser)

    assert Caller(client, api, user).change_password(by_password()).status_code == 204

    assert not is_signed_in(browser), "a browser session opened with the old password outlived the change"


def test_a_refused_password_change_ends_no_session(client, api, user) -> None:
    current, other = Caller(client, api, user), Caller(client, api, user)

    assert current.change_password(by_password("wrong")).status_code == 403
    assert current.change_password(by_password(), new="short").status_code == 400

    assert other.me().status_code == 200


# --- password rules --------------------------------------------------------------------------------------------------


def assert_validation(response, field: str, message: str) -> None:
    assert response.status_code == 400, response.json
    assert response.json["code"] == "Validation"
    assert response.json["field"] == field
    assert message in response.json["message"]
    assert field in response.json["message"]


def test_too_short_new_password_is_refused_naming_new_password(client, api, caller, user) -> None:
    response = caller.change_password(by_password(), new="9 chars!!")

    assert_validation(response, "new_password", "at least 10 characters")
    assert signs_in(client, api, user, PASSWORD)


@pytest.mark.parametrize(
    "new",
    [
        pytest.param("amazing GRACE under fire", id="first name"),
        pytest.param("grasshoppers eat leaves", id="last name inside a word"),
        pytest.param("my old gh1906 passphrase", id="email local part"),
    ],
)
def test_new_password_with_the_users_name_or_email_is_refused(client, api, caller, user, new: str) -> None:
    response = caller.change_password(by_password(), new=new)

    assert_validation(response, "new_password", "must not contain your name or email address")
    assert signs_in(client, api, user, PASSWORD)
    assert not signs_in(client, api, user, new)


def test_wrong_old_password_is_refused_naming_old_password(client, api, caller, user) -> None:
    response = caller.change_password(by_password(), old="not my password at all")

    assert_validation(response, "old_password", "wrong")
    assert signs_in(client, api, user, PASSWORD)


def test_missing_old_password_is_refused_naming_old_password(caller) -> None:
    response = caller.client.put(
        "/users/self/password", json={"new_password": NEW_PASSWORD}, headers={**caller.headers, **by_password()}
    )

    assert_validation(response, "old_password", "required")


def test_new_password_is_stored_as_argon2id_and_never_in_the_clear(tmp_path, caller, store, user) -> None:
    assert caller.change_password(by_password()).status_code == 204

    stored = store.user(user.id).password_hash
    assert stored.startswith("$argon2id$")
    raw = b"".join(path.read_bytes() for path in tmp_path.glob("idp.sqlite3*"))
    for secret in (NEW_PASSWORD, PASSWORD, digest(NEW_PASSWORD)):  # the digest is itself the password-method code
        assert secret not in stored
        assert secret.encode() not in raw
