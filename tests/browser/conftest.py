"""End-to-end tests in a real browser: Debian's Chromium, headless, driven by Playwright.

One Chromium for the session; per module, a real gunicorn IdP (tests/deployment.py) and a real
python3-saml SP (tests/python3_saml_sp.py) registered with it as an SSO application. Each test gets
fresh browser contexts (own cookies), and people of its own where it signs in, so TOTP codes, which
the IdP accepts only once, never run out.

Never run `playwright install`: the tests drive /usr/bin/chromium (Debian package `chromium`).
"""

from __future__ import annotations

import contextlib
import itertools
import re
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyotp
import pytest
import requests
from playwright.sync_api import Browser, BrowserContext, CDPSession, Page, expect, sync_playwright
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from tests.api.smtp_fixtures import Mailbox, make_pki, smtp_server
from tests.deployment import Deployment, cli, deploy
from tests.python3_saml_sp import SpOptions, running_sp
from tests.support import PASSWORD, free_port, http_ok, wait_until

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
TOTP_STEP = 30
BINDING_HTTP_REDIRECT = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
MAPPINGS = {"mail": "email", "displayName": "display_name"}
APP_NAME = "Listings portal"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(item.fspath).parents:
            item.add_marker(pytest.mark.browser)


# --- the browser -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (never `playwright install`)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def new_context(browser: Browser) -> Iterator[Callable[..., BrowserContext]]:
    """Fresh browser contexts (own cookie jars), all closed after the test."""
    opened: list[BrowserContext] = []

    def make(**options) -> BrowserContext:
        context = browser.new_context(**options)
        context.set_default_timeout(15_000)
        opened.append(context)
        return context

    yield make
    for context in opened:
        context.close()


@pytest.fixture
def page(new_context) -> Page:
    return new_context().new_page()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


# --- the IdP, the SP and the app ---------------------------------------------------------------


@pytest.fixture(scope="module")
def idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """A real gunicorn IdP (embedded store) with a brokerage admin, an office agent and an API client."""
    with deploy(tmp_path_factory.mktemp("browser-idp"), None) as deployment:
        yield deployment


@contextlib.contextmanager
def mailing_deployment(
    tmp_path_factory: pytest.TempPathFactory, *, host_name: str = "127.0.0.1"
) -> Iterator[tuple[Mailbox, Deployment]]:
    """A deployment like `idp`'s, sending its mail through a real SMTP server over STARTTLS; `host_name`
    as in `deploy` (`localhost` where passkeys are used)."""
    pki = make_pki(tmp_path_factory.mktemp("smtp-pki"))
    with smtp_server(pki) as smtp:
        extra = {"SMTP_URL": smtp.url, "SMTP_CA_FILE": str(pki.ca_file)}
        with deploy(tmp_path_factory.mktemp("browser-idp-mail"), None, extra, host_name=host_name) as deployment:
            yield smtp.mailbox, deployment


@pytest.fixture(scope="module")
def mailbox_and_idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Mailbox, Deployment]]:
    """The deployment of `idp`, sending its mail through a real SMTP server over STARTTLS. A module that
    needs mail overrides `idp` (and adds `mailbox`) with this one's halves."""
    with mailing_deployment(tmp_path_factory) as mailbox_and_deployment:
        yield mailbox_and_deployment


PASSWORD_LINK = re.compile(r"https?://[^\s\"<>]+/password\?token=[A-Za-z0-9_%\-]+")


def link_mailed_to(mailbox: Mailbox, email: str, count: int = 1) -> str:
    """The password link of the `count`-th mail to `email`, waited for (gunicorn sends it while answering)."""
    wait_until(lambda: len(mailbox.to(email)) >= count, timeout=10, what=f"mail number {count} to {email}")
    text = mailbox.to(email)[count - 1].message.get_body(("plain",)).get_content()
    (link,) = set(PASSWORD_LINK.findall(text))
    return link


@pytest.fixture(scope="module")
def sp_port() -> int:
    """The SP's port, known before the SP starts: its app is registered first, then it reads the app's metadata."""
    return free_port()


def png(width: int = 24, height: int = 24, rgb: tuple[int, int, int] = (11, 87, 208)) -> bytes:
    """A small, valid PNG made from first principles (filter byte 0, RGB, 8 bits)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def app(idp: Deployment, sp_port: int) -> dict:
    """The SP as a SAML application of the brokerage (so of its office too), with single logout and an icon."""
    sp = f"http://127.0.0.1:{sp_port}"
    created = idp.create_app(
        name=APP_NAME,
        acs_url=f"{sp}/acs",
        entity_id=f"{sp}/metadata",
        slo_url=f"{sp}/sls",
        slo_binding=BINDING_HTTP_REDIRECT,
        mappings=MAPPINGS,
    )
    response = idp.call(
        "PUT",
        f"/brands/{idp.brokerage}/sso_applications/{created['id']}/icon",
        files={"icon": ("icon.png", png(), "image/png")},
    )
    assert response.status_code == 200, response.text
    assert response.json()["data"]["icon"], "the answer names the icon's URL"
    return response.json()["data"]


@pytest.fixture(scope="module")
def sp(idp: Deployment, app: dict, sp_port: int) -> Iterator[str]:
    """A python3-saml SP (strict) configured from its app's IdP metadata; yields its base URL."""
    metadata = requests.get(f"{idp.base_url}/sso_applications/{app['id']}/metadata", timeout=10)
    assert metadata.status_code == 200, metadata.text
    with running_sp(metadata.content, SpOptions(), port=sp_port) as base_url:
        assert app["acs_url"] == f"{base_url}/acs"
        yield base_url


# --- people ------------------------------------------------------------------------------------


@dataclass
class Person:
    email: str
    display_name: str
    password: str = PASSWORD
    totp: pyotp.TOTP | None = None
    recovery_codes: list[str] = field(default_factory=list)  # as shown when MFA was turned on
    used_steps: set[int] = field(default_factory=set)

    def code(self) -> str:
        """A TOTP code the IdP will take: within its one-step drift and never used before (it refuses
        a step twice). When all are used, poll until the clock opens a new step."""
        assert self.totp is not None, f"{self.email} has no MFA"
        found: list[int] = []

        def unused() -> bool:
            now = time.time()
            current = int(now // TOTP_STEP)
            # The step before is only offered early in a step, so it stays valid until the server checks it.
            candidates = [current, current + 1] + ([current - 1] if now % TOTP_STEP < 20 else [])
            found[:] = [step for step in candidates if step not in self.used_steps]
            return bool(found)

        wait_until(unused, timeout=TOTP_STEP + 5, what="an unused TOTP step")
        self.used_steps.add(found[0])
        return self.totp.generate_otp(found[0])

    def wrong_code(self) -> str:
        """Six digits that are no code of any step near now."""
        assert self.totp is not None, f"{self.email} has no MFA"
        current = int(time.time() // TOTP_STEP)
        near = {self.totp.generate_otp(step) for step in range(current - 3, current + 4)}
        return next(
            code
            for code in ("000000", "123456", "999999", "424242", "101010", "777777", "868686", "135790")
            if code not in near
        )


def turn_on_mfa(idp: Deployment, person: Person) -> None:
    """MFA through the API, as an app would: setup, then verify a code pyotp made from the otpauth URL."""
    headers = {"Authorization": f"Bearer {idp.token(person.email)}"}
    setup = requests.post(f"{idp.base_url}/users/self/mfa/setup", headers=headers, timeout=10)
    assert setup.status_code == 200, setup.text
    person.totp = pyotp.parse_uri(setup.json()["data"]["mfa_url"])
    assert isinstance(person.totp, pyotp.TOTP)
    verify = requests.post(
        f"{idp.base_url}/users/self/mfa/verify", headers=headers, json={"token": person.code()}, timeout=10
    )
    assert verify.status_code == 200, verify.text
    assert verify.json()["data"]["mfa_enabled"] is True
    person.recovery_codes = list(verify.json()["data"]["mfa_recovery_codes"])


@pytest.fixture(scope="module")
def agent(idp: Deployment) -> Person:
    """The deployment's office agent, agent@acme.example, with TOTP MFA."""
    person = Person(idp.agent_email, "Avery Agent")
    turn_on_mfa(idp, person)
    return person


_serial = itertools.count(1)


@pytest.fixture(scope="module")
def make_person(idp: Deployment) -> Callable[..., Person]:
    """Another agent of the office (or of `brand`), made with the `idp` command; with MFA unless told otherwise."""

    def make(*, mfa: bool = True, brand: str | None = None) -> Person:
        number = next(_serial)
        email = f"agent{number}@acme.example"
        cli(
            idp.env,
            "users",
            "create",
            email,
            "--first-name",
            "Robin",
            "--last-name",
            f"Agent{number}",
            "--password-stdin",
            "--brand",
            brand or idp.office,
            "--role",
            "Agent",
            stdin=PASSWORD + "\n",
        )
        person = Person(email, f"Robin Agent{number}")
        if mfa:
            turn_on_mfa(idp, person)
        return person

    return make


# --- pages the tests need ----------------------------------------------------------------------


def sign_in(page: Page, person: Person) -> None:
    """Fill the login page (already open) by its labels, and the TOTP page when one comes."""
    page.get_by_label("Email").fill(person.email)
    page.get_by_label("Password").fill(person.password)
    page.get_by_role("button", name="Sign in").click()
    if person.totp is not None:
        expect(page).to_have_url(re.compile(r"/login/totp$"))
        page.get_by_label("Code").fill(person.code())
        page.get_by_role("button", name="Continue").click()


def sign_out(page: Page, idp: Deployment) -> None:
    """Sign out from the launcher; the launcher then asks to sign in."""
    page.goto(f"{idp.base_url}/")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="You are signed out")).to_be_visible()
    page.goto(f"{idp.base_url}/")
    expect(page).to_have_url(f"{idp.base_url}/login")


def virtual_authenticator(context: BrowserContext, page: Page) -> tuple[CDPSession, str]:
    """A platform authenticator in the page's Chromium (through the DevTools protocol: CTAP2, internal
    transport) that holds discoverable keys and verifies its user; the session and the authenticator's id.
    WebAuthn takes a domain as its RP id, never an IP address: the IdP must be deployed as `localhost`."""
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable", {"enableUI": False})
    added = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    return cdp, added["authenticatorId"]


@contextlib.contextmanager
def serving_page(html: str) -> Iterator[str]:
    """One HTML page on another loopback port (another origin); yields its URL and always stops it."""

    @Request.application
    def answer(request: Request) -> Response:
        return Response(html, content_type="text/html; charset=utf-8")

    port = free_port()
    server = make_server("127.0.0.1", port, answer, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{port}/"
        wait_until(http_ok(url), what="the other origin's page")
        yield url
    finally:
        server.shutdown()
        thread.join(timeout=10)
