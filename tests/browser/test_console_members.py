"""The console's Members section in Chromium: an admin invites an agent (the mail read from a real SMTP
server), the agent chooses a password through the link and opens an app at a real SP, then the admin
disables the agent (the event is in the brand's log) and the launcher the agent still has open stops
working."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import expect

from tests.api.smtp_fixtures import Mailbox
from tests.browser.accessibility import DESKTOP, PHONE
from tests.browser.conftest import APP_NAME, Person, link_mailed_to
from tests.browser.test_front_door import assert_signed_in_at_sp
from tests.browser.test_passwords import (  # noqa: F401  (the fixtures of a deployment that mails)
    choose_password,
    idp,
    mailbox,
    sign_in,
)
from tests.deployment import Deployment
from tests.support import PASSWORD

NEW_PASSWORD = "amber lantern meadow 4"


def test_an_invited_agent_is_disabled_and_their_open_launcher_stops_working(
    idp: Deployment,  # noqa: F811
    mailbox: Mailbox,  # noqa: F811
    sp: str,
    app: dict,
    new_context,
    screenshots: Path,
) -> None:
    email = "ines.console@acme.example"
    admin = new_context().new_page()
    admin.goto(f"{idp.base_url}/admin/brands/{idp.office}/members")
    expect(admin).to_have_url(re.compile(r"/login\?next="))
    sign_in(admin, idp.admin_email, PASSWORD)
    expect(admin.get_by_role("heading", name="Members of Acme Downtown")).to_be_visible()
    admin.get_by_role("link", name="Invite a member").click()
    admin.get_by_label("Email").fill(email)
    admin.get_by_label("First name").fill("Ines")
    admin.get_by_label("Last name").fill("Console")
    admin.get_by_label("Role").select_option("Agent")
    admin.screenshot(path=str(screenshots / "console-members-invite.png"), full_page=True)
    admin.get_by_role("button", name="Send the invitation").click()
    expect(admin.get_by_role("status")).to_have_text(f"Invitation sent to {email}.")
    assert "token" not in admin.url
    row = admin.get_by_role("row").filter(has_text=email)
    expect(row).to_contain_text("Agent")
    expect(row).to_contain_text("Active")
    admin.screenshot(path=str(screenshots / "console-members.png"), full_page=True)
    admin.set_viewport_size(PHONE.viewport)
    assert admin.evaluate("document.documentElement.scrollWidth") <= PHONE.width, "the list is wider than a phone"
    admin.screenshot(path=str(screenshots / "console-members-phone.png"), full_page=True)
    admin.set_viewport_size(DESKTOP.viewport)

    agent_context = new_context()
    agent = agent_context.new_page()
    agent.goto(link_mailed_to(mailbox, email))
    expect(agent.get_by_role("heading", name="Choose your password")).to_be_visible()
    choose_password(agent, NEW_PASSWORD)
    expect(agent.get_by_role("heading", name="Password saved")).to_be_visible()
    agent.get_by_role("link", name="Sign in").click()
    sign_in(agent, email, NEW_PASSWORD)
    expect(agent.get_by_role("heading", name="Your applications")).to_be_visible()
    agent.get_by_role("button", name=APP_NAME).click()
    assert_signed_in_at_sp(agent, sp, Person(email, "Ines Console", NEW_PASSWORD))
    launcher = agent_context.new_page()  # the launcher the agent keeps open
    launcher.goto(f"{idp.base_url}/")
    expect(launcher.get_by_role("button", name=APP_NAME)).to_be_visible()

    admin.get_by_role("link", name="Ines Console").click()
    expect(admin.get_by_role("heading", name="Ines Console")).to_be_visible()
    admin.screenshot(path=str(screenshots / "console-member.png"), full_page=True)
    admin.get_by_role("button", name="Disable the account").click()
    expect(admin.get_by_role("status")).to_contain_text(f"{email} is disabled")
    expect(admin.locator("dl.facts")).to_contain_text("Disabled")
    admin.get_by_role("link", name=f"Events of {email}").click()
    newest = admin.get_by_role("row").nth(1)  # after the header row
    expect(newest).to_contain_text("user.disable")
    expect(newest).to_contain_text(idp.admin_email)
    expect(admin.get_by_role("row").filter(has_text="launch")).to_contain_text(APP_NAME)
    admin.screenshot(path=str(screenshots / "console-events.png"), full_page=True)
    admin.set_viewport_size(PHONE.viewport)
    assert admin.evaluate("document.documentElement.scrollWidth") <= PHONE.width, "the log is wider than a phone"
    admin.screenshot(path=str(screenshots / "console-events-phone.png"), full_page=True)

    launcher.get_by_role("button", name=APP_NAME).click()
    expect(launcher).to_have_url(f"{idp.base_url}/login")
    expect(launcher.get_by_role("heading", name="Sign in")).to_be_visible()
    sign_in(launcher, email, NEW_PASSWORD)
    expect(launcher.get_by_role("alert")).to_have_text("The email or password is not right.")
