"""Passkeys in a real Chromium, with its virtual authenticator driven through the DevTools protocol
(CTAP2, internal transport, resident keys, user verification): an agent registers a passkey on
/account/passkeys, signs out, signs in with the password and the passkey as the second factor,
launches an app with `require_mfa` into a real python3-saml SP, which reads the REFEDS MFA class
in the assertion; then turns on signing in without a password and signs in with the passkey alone.

The IdP here is named `localhost`: WebAuthn takes a domain as its RP id, never an IP address."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from tests.browser.accessibility import assert_accessible
from tests.browser.conftest import APP_NAME, MAPPINGS, Person, sign_out, virtual_authenticator
from tests.browser.test_front_door import sp_state
from tests.deployment import Deployment, deploy

REFEDS_MFA = "https://refeds.org/profile/mfa"


@pytest.fixture(scope="module")
def idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    with deploy(tmp_path_factory.mktemp("passkeys-idp"), None, host_name="localhost") as deployment:
        assert deployment.base_url.startswith("http://localhost:")
        yield deployment


@pytest.fixture(scope="module")
def app(idp: Deployment, sp_port: int) -> dict:
    """The SP as an application of the brokerage that every sign-in to must be MFA."""
    sp = f"http://127.0.0.1:{sp_port}"
    return idp.create_app(
        name=APP_NAME, acs_url=f"{sp}/acs", entity_id=f"{sp}/metadata", mappings=MAPPINGS, require_mfa=True
    )


def test_register_a_passkey_then_sign_in_with_it_as_second_factor_and_alone(
    idp: Deployment, sp: str, app: dict, make_person, new_context, screenshots
) -> None:
    person: Person = make_person(mfa=False)
    context = new_context()
    page = context.new_page()
    cdp, authenticator_id = virtual_authenticator(context, page)
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))  # the passkey script never throws

    # Signed in with the password (no second factor yet), the agent adds a passkey.
    page.goto(f"{idp.base_url}/account/passkeys")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.get_by_label("Email").fill(person.email)
    page.get_by_label("Password").fill(person.password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Your passkeys")).to_be_visible()
    page.get_by_label("Name for the new passkey").fill("Chromium")
    page.get_by_role("button", name="Add a passkey").click()
    expect(page.get_by_role("status").filter(has_text="Your passkey was added.")).to_be_visible()
    expect(page.get_by_role("heading", name="Chromium")).to_be_visible()
    looked = assert_accessible(page, "passkeys-one", screenshots)
    assert not any(look.scrolls_sideways for look in looked.looks), "the page scrolls sideways on a phone"
    [credential] = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator_id})["credentials"]
    assert credential["isResidentCredential"] is True
    assert credential["rpId"] == "localhost"

    # Signed out, the password now leads to the passkey step, and the passkey signs in.
    sign_out(page, idp)
    page.get_by_label("Email").fill(person.email)
    page.get_by_label("Password").fill(person.password)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{idp.base_url}/login/totp")
    expect(page.get_by_role("heading", name="Use your passkey")).to_be_visible()
    assert_accessible(page, "passkey-step", screenshots)
    page.get_by_role("button", name="Use a passkey").click()
    expect(page.get_by_role("heading", name="Your applications")).to_be_visible()

    # The app with require_mfa opens: the assertion carries the REFEDS MFA class.
    page.get_by_role("button", name=APP_NAME).click()
    state = sp_state(page, sp)
    assert state["signed_in"] is True, state
    assert state["name_id"] == person.email, state
    assert state["authn_contexts"] == [REFEDS_MFA], state
    assert state["errors"] == [], state

    # Signing in without a password, once turned on.
    page.goto(f"{idp.base_url}/account/passkeys")
    page.get_by_role("checkbox", name=re.compile("Sign in without a password")).check()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status").filter(has_text="You can now sign in with a passkey alone.")).to_be_visible()
    sign_out(page, idp)
    assert_accessible(page, "login-with-passkey", screenshots)
    page.get_by_role("button", name="Use a passkey").click()
    expect(page.get_by_role("heading", name="Your applications")).to_be_visible()
    expect(page.get_by_text(person.display_name)).to_be_visible()
    page.get_by_role("button", name=APP_NAME).click()
    state = sp_state(page, sp)
    assert state["authn_contexts"] == [REFEDS_MFA], state
    [used] = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator_id})["credentials"]
    assert used["signCount"] >= 2, used
    assert problems == [], problems
