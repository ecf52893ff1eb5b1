"""The console's whole story in one go, in Chromium, as a brokerage's IT admin and a new agent live it.

The admin signs in at /admin, registers a real python3-saml SP from the metadata it writes (pasted),
uploads its icon, test-launches into it, and makes it require MFA. The admin invites an agent; the
invitation is read from a real SMTP server; the agent chooses a password through its link, signs in,
registers a passkey (Chromium's virtual authenticator), signs in again with the password and the
passkey, and launches the app, whose assertion carries the REFEDS MFA class. The admin disables the
agent: the launcher the agent still has open stops working, signing in again is refused, and the
brand's events show the agent's sign-in and the disable.

The IdP is named `localhost` (WebAuthn takes a domain as its RP id, never an IP address); the SP
stays on 127.0.0.1, another site."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Page, expect

from tests.api.smtp_fixtures import Mailbox
from tests.browser.accessibility import assert_accessible
from tests.browser.conftest import Person, link_mailed_to, mailing_deployment, sign_in, sign_out
from tests.browser.conftest import virtual_authenticator as add_virtual_authenticator
from tests.browser.console_steps import import_sp, map_attributes, to_applications, upload_icon
from tests.browser.test_front_door import sp_state
from tests.browser.test_passwords import choose_password
from tests.deployment import Deployment
from tests.python3_saml_sp import running_sp

REFEDS_MFA = "https://refeds.org/profile/mfa"
APP_NAME = "Listings portal"
AGENT_EMAIL = "noor.story@acme.example"
AGENT_NAME = "Noor Story"
AGENT_PASSWORD = "copper kettle orchard 9"


@pytest.fixture(scope="module")
def mailbox_and_idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Mailbox, Deployment]]:
    with mailing_deployment(tmp_path_factory, host_name="localhost") as (mailbox, deployment):
        assert deployment.base_url.startswith("http://localhost:")
        yield mailbox, deployment


def shot(page: Page, folder: Path, name: str) -> None:
    page.screenshot(path=str(folder / f"story-{name}.png"), full_page=True)


def test_an_admin_registers_an_app_invites_an_agent_who_signs_in_with_a_passkey_then_is_disabled(
    mailbox_and_idp: tuple[Mailbox, Deployment], sp_port: int, new_context, screenshots: Path, tmp_path: Path
) -> None:
    mailbox, idp = mailbox_and_idp
    admin = Person(idp.admin_email, "Ann Admin")
    sp = f"http://127.0.0.1:{sp_port}"
    problems: list[str] = []

    # 1. The admin signs in at /admin and registers the SP from its own metadata, pasted.
    console = new_context().new_page()
    console.on("pageerror", lambda error: problems.append(f"console: {error}"))
    to_applications(console, idp, admin)
    app_page = import_sp(console, sp, APP_NAME)
    upload_icon(console, tmp_path, (20, 120, 60))

    # The attributes python3-saml wants, then the SP, configured from the metadata URL the console shows.
    map_attributes(console, '{"mail": "email", "displayName": "display_name"}')
    metadata_url = console.get_by_role("textbox", name="Metadata URL of this application").input_value()
    metadata = requests.get(metadata_url, timeout=10)
    assert metadata.status_code == 200, metadata.text

    with running_sp(metadata.content, port=sp_port):
        console.get_by_role("button", name="Test launch").click()
        state = sp_state(console, sp)
        assert state["signed_in"] is True, state
        assert state["name_id"] == admin.email, state
        assert state["errors"] == [], state

        # From now on every sign-in to the app must be multi-factor.
        console.goto(f"{app_page}/edit")
        console.get_by_role("checkbox", name="Require multi-factor sign-in for this application").check()
        console.get_by_role("button", name="Save").click()
        expect(console.get_by_role("status")).to_have_text("Your changes were saved.")
        shot(console, screenshots, "app")

        # 2. The admin invites an agent into the office; the agent takes the mailed link.
        console.goto(f"{idp.base_url}/admin/brands/{idp.office}/members")
        console.get_by_role("link", name="Invite a member").click()
        console.get_by_label("Email").fill(AGENT_EMAIL)
        console.get_by_label("First name").fill("Noor")
        console.get_by_label("Last name").fill("Story")
        console.get_by_label("Role").select_option("Agent")
        console.get_by_role("button", name="Send the invitation").click()
        expect(console.get_by_role("status")).to_have_text(f"Invitation sent to {AGENT_EMAIL}.")
        shot(console, screenshots, "members")

        agent_context = new_context()
        agent = agent_context.new_page()
        agent.on("pageerror", lambda error: problems.append(f"agent: {error}"))
        cdp, authenticator_id = add_virtual_authenticator(agent_context, agent)
        invitation = link_mailed_to(mailbox, AGENT_EMAIL)
        assert mailbox.to(AGENT_EMAIL)[0].message["Subject"] == "You are invited to Acme Downtown"
        agent.goto(invitation)
        expect(agent.get_by_role("heading", name="Choose your password")).to_be_visible()
        choose_password(agent, AGENT_PASSWORD)
        expect(agent.get_by_role("heading", name="Password saved")).to_be_visible()
        agent.get_by_role("link", name="Sign in").click()
        person = Person(AGENT_EMAIL, AGENT_NAME, AGENT_PASSWORD)
        sign_in(agent, person)
        expect(agent.get_by_role("heading", name="Your applications")).to_be_visible()

        # 3. The agent registers a passkey, signs out, and signs in with the password and the passkey.
        agent.goto(f"{idp.base_url}/account/passkeys")
        agent.get_by_label("Name for the new passkey").fill("Work laptop")
        agent.get_by_role("button", name="Add a passkey").click()
        expect(agent.get_by_role("status").filter(has_text="Your passkey was added.")).to_be_visible()
        expect(agent.get_by_role("heading", name="Work laptop")).to_be_visible()
        shot(agent, screenshots, "passkeys")  # axe checks this page in test_passkeys.py
        [credential] = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator_id})["credentials"]
        assert credential["rpId"] == "localhost"

        sign_out(agent, idp)
        sign_in(agent, person)
        expect(agent).to_have_url(f"{idp.base_url}/login/totp")
        expect(agent.get_by_role("heading", name="Use your passkey")).to_be_visible()
        agent.get_by_role("button", name="Use a passkey").click()
        expect(agent.get_by_role("heading", name="Your applications")).to_be_visible()
        expect(agent.locator(".brand-mark")).to_have_text("Acme Downtown")  # the agent's brand
        tile = agent.get_by_role("button", name=APP_NAME)
        expect(tile.locator("img")).to_be_visible()  # the uploaded icon, on the agent's tile
        shot(agent, screenshots, "launcher")
        launcher = agent_context.new_page()  # the launcher the agent keeps open
        launcher.goto(f"{idp.base_url}/")
        expect(launcher.get_by_role("button", name=APP_NAME)).to_be_visible()

        tile.click()
        state = sp_state(agent, sp)
        assert state["signed_in"] is True, state
        assert state["name_id"] == AGENT_EMAIL, state
        assert state["attributes"].get("displayName") == [AGENT_NAME], state
        assert state["authn_contexts"] == [REFEDS_MFA], state
        assert state["errors"] == [], state

    # 4. The admin disables the agent.
    console.goto(f"{idp.base_url}/admin/brands/{idp.office}/members")
    console.get_by_role("link", name=AGENT_NAME).click()
    console.get_by_role("button", name="Disable the account").click()
    expect(console.get_by_role("status")).to_contain_text(f"{AGENT_EMAIL} is disabled")
    expect(console.locator("dl.facts")).to_contain_text("Disabled")
    assert_accessible(console, "story-member-disabled", screenshots)

    # The agent's open launcher stops working, and signing in again is refused.
    launcher.get_by_role("button", name=APP_NAME).click()
    expect(launcher).to_have_url(f"{idp.base_url}/login")
    sign_in(launcher, person)
    expect(launcher.get_by_role("alert")).to_have_text("The email or password is not right.")

    # The brokerage's events show the agent's sign-in and the disable, found by the agent's email.
    console.goto(f"{idp.base_url}/admin/brands/{idp.brokerage}/events")
    console.get_by_label("User (email)").fill(AGENT_EMAIL)
    console.get_by_role("button", name="Filter").click()
    expect(console).to_have_url(re.compile(r"/events\?user="))
    rows = console.get_by_role("region", name="Events").get_by_role("row")
    disabled = rows.filter(has_text="user.disable")
    expect(disabled).to_have_count(1)
    expect(disabled).to_contain_text(admin.email)
    with_the_passkey = rows.filter(has_text="method=passkey")
    expect(with_the_passkey).to_have_count(1)
    expect(with_the_passkey.get_by_role("cell").nth(1)).to_have_text(AGENT_EMAIL)  # the actor
    expect(with_the_passkey.get_by_role("cell").nth(2)).to_have_text("sign_in")
    assert_accessible(console, "story-events-of-agent", screenshots)
    assert problems == [], problems
