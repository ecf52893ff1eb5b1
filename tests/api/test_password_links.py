"""Password links over a real SMTP server: "forgot password?", an admin's reset, and an invitation.

The mails are read as a person's mail program would (plain text and HTML parts), and the links in
them are followed through the pages that set the password.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import unquote, urlsplit

import pytest

import idp.web.pages
from tests.api.helpers import page_text
from tests.api.mfa_helpers import Mfa
from tests.api.people_helpers import SAME_ORIGIN, As, browser_sign_in, csrf_of, is_signed_in, person, signs_in
from tests.api.smtp_fixtures import Pki, SmtpServer, mailing_through
from tests.support import PASSWORD

NEW_PASSWORD = "quiet violet harbour 7"
LINK = re.compile(r"https?://[^\s\"<>]+/password\?token=[A-Za-z0-9_%\-]+")


@pytest.fixture
def env(env: dict[str, str], smtp: SmtpServer, pki: Pki, tmp_path: Path) -> dict[str, str]:
    return mailing_through(env, smtp, pki, tmp_path / "outbox")


@pytest.fixture
def brand(make):
    return make.brand("Acme Realty")


@pytest.fixture
def admin(make, brand):
    return person(make, brand, "Admin", "Ann", "Admin")


@pytest.fixture
def agent(make, brand):
    return person(make, brand, "Agent", "Ada", "Agent")


def parts(mail) -> tuple[str, str]:
    """The plain text and the HTML of a mail."""
    message = mail.message
    assert message.get_content_type() == "multipart/alternative"
    return message.get_body(("plain",)).get_content(), message.get_body(("html",)).get_content()


def link_in(mail) -> str:
    """The one password link of a mail, the same in both parts, as a path for the test client."""
    text, html = parts(mail)
    (in_text,) = set(LINK.findall(text))
    (in_html,) = set(LINK.findall(html))
    assert in_text == in_html
    url = urlsplit(in_text)
    return f"{url.path}?{url.query}"


def forgot(client, email: str):
    form = client.get("/login/forgot")
    return client.post("/login/forgot", data={"email": email, "csrf_token": csrf_of(form)}, headers=SAME_ORIGIN)


def choose(client, path: str, password: str, confirm: str | None = None):
    form = client.get(path)
    assert form.status_code == 200, form.get_data(as_text=True)
    token = path.split("token=", 1)[1]
    body = {"token": unquote(token), "password": password, "confirm": password if confirm is None else confirm}
    return client.post("/password", data={**body, "csrf_token": csrf_of(form)}, headers=SAME_ORIGIN)


# --- forgot password ---------------------------------------------------------------------------------------------


def test_the_login_page_links_to_forgot_password(client) -> None:
    assert 'href="/login/forgot"' in client.get("/login").get_data(as_text=True)


def test_forgot_password_answers_the_same_whether_or_not_the_address_exists(client, smtp, agent) -> None:
    known, unknown = forgot(client, agent.email), forgot(client, "nobody@example.com")
    assert known.status_code == unknown.status_code == 200
    assert page_text(known.get_data(as_text=True)) == page_text(unknown.get_data(as_text=True))
    assert len(smtp.mailbox.to(agent.email)) == 1
    assert smtp.mailbox.to("nobody@example.com") == []


def test_the_reset_mail_is_plain_text_and_html_with_the_brands_name(client, smtp, agent) -> None:
    forgot(client, agent.email)
    (mail,) = smtp.mailbox.to(agent.email)
    assert "Acme Realty" in mail.message["Subject"]
    text, html = parts(mail)
    assert "Acme Realty" in text and "Acme Realty" in html and "30 minutes" in text
    assert mail.tls
    link_in(mail)


def test_a_reset_link_sets_the_password_and_ends_every_session(app, client, api, smtp, agent) -> None:
    pair = Mfa(client, api).pair(agent)
    browser = browser_sign_in(app, agent.email)
    forgot(client, agent.email)
    path = link_in(smtp.mailbox.to(agent.email)[0])
    done = choose(client, path, NEW_PASSWORD)
    assert done.status_code == 200 and "Password saved" in done.get_data(as_text=True)
    assert client.get("/users/self", headers=pair.headers).status_code == 401
    assert not is_signed_in(browser)
    assert signs_in(client, api, agent.email, NEW_PASSWORD)
    assert not signs_in(client, api, agent.email, PASSWORD)


def test_a_reset_link_works_once(client, smtp, agent) -> None:
    forgot(client, agent.email)
    path = link_in(smtp.mailbox.to(agent.email)[0])
    assert choose(client, path, NEW_PASSWORD).status_code == 200
    again = client.get(path)
    assert again.status_code == 400 and "invalid or has expired" in again.get_data(as_text=True)


def test_a_reset_link_expires_after_30_minutes(client, smtp, agent, monkeypatch) -> None:
    forgot(client, agent.email)
    path = link_in(smtp.mailbox.to(agent.email)[0])
    later = time.time() + 30 * 60 + 1
    monkeypatch.setattr(idp.web.pages, "time", SimpleNamespace(time=lambda: later))
    assert client.get(path).status_code == 400


def test_an_unknown_token_is_refused(client) -> None:
    assert client.get("/password?token=not-a-token").status_code == 400
    assert client.get("/password").status_code == 400


def test_the_password_rules_apply_and_the_link_still_works_after_a_refusal(client, api, smtp, agent) -> None:
    forgot(client, agent.email)
    path = link_in(smtp.mailbox.to(agent.email)[0])
    short = choose(client, path, "short")
    assert short.status_code == 400 and "at least 10 characters" in short.get_data(as_text=True)
    own_name = choose(client, path, "ada is my password")
    assert own_name.status_code == 400 and "name or email" in own_name.get_data(as_text=True)
    mismatch = choose(client, path, NEW_PASSWORD, "something else entirely")
    assert mismatch.status_code == 400 and "not the same" in mismatch.get_data(as_text=True)
    assert signs_in(client, api, agent.email, PASSWORD)
    assert choose(client, path, NEW_PASSWORD).status_code == 200


def test_choosing_a_password_needs_the_forms_csrf_token(client, smtp, agent) -> None:
    forgot(client, agent.email)
    path = link_in(smtp.mailbox.to(agent.email)[0])
    client.get(path)
    token = path.split("token=", 1)[1]
    response = client.post("/password", data={"token": token, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 403


def test_a_disabled_user_gets_no_reset_mail(client, api, smtp, admin, agent) -> None:
    assert As(client, api).call(admin, "POST", f"/users/{agent.id}/disable").status_code == 200
    forgot(client, agent.email)
    assert smtp.mailbox.to(agent.email) == []


def test_disabling_a_user_voids_their_pending_reset_link(client, api, smtp, admin, agent) -> None:
    forgot(client, agent.email)
    path = link_in(smtp.mailbox.to(agent.email)[0])
    As(client, api).call(admin, "POST", f"/users/{agent.id}/disable")
    As(client, api).call(admin, "POST", f"/users/{agent.id}/enable")
    assert client.get(path).status_code == 400


# --- an admin's reset --------------------------------------------------------------------------------------------


def test_an_admin_mails_a_reset_link(client, api, smtp, admin, agent) -> None:
    assert As(client, api).call(admin, "POST", f"/users/{agent.id}/password-reset").status_code == 204
    path = link_in(smtp.mailbox.to(agent.email)[0])
    assert choose(client, path, NEW_PASSWORD).status_code == 200
    assert signs_in(client, api, agent.email, NEW_PASSWORD)


def test_an_agent_may_not_send_a_reset(client, api, smtp, make, brand, agent) -> None:
    other = person(make, brand, "Agent", "Bo", "Other")
    assert As(client, api).call(other, "POST", f"/users/{agent.id}/password-reset").status_code == 403
    assert smtp.mailbox.to(agent.email) == []


def test_an_admin_may_not_reset_a_user_outside_their_brands(client, api, smtp, make, admin) -> None:
    outsider = person(make, make.brand("Other Homes"), "Agent", "Olga", "Outsider")
    assert As(client, api).call(admin, "POST", f"/users/{outsider.id}/password-reset").status_code == 403
    assert smtp.mailbox.to(outsider.email) == []


def test_a_reset_for_a_disabled_user_is_409(client, api, smtp, admin, agent) -> None:
    As(client, api).call(admin, "POST", f"/users/{agent.id}/disable")
    assert As(client, api).call(admin, "POST", f"/users/{agent.id}/password-reset").status_code == 409
    assert smtp.mailbox.to(agent.email) == []


# --- invitations -------------------------------------------------------------------------------------------------


def invite(client, api, admin, brand, email: str = "nina@example.com"):
    body = {"email": email, "first_name": "Nina", "last_name": "New", "role": "Agent", "invite": True}
    return As(client, api).call(admin, "POST", f"/brands/{brand.id}/members", body)


def test_an_invitation_mails_a_link_that_sets_the_first_password(client, api, smtp, admin, brand, store) -> None:
    response = invite(client, api, admin, brand)
    assert response.status_code == 200 and response.json["info"] == {"created": True, "invited": True}
    (mail,) = smtp.mailbox.to("nina@example.com")
    assert mail.message["Subject"] == "You are invited to Acme Realty"
    assert "72 hours" in parts(mail)[0]
    path = link_in(mail)
    form = client.get(path).get_data(as_text=True)
    assert "Choose your password" in form and "nina@example.com" in form
    assert not signs_in(client, api, "nina@example.com", NEW_PASSWORD)
    assert choose(client, path, NEW_PASSWORD).status_code == 200
    assert signs_in(client, api, "nina@example.com", NEW_PASSWORD)
    assert client.get(path).status_code == 400  # once


def test_no_invitation_goes_to_a_user_who_has_a_password(client, api, smtp, admin, brand, make) -> None:
    existing = person(make, make.brand("Other Homes"), "Agent", "Eve", "Existing")
    response = invite(client, api, admin, brand, existing.email)
    assert response.status_code == 200 and response.json["info"] == {"created": False, "invited": False}
    assert smtp.mailbox.to(existing.email) == []


def test_reset_mails_to_one_account_are_limited(client, smtp, agent) -> None:
    """Fifty an hour per account: a stranger cannot flood someone's mailbox, and the page stays the same."""
    form = client.get("/login/forgot")
    token = csrf_of(form)
    for _ in range(51):
        answer = client.post("/login/forgot", data={"email": agent.email, "csrf_token": token}, headers=SAME_ORIGIN)
        assert answer.status_code == 200
    assert len(smtp.mailbox.to(agent.email)) == 50


def test_an_admins_reset_and_the_password_chosen_through_it_are_audit_events(
    client, api, smtp, brand, admin, agent
) -> None:
    as_ = As(client, api)
    assert as_.call(admin, "POST", f"/users/{agent.id}/password-reset").status_code == 204
    assert choose(client, link_in(smtp.mailbox.to(agent.email)[0]), NEW_PASSWORD).status_code == 200

    listed = as_.call(admin, "GET", f"/brands/{brand.id}/events", query_string={"user_id": agent.id})

    found = [(e["action"], e["actor"], e["target"]) for e in listed.json["data"]]
    assert found == [
        ("password.reset", agent.id, f"user:{agent.id}"),
        ("password.reset_sent", admin.id, f"user:{agent.id}"),
    ]
    assert NEW_PASSWORD not in listed.get_data(as_text=True)
