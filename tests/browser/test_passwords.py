"""Choosing a password in Chromium: "Forgot password?" from the login page, and an invitation link,
with the mails taken from a real SMTP server (aiosmtpd) and their links opened in the browser."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Page, expect

from tests.api.smtp_fixtures import Mailbox
from tests.browser.conftest import Person, link_mailed_to
from tests.deployment import Deployment

NEW_PASSWORD = "quiet violet harbour 7"


@pytest.fixture(scope="module")
def idp(mailbox_and_idp: tuple[Mailbox, Deployment]) -> Deployment:
    return mailbox_and_idp[1]


@pytest.fixture(scope="module")
def mailbox(mailbox_and_idp: tuple[Mailbox, Deployment]) -> Mailbox:
    return mailbox_and_idp[0]


def sign_in(page: Page, email: str, password: str) -> None:
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def choose_password(page: Page, password: str) -> None:
    page.get_by_label("New password", exact=True).fill(password)
    page.get_by_label("New password, again").fill(password)
    page.get_by_role("button", name="Save the password").click()


def test_forgot_password_from_the_login_page_to_a_new_password(
    idp: Deployment, mailbox: Mailbox, make_person, new_context, screenshots: Path
) -> None:
    person: Person = make_person(mfa=False)
    # Signed in elsewhere first: choosing the new password must end that session too.
    elsewhere = new_context().new_page()
    elsewhere.goto(f"{idp.base_url}/login")
    sign_in(elsewhere, person.email, person.password)
    expect(elsewhere.get_by_role("heading", name="Your applications")).to_be_visible()

    page = new_context().new_page()
    page.goto(f"{idp.base_url}/login")
    page.get_by_role("link", name="Forgot password?").click()
    expect(page.get_by_role("heading", name="Forgot your password?")).to_be_visible()
    page.screenshot(path=str(screenshots / "forgot-password.png"), full_page=True)
    page.get_by_label("Email").fill(person.email)
    page.get_by_role("button", name="Send the link").click()
    expect(page.get_by_role("heading", name="Check your mail")).to_be_visible()

    page.goto(link_mailed_to(mailbox, person.email))
    expect(page.get_by_role("heading", name="Choose a new password")).to_be_visible()
    page.screenshot(path=str(screenshots / "choose-password.png"), full_page=True)
    choose_password(page, NEW_PASSWORD)
    expect(page.get_by_role("heading", name="Password saved")).to_be_visible()

    elsewhere.reload()
    expect(elsewhere).to_have_url(re.compile(r"/login$"))
    page.get_by_role("link", name="Sign in").click()
    sign_in(page, person.email, NEW_PASSWORD)
    expect(page.get_by_role("heading", name="Your applications")).to_be_visible()


def test_forgot_password_says_the_same_for_an_unknown_address(idp: Deployment, make_person, page: Page) -> None:
    person: Person = make_person(mfa=False)
    shown = []
    for email in (person.email, "nobody@acme.example"):
        page.goto(f"{idp.base_url}/login/forgot")
        page.get_by_label("Email").fill(email)
        page.get_by_role("button", name="Send the link").click()
        shown.append(page.get_by_role("main").inner_text())
    assert shown[0] == shown[1]


def test_a_password_that_breaks_the_rules_is_refused_on_the_page(
    idp: Deployment, mailbox: Mailbox, make_person, page: Page
) -> None:
    person: Person = make_person(mfa=False)
    page.goto(f"{idp.base_url}/login/forgot")
    page.get_by_label("Email").fill(person.email)
    page.get_by_role("button", name="Send the link").click()
    expect(page.get_by_role("heading", name="Check your mail")).to_be_visible()
    page.goto(link_mailed_to(mailbox, person.email))
    choose_password(page, "robin is my password")
    expect(page.get_by_role("alert")).to_contain_text("must not contain your name or email address")
    choose_password(page, NEW_PASSWORD)
    expect(page.get_by_role("heading", name="Password saved")).to_be_visible()


def test_an_invitation_link_sets_the_first_password(
    idp: Deployment, mailbox: Mailbox, page: Page, screenshots: Path
) -> None:
    email = "invited@acme.example"
    body = {"email": email, "first_name": "Ines", "last_name": "Invited", "role": "Agent", "invite": True}
    added = idp.call("POST", f"/brands/{idp.office}/members", json=body)
    assert added.status_code == 200, added.text
    assert added.json()["info"] == {"created": True, "invited": True}
    page.goto(link_mailed_to(mailbox, email))
    expect(page.get_by_role("heading", name="Choose your password")).to_be_visible()
    page.screenshot(path=str(screenshots / "invitation.png"), full_page=True)
    choose_password(page, NEW_PASSWORD)
    expect(page.get_by_role("heading", name="Password saved")).to_be_visible()
    page.get_by_role("link", name="Sign in").click()
    sign_in(page, email, NEW_PASSWORD)
    expect(page.get_by_role("heading", name="Your applications")).to_be_visible()
    # The link worked once.
    again = requests.get(link_mailed_to(mailbox, email), timeout=10)
    assert again.status_code == 400
