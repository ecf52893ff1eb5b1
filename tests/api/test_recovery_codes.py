"""MFA recovery codes: ten shown once when MFA is verified, stored keyed-hashed, each working once
wherever a TOTP code is asked for (validate, the login TOTP step, the second factor), with the
user told how many remain. Authenticator codes come from pyotp; the notices from a real SMTP server."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pyotp
import pytest

from tests.api.mfa_helpers import Mfa, MfaUser, next_code
from tests.api.people_helpers import SAME_ORIGIN, csrf_of, person
from tests.api.smtp_fixtures import Pki, SmtpServer, mailing_through
from tests.api.test_second_factor import by_totp
from tests.support import PASSWORD

CODE = re.compile(r"^[a-z2-9]{5}-[a-z2-9]{5}$")


@pytest.fixture
def env(env: dict[str, str], smtp: SmtpServer, pki: Pki, tmp_path: Path) -> dict[str, str]:
    return mailing_through(env, smtp, pki, tmp_path / "outbox")


@pytest.fixture
def mfa(client, api) -> Mfa:
    return Mfa(client, api)


@pytest.fixture
def enabled(client, api, make, mfa) -> tuple[MfaUser, list[str]]:
    """A user who just verified MFA, and the recovery codes the verify call answered."""
    user = person(make, make.brand("Acme Realty"), "Agent", "Ada", "Agent")
    pair = mfa.pair(user)
    secret = mfa.set_up(pair)
    response = mfa.verify(pair, pyotp.TOTP(secret).now())
    assert response.status_code == 200, response.json
    return MfaUser(user, secret, pair), response.json["data"]["mfa_recovery_codes"]


def test_verify_answers_ten_distinct_codes_stored_only_hashed(enabled, store) -> None:
    who, codes = enabled
    assert len(codes) == 10 and len(set(codes)) == 10
    assert all(CODE.match(code) for code in codes)
    stored = json.dumps(store.recovery_codes(who.user.id))
    assert not any(code in stored or code.replace("-", "") in stored for code in codes)


def left(client, pair) -> int:
    response = client.get("/users/self/mfa/recovery-codes", headers=pair.headers)
    assert response.status_code == 200, response.json
    return response.json["data"]["mfa_recovery_codes_remaining"]


def test_the_user_can_ask_how_many_remain(client, mfa, enabled) -> None:
    who, codes = enabled
    assert left(client, who.pair) == 10
    pair = mfa.pair(who.user)
    assert mfa.validate(pair, codes[0]).status_code == 204
    assert left(client, pair) == 9


def test_a_recovery_code_validates_a_pair_once(mfa, enabled) -> None:
    who, codes = enabled
    first, second = mfa.pair(who.user), mfa.pair(who.user)
    assert mfa.validate(first, codes[3].upper().replace("-", " ")).status_code == 204  # as typed off paper
    again = mfa.validate(second, codes[3])
    assert again.status_code == 400 and again.json["field"] == "token"


def test_a_made_up_code_is_refused(mfa, enabled) -> None:
    who, _ = enabled
    assert mfa.validate(mfa.pair(who.user), "abcde-fghjk").status_code == 400


def test_using_a_code_mails_a_notice_with_the_count_left(smtp, mfa, enabled) -> None:
    who, codes = enabled
    mfa.validate(mfa.pair(who.user), codes[0])
    (notice,) = smtp.mailbox.to(who.user.email)
    assert "Acme Realty" in notice.message["Subject"]
    text = notice.message.get_body(("plain",)).get_content()
    html = notice.message.get_body(("html",)).get_content()
    assert "9 recovery codes left" in text and "9 recovery codes left" in html


def test_a_recovery_code_passes_the_login_totp_step_and_says_how_many_remain(app, enabled) -> None:
    who, codes = enabled
    browser = app.test_client()
    form = browser.get("/login")
    sent = browser.post(
        "/login", data={"email": who.user.email, "password": PASSWORD, "csrf_token": csrf_of(form)}, headers=SAME_ORIGIN
    )
    assert sent.headers["Location"] == "/login/totp"
    step = browser.get("/login/totp")
    done = browser.post("/login/totp", data={"code": codes[1], "csrf_token": csrf_of(step)}, headers=SAME_ORIGIN)
    assert done.status_code == 200, done.get_data(as_text=True)
    assert "You have 9 recovery codes left" in " ".join(done.get_data(as_text=True).split())
    assert browser.get("/").status_code == 200  # signed in


def test_a_recovery_code_is_a_second_factor_for_sensitive_calls(client, mfa, enabled) -> None:
    who, codes = enabled
    body = {"old_password": PASSWORD, "new_password": "quiet violet harbour 7"}
    response = client.put("/users/self/password", json=body, headers={**who.pair.headers, **by_totp(codes[2])})
    assert response.status_code == 204, response.json


def test_new_codes_need_a_second_factor(client, enabled) -> None:
    who, _ = enabled
    response = client.post("/users/self/mfa/recovery-codes", headers=who.pair.headers)
    assert response.status_code == 403 and response.json["errorType"] == "totp-required"


def test_new_codes_replace_the_old_ones(client, mfa, enabled) -> None:
    who, old = enabled
    headers = {**who.pair.headers, **by_totp(next_code(who.secret))}
    response = client.post("/users/self/mfa/recovery-codes", headers=headers)
    assert response.status_code == 200, response.json
    new = response.json["data"]["mfa_recovery_codes"]
    assert len(new) == 10 and not set(new) & set(old)
    assert mfa.validate(mfa.pair(who.user), old[0]).status_code == 400
    assert mfa.validate(mfa.pair(who.user), new[0]).status_code == 204


def test_removing_mfa_drops_the_codes(client, mfa, enabled, store) -> None:
    who, _ = enabled
    assert mfa.remove(who.pair, next_code(who.secret)).status_code == 204
    assert store.recovery_codes(who.user.id) is None
