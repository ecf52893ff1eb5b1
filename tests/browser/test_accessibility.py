"""Every page, in Chromium, checked by axe-core (no serious or critical violation) at a phone's width and a
desktop's, with a screenshot of each, and made to fit the phone without scrolling sideways.

PAGES names each page and how to reach it from a browser without cookies; adding a page is one line.
All pages are visited in one browser context (its cookies cleared before each), and each once: both
tests of a page read the same visit.
"""

from __future__ import annotations

import datetime
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Route, expect

from tests.api.smtp_fixtures import Mailbox
from tests.browser.accessibility import PHONE, Audit, assert_accessible, audit, serious_violations
from tests.browser.conftest import Person, link_mailed_to
from tests.deployment import Deployment, cli
from tests.e2e.sp_helpers import redirect_query

NOT_A_PASSWORD = "robin is my password"  # has the person's name in it: refused


@pytest.fixture(scope="module")
def idp(mailbox_and_idp: tuple[Mailbox, Deployment]) -> Deployment:
    return mailbox_and_idp[1]


@pytest.fixture(scope="module")
def mailbox(mailbox_and_idp: tuple[Mailbox, Deployment]) -> Mailbox:
    return mailbox_and_idp[0]


@dataclass
class Site:
    """The deployment and the people the pages are reached with."""

    idp: Deployment
    mailbox: Mailbox
    app: dict
    sp: str  # the app's python3-saml SP, whose ACS the context answers 204
    agent: Person  # has TOTP
    member: Person  # of the office, which has the app (a tile with its icon); no MFA
    loner: Person  # of a brand with no app; no MFA; asks for password links, never used
    chooser: Person  # of the office and of a brand that registers the same SP again; no MFA
    admin: Person = field(init=False)
    sessions: dict[str, list] = field(default_factory=dict)  # cookies of a signed-in session, by email

    def __post_init__(self) -> None:
        self.admin = Person(self.idp.admin_email, "Ann Admin")

    def url(self, path: str) -> str:
        return self.idp.base_url + path.format(brokerage=self.idp.brokerage, office=self.idp.office, app=self.app["id"])

    def open(self, page: Page, path: str, status: int = 200) -> None:
        """`path` may name {brokerage} and {office}, the deployment's brands, and {app}, the brokerage's app."""
        response = page.goto(self.url(path))
        assert response is not None and response.status == status, f"{path}: {response and response.status}"

    def as_person(self, page: Page, person: Person, path: str = "/", *, fresh: bool = False) -> None:
        """Signed in (password only: a person with TOTP stops at the code's page), then at `path`. A session
        is signed in once and its cookies kept for the next page, unless `fresh`."""
        if not fresh and person.email in self.sessions:
            page.context.add_cookies(self.sessions[person.email])
            self.open(page, path)
            return
        self.open(page, "/login")
        page.get_by_label("Email").fill(person.email)
        page.get_by_label("Password").fill(person.password)
        page.get_by_role("button", name="Sign in").click()
        expect(page).not_to_have_url(re.compile(r"/login$"))
        if not fresh and page.url == self.url("/"):
            self.sessions[person.email] = page.context.cookies()
        if page.url != self.url(path):
            self.open(page, path)

    def as_member(self, page: Page, path: str = "/") -> None:
        self.as_person(page, self.member, path)

    def as_admin(self, page: Page, path: str = "/admin") -> None:
        self.as_person(page, self.admin, path)

    def password_link(self, page: Page) -> None:
        """Asks for a password link on the forgot page, and opens the one mailed."""
        before = len(self.mailbox.to(self.loner.email))
        self.open(page, "/login/forgot")
        page.get_by_label("Email").fill(self.loner.email)
        page.get_by_role("button", name="Send the link").click()
        expect(page.get_by_role("heading", name="Check your mail")).to_be_visible()
        page.goto(link_mailed_to(self.mailbox, self.loner.email, before + 1))


def login_error(page: Page, site: Site) -> None:
    site.open(page, "/login")
    page.get_by_label("Email").fill("nobody@acme.example")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_be_visible()


def totp(page: Page, site: Site) -> None:
    site.as_person(page, site.agent, "/login/totp")
    expect(page.get_by_role("heading", name="Enter your code")).to_be_visible()


def totp_error(page: Page, site: Site) -> None:
    totp(page, site)
    page.get_by_label("Code").fill(site.agent.wrong_code())
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("alert")).to_be_visible()


def launcher_empty(page: Page, site: Site) -> None:
    site.as_person(page, site.loner)
    expect(page.get_by_text(site.loner.display_name)).to_be_visible()
    expect(page.get_by_text("No applications are available to you yet.")).to_be_visible()


def launcher(page: Page, site: Site) -> None:
    site.as_member(page)
    expect(page.get_by_text(site.member.display_name)).to_be_visible()
    icon = page.get_by_role("button", name=site.app["name"]).locator("img")
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=icon.element_handle())


def forgot_sent(page: Page, site: Site) -> None:
    site.open(page, "/login/forgot")
    page.get_by_label("Email").fill("nobody@acme.example")
    page.get_by_role("button", name="Send the link").click()
    expect(page.get_by_role("heading", name="Check your mail")).to_be_visible()


def choose_password(page: Page, site: Site) -> None:
    site.password_link(page)
    expect(page.get_by_role("heading", name="Choose a new password")).to_be_visible()


def choose_password_error(page: Page, site: Site) -> None:
    choose_password(page, site)
    page.get_by_label("New password", exact=True).fill(NOT_A_PASSWORD)
    page.get_by_label("New password, again").fill(NOT_A_PASSWORD)
    page.get_by_role("button", name="Save the password").click()
    expect(page.get_by_role("alert")).to_be_visible()


def password_saved(page: Page, site: Site) -> None:
    """The loner's password changes, which ends the loner's sessions: the next page signs in afresh."""
    choose_password(page, site)
    password = f"{site.loner.password} again"
    page.get_by_label("New password", exact=True).fill(password)
    page.get_by_label("New password, again").fill(password)
    page.get_by_role("button", name="Save the password").click()
    expect(page.get_by_role("heading", name="Password saved")).to_be_visible()
    site.loner.password = password
    site.sessions.pop(site.loner.email, None)


def recovery_code_used(page: Page, site: Site) -> None:
    totp(page, site)
    page.get_by_label("Code").fill(site.agent.recovery_codes.pop())
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Recovery code used")).to_be_visible()


def mfa_needed(page: Page, site: Site) -> None:
    """Signing in at the SP, to an app that needs MFA, without MFA: the page that says so."""
    site.idp.update_app(site.app["id"], require_mfa=True)
    try:
        site.as_member(page)
        page.goto(f"{site.sp}/login")
        expect(page.get_by_role("heading", name="Multi-factor authentication needed")).to_be_visible()
    finally:
        site.idp.update_app(site.app["id"], require_mfa=False)


def choose_app(page: Page, site: Site) -> None:
    """An AuthnRequest of the SP, which two of the chooser's brands register, at the IdP's own SSO endpoint
    (the SP's metadata names one app's): the page that asks which one."""
    site.as_person(page, site.chooser)
    issued = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    request = (
        '<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"'
        ' xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"'
        f' ID="_{uuid.uuid4().hex}" Version="2.0" IssueInstant="{issued}"'
        f' Destination="{site.idp.base_url}/saml/sso" AssertionConsumerServiceURL="{site.app["acs_url"]}">'
        f"<saml:Issuer>{site.app['entity_id']}</saml:Issuer></samlp:AuthnRequest>"
    )
    site.open(page, f"/saml/sso?{redirect_query(request.encode())}")
    expect(page.get_by_role("heading", name="Which one?")).to_be_visible()


def signed_out(page: Page, site: Site) -> None:
    site.as_person(page, site.member, fresh=True)  # a session of its own to end
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="You are signed out")).to_be_visible()


def auto_post(page: Page, site: Site) -> None:
    """The page that posts a SAMLResponse to the app's ACS. The context answers that post 204 No Content,
    so the browser stays on the page."""
    site.as_member(page)
    with page.expect_request(site.app["acs_url"]):
        page.get_by_role("button", name=site.app["name"]).click()
    expect(page.get_by_role("heading", name="Signing you in…")).to_be_visible()


def admin_member(page: Page, site: Site) -> None:
    site.as_admin(page, "/admin/brands/{office}/members")
    page.locator("main table a").first.click()
    expect(page.get_by_role("heading", level=1)).to_be_visible()


def admin_member_remove(page: Page, site: Site) -> None:
    admin_member(page, site)
    page.get_by_role("link", name=re.compile(r"^Remove from ")).click()
    expect(page.get_by_role("heading", level=1)).to_be_visible()


PAGES: dict[str, Callable[[Page, Site], None]] = {
    "login": lambda page, site: site.open(page, "/login"),
    "login-error": login_error,
    "totp": totp,
    "totp-error": totp_error,
    "launcher-empty": launcher_empty,
    "launcher": launcher,
    "forgot": lambda page, site: site.open(page, "/login/forgot"),
    "forgot-sent": forgot_sent,
    "choose-password": choose_password,
    "choose-password-error": choose_password_error,
    "error": lambda page, site: site.open(page, "/password?token=not-a-token", status=400),
    "password-saved": password_saved,
    "recovery-code-used": recovery_code_used,
    "signed-out": signed_out,
    "auto-post": auto_post,
    "mfa-needed": mfa_needed,
    "choose-app": choose_app,
    "admin": lambda page, site: site.as_admin(page, "/admin"),
    "admin-brand": lambda page, site: site.as_admin(page, "/admin/brands/{brokerage}"),
    "admin-brand-office": lambda page, site: site.as_admin(page, "/admin/brands/{office}"),
    "admin-apps": lambda page, site: site.as_admin(page, "/admin/brands/{brokerage}/apps"),
    "admin-apps-search": lambda page, site: site.as_admin(page, "/admin/brands/{brokerage}/apps?q=nothing+like+it"),
    "admin-apps-new": lambda page, site: site.as_admin(page, "/admin/brands/{brokerage}/apps/new"),
    "admin-apps-import": lambda page, site: site.as_admin(page, "/admin/brands/{brokerage}/apps/import"),
    "admin-app": lambda page, site: site.as_admin(page, "/admin/brands/{brokerage}/apps/{app}"),
    "admin-app-edit": lambda page, site: site.as_admin(page, "/admin/brands/{brokerage}/apps/{app}/edit"),
    "admin-app-delete": lambda page, site: site.as_admin(page, "/admin/brands/{brokerage}/apps/{app}/delete"),
    "admin-members": lambda page, site: site.as_admin(page, "/admin/brands/{office}/members"),
    "admin-members-invite": lambda page, site: site.as_admin(page, "/admin/brands/{office}/members/invite"),
    "admin-member": admin_member,
    "admin-member-remove": admin_member_remove,
    "admin-events": lambda page, site: site.as_admin(page, "/admin/brands/{brokerage}/events"),
    "admin-settings": lambda page, site: site.as_admin(page, "/admin/brands/{brokerage}/settings"),
    "login-branded": lambda page, site: site.open(page, "/login?brand={brokerage}"),
    "account": lambda page, site: site.as_member(page, "/account"),
    "account-mfa": lambda page, site: site.as_member(page, "/account/mfa"),
    "account-passkeys": lambda page, site: site.as_member(page, "/account/passkeys"),
}


@pytest.fixture(scope="module")
def site(idp: Deployment, mailbox: Mailbox, app: dict, sp: str, agent: Person, make_person) -> Site:
    lone_brand = cli(idp.env, "brands", "create", "Harbour Homes")["id"]
    # A light accent, the hardest for contrast: the pages must keep text readable whatever an admin picks.
    cli(idp.env, "brands", "update", idp.brokerage, "--display-name", "Acme Realty", "--accent-color", "#ffd400")
    # Another brokerage registers the same SP: a member of both brands chooses at sign-in.
    second_brand = cli(idp.env, "brands", "create", "Bayside Realty")["id"]
    cli(idp.env, "members", "add", second_brand, idp.admin_email, "--role", "Admin")
    again = {"name": "Listings at Bayside", "authentication_type": "SAML", "brands": [second_brand]}
    fields = ("acs_url", "entity_id", "slo_url", "slo_binding")
    registered = idp.call(
        "POST", f"/brands/{second_brand}/sso_applications", json={**again, **{name: app[name] for name in fields}}
    )
    assert registered.status_code == 200, registered.text
    chooser = make_person(mfa=False)
    cli(idp.env, "members", "add", second_brand, chooser.email, "--role", "Agent")
    return Site(
        idp,
        mailbox,
        app,
        sp,
        agent,
        member=make_person(mfa=False),
        loner=make_person(mfa=False, brand=lone_brand),
        chooser=chooser,
    )


@pytest.fixture(scope="module")
def context(browser: Browser, app: dict) -> Iterator[BrowserContext]:
    """The one context of the tour; made without bypass_csp (see tests/browser/accessibility.py)."""
    context = browser.new_context(viewport=PHONE.viewport)
    context.set_default_timeout(15_000)

    def no_content(route: Route) -> None:
        route.fulfill(status=204)

    context.route(app["acs_url"], no_content)
    yield context
    context.close()


@pytest.fixture(scope="module")
def visits(context: BrowserContext, site: Site, screenshots: Path) -> Callable[[str], Audit]:
    """The audit of a page by name, made on first asking: one visit serves both tests of a page."""
    done: dict[str, Audit] = {}
    page = context.new_page()

    def visit(name: str) -> Audit:
        if name not in done:
            context.clear_cookies()
            PAGES[name](page, site)
            done[name] = audit(page, name, screenshots)
        return done[name]

    return visit


@pytest.mark.parametrize("name", list(PAGES))
def test_no_serious_or_critical_accessibility_violation(name: str, visits: Callable[[str], Audit]) -> None:
    found = visits(name)
    report = found.violations_report()
    if report:
        pytest.fail(f"accessibility violations on {found.url}:\n{report}", pytrace=False)


@pytest.mark.parametrize("name", list(PAGES))
def test_fits_a_phone_without_scrolling_sideways(name: str, visits: Callable[[str], Audit]) -> None:
    found = visits(name)
    (phone,) = [look for look in found.looks if look.width == PHONE]
    if phone.scrolls_sideways:
        pytest.fail(
            f"{found.url} is {phone.scroll_width}px wide at a {phone.inner_width}px phone (see {phone.screenshot})",
            pytrace=False,
        )


# --- the check itself ------------------------------------------------------------------------------


def test_axe_runs_under_the_production_csp(context: BrowserContext, site: Site) -> None:
    """axe runs, and the page keeps its nonce-only script policy: an inline script without the nonce is
    still refused while the check runs."""
    page = context.new_page()
    try:
        context.clear_cookies()
        response = page.goto(site.url("/login"))
        assert response is not None
        assert "script-src 'nonce-" in response.headers["content-security-policy"]
        assert serious_violations(page) == ()
        assert page.evaluate("typeof axe.run") == "function", "axe-core did not load into the page"
        ran = page.evaluate(
            """() => {
                window.inlineRan = false;
                const script = document.createElement("script");
                script.textContent = "window.inlineRan = true";
                document.head.append(script);
                return window.inlineRan;
            }"""
        )
        assert ran is False, "an inline script without the nonce ran: the page's CSP is not in force"
    finally:
        page.close()


def test_the_check_fails_on_a_missing_label_poor_contrast_tiny_targets_and_a_wide_page(
    context: BrowserContext, site: Site, tmp_path: Path
) -> None:
    """The check fails, naming rule, impact and node, once the login page loses its Email label, its
    heading turns pale grey and two buttons shrink to 12px; and it sees the page scroll sideways once a
    600px-wide box is in it."""
    page = context.new_page()
    try:
        context.clear_cookies()
        page.goto(site.url("/login"))
        page.evaluate(
            """() => {
                document.querySelector("label[for=email]").remove();
                document.querySelector("h1").style.color = "#c8c8c8";
                const wide = document.createElement("p");
                wide.style.width = "600px";
                wide.textContent = "A line as wide as two phones.";
                document.querySelector("main").append(wide);
                const row = document.createElement("div");
                document.querySelector("form").append(row);
                for (const name of ["Smaller", "Smallest"]) {
                    const tiny = document.createElement("button");
                    tiny.textContent = name;
                    Object.assign(tiny.style, {width: "12px", height: "12px", padding: "0", margin: "0"});
                    row.append(tiny);
                }
            }"""
        )
        found = audit(page, "broken-login", tmp_path)
        assert [look.scrolls_sideways for look in found.looks] == [True, False]
        with pytest.raises(AssertionError) as failure:
            assert_accessible(page, "broken-login", tmp_path)
        message = str(failure.value)
        assert "label (critical)" in message and "#email" in message, message
        assert "color-contrast (serious)" in message and "h1" in message, message
        assert "target-size (serious)" in message, message
        assert "at 375px" in message and "at 1280px" in message, message
        assert sorted(path.name for path in tmp_path.iterdir()) == ["broken-login-1280.png", "broken-login-375.png"]
    finally:
        page.close()
