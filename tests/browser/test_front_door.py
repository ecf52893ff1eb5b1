"""The IdP's front door in a real Chromium: the login page and its TOTP step, the launcher, opening an
app at a real python3-saml SP (IdP- and SP-initiated), signing out everywhere with single logout,
pages without JavaScript, keyboard order, and forms posted from another origin."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from html import escape

from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.conftest import APP_NAME, Person, serving_page, sign_in
from tests.deployment import Deployment


def sp_state(page: Page, sp: str) -> dict:
    """What the SP's home page, open in the browser, says: it answers JSON about its session."""
    expect(page).to_have_url(f"{sp}/")
    return json.loads(page.locator("body > pre").first.inner_text())


def assert_signed_in_at_sp(page: Page, sp: str, person: Person) -> None:
    state = sp_state(page, sp)
    assert state["signed_in"] is True, state
    assert state["name_id"] == person.email, state
    assert state["name_id_format"] == "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress", state
    assert state["attributes"].get("mail") == [person.email], state
    assert state["attributes"].get("displayName") == [person.display_name], state
    assert state["errors"] == [], state


def at_launcher(page: Page, idp: Deployment) -> None:
    expect(page).to_have_url(f"{idp.base_url}/")
    expect(page.get_by_role("heading", name="Your applications")).to_be_visible()


def signed_in_page(page: Page, idp: Deployment, person: Person) -> Page:
    page.goto(f"{idp.base_url}/login")
    sign_in(page, person)
    at_launcher(page, idp)
    return page


def sign_in_at_sp(page: Page, idp: Deployment, sp: str, person: Person) -> None:
    """SP-initiated: the SP sends the browser to the IdP, which asks who it is and sends it back."""
    page.goto(f"{sp}/login")
    expect(page).to_have_url(re.compile(rf"^{re.escape(idp.base_url)}/login\?request="))
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    sign_in(page, person)
    assert_signed_in_at_sp(page, sp, person)


def sign_out_everywhere(page: Page, idp: Deployment, sp: str) -> None:
    """Click "Sign out" in the launcher; single logout must pass through the SP and end everywhere."""
    page.goto(f"{idp.base_url}/")
    at_launcher(page, idp)
    visited: list[str] = []
    page.on("request", lambda request: visited.append(f"{request.method} {request.url}"))
    page.on("requestfailed", lambda request: visited.append(f"FAILED ({request.failure}) {request.url}"))
    page.on("console", lambda message: visited.append(f"CONSOLE {message.type}: {message.text}"))
    page.get_by_role("button", name="Sign out").click()
    try:
        expect(page.get_by_role("heading", name="You are signed out")).to_be_visible()
    except AssertionError as error:
        raise AssertionError(
            f"signing out never reached the signed-out page; the browser stayed at {page.url} after: {visited}"
        ) from error
    sls = [line for line in visited if line.startswith(f"GET {sp}/sls?SAMLRequest=")]
    assert sls, f"signing out never sent the browser to the SP's SLO endpoint {sp}/sls; it went: {visited}"
    # ... and the SP's LogoutResponse brought it back to the IdP's signed-out page.
    # (at the SLO endpoint of the app's own metadata)
    expect(page).to_have_url(re.compile(rf"^{re.escape(idp.base_url)}/sso_applications/[^/]+/slo\?SAMLResponse="))
    page.goto(f"{sp}/")
    state = sp_state(page, sp)
    assert state["signed_in"] is False, f"the SP still has a session after signing out everywhere: {state}"
    assert state["errors"] == [], state
    page.goto(f"{idp.base_url}/")
    expect(page).to_have_url(f"{idp.base_url}/login")


# --- 1. the login page, with a TOTP step ---------------------------------------------------------


def test_sign_in_with_a_totp_step(idp: Deployment, app: dict, agent: Person, page: Page, screenshots) -> None:
    page.goto(f"{idp.base_url}/login")
    expect(page).to_have_title("Sign in")
    page.screenshot(path=screenshots / "login.png", full_page=True)
    page.get_by_label("Email").fill(agent.email)
    page.get_by_label("Password").fill(agent.password)
    page.get_by_role("button", name="Sign in").click()

    expect(page).to_have_url(f"{idp.base_url}/login/totp")
    expect(page.get_by_role("heading", name="Enter your code")).to_be_visible()
    expect(page.get_by_label("Code")).to_be_focused()
    page.screenshot(path=screenshots / "totp.png", full_page=True)
    # The password alone is not a sign-in: the launcher still sends this browser to the login page.
    before = page.request.get(f"{idp.base_url}/", max_redirects=0)
    assert before.status == 303 and before.headers["location"].endswith("/login"), before.headers

    page.get_by_label("Code").fill(agent.code())
    page.get_by_role("button", name="Continue").click()
    at_launcher(page, idp)
    expect(page.get_by_text(agent.display_name)).to_be_visible()
    expect(page.get_by_role("button", name=APP_NAME)).to_be_visible()
    page.screenshot(path=screenshots / "launcher.png", full_page=True)


def test_wrong_password_and_wrong_code_say_so(idp: Deployment, make_person, page: Page) -> None:
    person = make_person()
    page.goto(f"{idp.base_url}/login")
    page.get_by_label("Email").fill(person.email)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("The email or password is not right.")
    expect(page.get_by_label("Email")).to_have_value(person.email)
    expect(page.get_by_label("Password")).to_have_value("")

    page.get_by_label("Password").fill(person.password)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{idp.base_url}/login/totp")
    right = person.code()
    page.get_by_label("Code").fill(person.wrong_code())
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("alert")).to_have_text("That code is not right, or was used already.")
    page.get_by_label("Code").fill(right)
    page.get_by_role("button", name="Continue").click()
    at_launcher(page, idp)


# --- 2. open an app from the launcher ------------------------------------------------------------


def test_open_an_app_from_the_launcher(idp: Deployment, sp: str, app: dict, agent: Person, page: Page) -> None:
    signed_in_page(page, idp, agent)
    tile = page.get_by_role("button", name=APP_NAME)
    icon = tile.locator("img")
    expect(icon).to_have_attribute("src", f"{idp.base_url}/sso_applications/{app['id']}/icon?v=1")
    page.wait_for_function("img => img.complete", arg=icon.element_handle())
    assert icon.evaluate("img => img.naturalWidth") == 24, "the tile's icon did not load"

    tile.click()
    assert_signed_in_at_sp(page, sp, agent)


def test_open_a_plain_link_app_from_the_launcher(idp: Deployment, make_person, page: Page) -> None:
    """An app without SAML (authentication_type "None") is a link: its tile takes the browser to its URL."""
    with serving_page("<!doctype html><title>Team wiki</title><h1>Team wiki home</h1>") as elsewhere:
        plain = idp.create_app(name="Team wiki", authentication_type="None", url=elsewhere)
        try:
            signed_in_page(page, idp, make_person(mfa=False))
            visited: list[str] = []
            page.on("console", lambda message: visited.append(f"CONSOLE {message.type}: {message.text}"))
            page.on("requestfailed", lambda request: visited.append(f"FAILED ({request.failure}) {request.url}"))
            page.get_by_role("button", name="Team wiki").click()
            try:
                expect(page.get_by_role("heading", name="Team wiki home")).to_be_visible()
            except AssertionError as error:
                raise AssertionError(
                    f"the tile did not open {elsewhere}; the browser stayed at {page.url} after: {visited}"
                ) from error
        finally:
            gone = idp.call("DELETE", f"/brands/{idp.brokerage}/sso_applications/{plain['id']}")
            assert gone.status_code in (200, 204), gone.text


# --- 3. start at the SP ---------------------------------------------------------------------------


def test_sign_in_started_at_the_sp(idp: Deployment, sp: str, app: dict, make_person, page: Page) -> None:
    person = make_person()
    sign_in_at_sp(page, idp, sp, person)
    # The IdP session it started also opens the launcher.
    page.goto(f"{idp.base_url}/")
    at_launcher(page, idp)


# --- 4. sign out everywhere -----------------------------------------------------------------------


def test_sign_out_everywhere_after_opening_the_app_from_the_launcher(
    idp: Deployment, sp: str, app: dict, make_person, page: Page
) -> None:
    person = make_person()
    signed_in_page(page, idp, person)
    page.get_by_role("button", name=APP_NAME).click()
    assert_signed_in_at_sp(page, sp, person)
    sign_out_everywhere(page, idp, sp)


def test_sign_out_everywhere_after_signing_in_at_the_sp(
    idp: Deployment, sp: str, app: dict, make_person, page: Page
) -> None:
    person = make_person()
    sign_in_at_sp(page, idp, sp, person)
    sign_out_everywhere(page, idp, sp)


# --- 5. without JavaScript, by keyboard ------------------------------------------


def test_sign_in_and_open_an_app_without_javascript(
    idp: Deployment, sp: str, app: dict, make_person, new_context: Callable[..., BrowserContext]
) -> None:
    person = make_person()
    page = new_context(java_script_enabled=False).new_page()
    signed_in_page(page, idp, person)
    page.get_by_role("button", name=APP_NAME).click()
    # The page that posts the SAMLResponse cannot post itself: the person continues by hand.
    expect(page.get_by_role("heading", name="Signing you in…")).to_be_visible()
    expect(page).to_have_url(re.compile(rf"^{re.escape(idp.base_url)}/sso_applications/open\?hash="))
    with page.expect_request(lambda request: request.url == f"{sp}/acs" and request.method == "POST"):
        page.get_by_role("button", name="Continue").click()
    assert_signed_in_at_sp(page, sp, person)


def test_keyboard_order_on_the_login_page(idp: Deployment, make_person, page: Page) -> None:
    person = make_person()
    page.goto(f"{idp.base_url}/login")
    expect(page.get_by_label("Email")).to_be_focused()  # autofocus: typing can start at once

    # From the top of the page, Tab goes Email, Password, Sign in.
    page.evaluate("document.activeElement.blur()")
    page.get_by_role("heading", name="Sign in").click()
    order = []
    for _ in range(3):
        page.keyboard.press("Tab")
        order.append(page.evaluate("(e => e.id || e.textContent.trim())(document.activeElement)"))
    assert order == ["email", "password", "Sign in"], order
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("", "none"), "the focused Sign in button shows no focus outline"

    # And a person who only uses the keyboard signs in.
    page.get_by_label("Email").focus()
    page.keyboard.type(person.email)
    page.keyboard.press("Tab")
    page.keyboard.type(person.password)
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{idp.base_url}/login/totp")
    expect(page.get_by_label("Code")).to_be_focused()
    page.keyboard.type(person.code())
    page.keyboard.press("Enter")
    at_launcher(page, idp)
    # The first Tab in the launcher reaches "Your account", then "Sign out", then the app's tile.
    page.evaluate("document.activeElement.blur()")
    page.get_by_role("heading", name="Your applications").click()
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Your account")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Sign out")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name=APP_NAME)).to_be_focused()


# --- 6. forms posted from another origin ---------------------------------------------------------


def forged_login(idp: Deployment, person: Person, *, script: str = "", token: str | None = None) -> str:
    """A page elsewhere that posts the IdP's login form as soon as it opens."""
    token_field = f'<input name="csrf_token" value="{escape(token)}">' if token is not None else ""
    return f"""<!doctype html><title>Win a prize</title>
<form method="post" action="{idp.base_url}/login">
<input name="email" value="{escape(person.email)}"><input name="password" value="{escape(person.password)}">
{token_field}</form>
<script>{script}document.forms[0].submit();</script>"""


def post_from_elsewhere(page: Page, idp: Deployment, html: str) -> int:
    with serving_page(html) as elsewhere:
        assert not elsewhere.startswith(idp.base_url)
        with page.expect_response(lambda r: r.url == f"{idp.base_url}/login" and r.request.method == "POST") as posted:
            page.goto(elsewhere)
        return posted.value.status


def test_a_login_form_posted_from_another_origin_does_not_sign_in(
    idp: Deployment, make_person, page: Page, screenshots
) -> None:
    person = make_person(mfa=False)  # without MFA a forged post that got through would sign in at once
    page.goto(f"{idp.base_url}/login")  # this browser has the IdP's CSRF cookie, as anyone's does
    status = post_from_elsewhere(page, idp, forged_login(idp, person))
    assert status == 403
    expect(page.get_by_text("did not come from this site")).to_be_visible()
    page.screenshot(path=screenshots / "csrf-refused.png", full_page=True)
    page.goto(f"{idp.base_url}/")
    expect(page).to_have_url(f"{idp.base_url}/login")
    # The same credentials through the IdP's own form do sign in: the refusal was the form's origin.
    sign_in(page, person)
    at_launcher(page, idp)


def test_a_csrf_cookie_planted_by_another_origin_does_not_pass(idp: Deployment, make_person, page: Page) -> None:
    """Double-submit CSRF protection trusts any `idp_csrf` cookie equal to the form's field. Cookies are
    not isolated by port (nor from a parent domain), so a page on another origin of the same host can
    plant its own `idp_csrf` (a longer Path makes the browser send it first) and post a matching
    field. The IdP must still refuse a login posted from another origin."""
    person = make_person(mfa=False)
    page.goto(f"{idp.base_url}/login")
    plant = 'document.cookie = "idp_csrf=planted-by-another-origin; path=/login";'
    status = post_from_elsewhere(page, idp, forged_login(idp, person, script=plant, token="planted-by-another-origin"))
    page.goto(f"{idp.base_url}/")
    assert status == 403 and page.url == f"{idp.base_url}/login", (
        f"a login posted from another origin with a planted CSRF cookie was answered {status}, "
        f"and the browser is now signed in as {person.email} (the launcher opened at {page.url})"
    )
