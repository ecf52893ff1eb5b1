"""The account page (/account) through Flask's test client: changing the password, setting MFA up from the
QR code (decoded by zbar from librsvg's rendering, codes made by pyotp), recovery codes, and sessions."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest
from lxml import etree

from idp.models import Participant, SsoApplication
from idp.web.pages import SESSION_COOKIE
from tests.api.people_helpers import SAME_ORIGIN, browser_sign_in, csrf_of, is_signed_in
from tests.console.conftest import document, sign_in_from
from tests.support import PASSWORD, QR_ONLY

NEW_PASSWORD = "amber lantern orchard 42"
SVG = "http://www.w3.org/2000/svg"
POSTS = [
    "/account/password",
    "/account/mfa/setup",
    "/account/mfa/verify",
    "/account/mfa/disable",
    "/account/recovery-codes",
    "/account/sessions/end-others",
]


def post(browser, path: str, data: dict[str, str] | None = None, *, page: str = "/account"):
    """A form of ours posted as the browser would: its CSRF token, from our own origin."""
    token = csrf_of(browser.get(page))
    return browser.post(path, data={"csrf_token": token, **(data or {})}, headers=SAME_ORIGIN)


def field_error(response, name: str) -> str:
    """The message shown next to the field, tied to it by aria-describedby."""
    page = document(response)
    (field,) = page.xpath(f"//input[@name='{name}']")
    assert field.get("aria-invalid") == "true"
    assert f"{name}-error" in field.get("aria-describedby").split()
    return page.get_element_by_id(f"{name}-error").text_content()


def decode_qr(svg: str, tmp_path: Path) -> str:
    """What an independent reader sees in the page's QR code: librsvg draws it, zbar reads it."""
    for tool in ("rsvg-convert", "zbarimg"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is missing: scripts/system-packages installs it (librsvg2-bin, zbar-tools)")
    source, picture = tmp_path / "qr.svg", tmp_path / "qr.png"
    source.write_text(svg)
    subprocess.run(["rsvg-convert", "-b", "white", str(source), "-o", str(picture)], check=True, timeout=30)
    read = subprocess.run(
        ["zbarimg", "--quiet", "--raw", *QR_ONLY, str(picture)], capture_output=True, text=True, check=True, timeout=30
    )
    return read.stdout.strip()


def set_up_mfa(browser, tmp_path: Path) -> tuple[pyotp.TOTP, list[str]]:
    """MFA on from the page, as a person with a phone would: scan the QR code, type the code it shows."""
    began = post(browser, "/account/mfa/setup", page="/account/mfa")
    assert began.status_code == 303 and began.headers["Location"] == "/account/mfa"
    page = document(browser.get("/account/mfa"))
    (svg,) = page.xpath("//figure[@class='qr']/svg")
    svg.set("xmlns", SVG)  # inline in HTML it needs none; as a file of its own it does
    uri = decode_qr(etree.tostring(svg, encoding="unicode"), tmp_path)
    totp = pyotp.parse_uri(uri)
    assert isinstance(totp, pyotp.TOTP)
    assert totp.secret == page.get_element_by_id("secret").text_content()
    done = post(browser, "/account/mfa/verify", {"code": totp.now()}, page="/account/mfa")
    assert done.status_code == 200, done.get_data(as_text=True)
    codes = document(done).xpath("//ol[@class='codes']/li/code/text()")
    return totp, codes


def next_code(totp: pyotp.TOTP) -> str:
    """A code of the next step (within the allowed drift), since the current one was used already."""
    return totp.at(time.time() + 30)


# --- the door ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/account", "/account/mfa"])
def test_without_a_session_the_page_sends_the_browser_to_sign_in_and_back(app, path):
    answer = app.test_client().get(path)
    assert answer.status_code == 303
    location = urlsplit(answer.headers["Location"])
    assert (location.path, parse_qs(location.query)) == ("/login", {"next": [path]})


def test_signing_in_from_the_account_page_comes_back_to_it(app, tree):
    answer = sign_in_from(app, tree.agent, "/account")
    assert answer.status_code == 303 and answer.headers["Location"].endswith("/account")


def test_the_launcher_links_to_the_account_page_and_it_leads_to_passkeys(tree, signed_in):
    browser = signed_in(tree.agent)
    assert document(browser.get("/")).xpath("//header//a[@href='/account']")
    page = document(browser.get("/account"))
    assert page.xpath("//section[@id='passkeys']//a/@href") == ["/account/passkeys"]
    assert tree.agent.email in page.text_content()
    assert page.xpath("//nav//a[@aria-current='page']/@href") == ["/account"]


@pytest.mark.parametrize("path", POSTS)
def test_every_form_refuses_a_cross_site_post(tree, signed_in, path):
    browser = signed_in(tree.agent)
    token = csrf_of(browser.get("/account"))
    cross_site = browser.post(path, data={"csrf_token": token}, headers={"Sec-Fetch-Site": "cross-site"})
    no_word = browser.post(path, data={"csrf_token": token}, headers={"Origin": "http://evil.example"})
    no_token = browser.post(path, data={}, headers=SAME_ORIGIN)
    assert [cross_site.status_code, no_word.status_code, no_token.status_code] == [403, 403, 403]
    assert is_signed_in(browser)


# --- the password -----------------------------------------------------------------------------


def test_changing_the_password_ends_every_other_session_and_token_but_keeps_this_browser(
    app, tree, signed_in, store, client, api
):
    other = signed_in(tree.agent)
    token = api.token(tree.agent)
    browser = signed_in(tree.agent)
    old_cookie = browser.get_cookie(SESSION_COOKIE).value
    answer = post(
        browser,
        "/account/password",
        {"current_password": PASSWORD, "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD},
    )
    assert answer.status_code == 303 and answer.headers["Location"] == "/account?done=password"
    assert browser.get_cookie(SESSION_COOKIE).value != old_cookie, "a fresh session, not the old one"
    page = document(browser.get(answer.headers["Location"]))
    assert "Your password is changed" in page.xpath("string(//p[@role='status'])")
    assert not is_signed_in(other)
    assert client.get("/users/self", headers={"Authorization": f"Bearer {token['access_token']}"}).status_code == 401
    refreshed = client.post(
        "/oauth2/token",
        json={
            "grant_type": "refresh_token",
            "refresh_token": token["refresh_token"],
            "client_id": api.oauth_client.client.id,
            "client_secret": api.oauth_client.secret,
        },
    )
    assert refreshed.status_code == 400
    assert [s.current for s in app.extensions["idp"].accounts.sessions.of(tree.agent.id)] == [False]
    browser_sign_in(app, tree.agent.email, NEW_PASSWORD)
    assert app_sign_in_step(app, tree.agent.email).status_code == 401, "the old password no longer signs in"


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        ({"current_password": "not it at all", "new_password": NEW_PASSWORD}, "current_password", "is wrong"),
        ({"current_password": PASSWORD, "new_password": "short"}, "new_password", "at least 10 characters"),
        ({"current_password": PASSWORD, "new_password": "Agent's long password"}, "new_password", "your name"),
        (
            {"current_password": PASSWORD, "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD + "!"},
            "confirm_password",
            "not the same",
        ),
    ],
)
def test_a_refused_password_is_named_next_to_its_field_and_nothing_changes(tree, signed_in, form, field, message):
    browser = signed_in(tree.agent)
    data = {"confirm_password": form["new_password"], **form}
    answer = post(browser, "/account/password", data)
    assert answer.status_code == 400
    assert message in field_error(answer, field)
    assert is_signed_in(browser)
    browser_sign_in(browser.application, tree.agent.email)  # the old password still works


def test_wrong_current_passwords_count_toward_the_sign_in_throttle(tree, signed_in):
    browser = signed_in(tree.agent)
    wrong = {"current_password": "wrong password", "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD}
    for _ in range(10):
        assert post(browser, "/account/password", wrong).status_code == 400
    right = {**wrong, "current_password": PASSWORD}
    assert post(browser, "/account/password", right).status_code == 429


# --- MFA and recovery codes -------------------------------------------------------------------


def test_mfa_set_up_from_the_qr_code_turns_on_and_shows_ten_recovery_codes(tree, signed_in, store, tmp_path):
    browser = signed_in(tree.agent)
    assert document(browser.get("/account")).xpath("//section[@id='recovery-codes']") == []
    _, codes = set_up_mfa(browser, tmp_path)
    assert len(set(codes)) == 10
    assert store.user(tree.agent.id).mfa_enabled
    page = document(browser.get("/account"))
    assert page.get_element_by_id("recovery-left").text_content() == "10 recovery codes left."
    # The code proved the factor: this browser's session now counts as MFA.
    assert page.xpath("//tr[@class='current']/td[2]/text()") == ["Yes"]
    # Signing in again asks for the code.
    again = app_sign_in_step(browser.application, tree.agent.email)
    assert again.headers["Location"] == "/login/totp"


def app_sign_in_step(app, email: str):
    fresh = app.test_client()
    return post(fresh, "/login", {"email": email, "password": PASSWORD}, page="/login")


def test_a_wrong_setup_code_is_refused_next_to_the_field_and_the_same_key_stays(tree, signed_in, store):
    browser = signed_in(tree.agent)
    post(browser, "/account/mfa/setup", page="/account/mfa")
    secret = document(browser.get("/account/mfa")).get_element_by_id("secret").text_content()
    wrong = "000000" if pyotp.TOTP(secret).now() != "000000" else "111111"
    answer = post(browser, "/account/mfa/verify", {"code": wrong}, page="/account/mfa")
    assert answer.status_code == 400
    assert "wrong" in field_error(answer, "code")
    assert document(answer).get_element_by_id("secret").text_content() == secret
    assert not store.user(tree.agent.id).mfa_enabled


def test_the_page_does_not_embed_images_the_csp_would_block(tree, signed_in):
    browser = signed_in(tree.agent)
    post(browser, "/account/mfa/setup", page="/account/mfa")
    answer = browser.get("/account/mfa")
    assert "img-src 'self'" in answer.headers["Content-Security-Policy"]
    assert "data:" not in answer.get_data(as_text=True)


def test_turning_mfa_off_asks_for_a_current_code(tree, signed_in, store, tmp_path):
    browser = signed_in(tree.agent)
    totp, _ = set_up_mfa(browser, tmp_path)
    refused = post(browser, "/account/mfa/disable", {"code": "12345"}, page="/account/mfa")
    assert refused.status_code == 400 and "wrong" in field_error(refused, "code")
    assert store.user(tree.agent.id).mfa_enabled
    done = post(browser, "/account/mfa/disable", {"code": next_code(totp)}, page="/account/mfa")
    assert done.status_code == 303 and done.headers["Location"] == "/account?done=mfa-off"
    assert not store.user(tree.agent.id).mfa_enabled
    assert store.recovery_codes(tree.agent.id) is None


def test_replacing_recovery_codes_asks_for_the_second_factor_and_voids_the_old_ones(app, tree, signed_in, tmp_path):
    browser = signed_in(tree.agent)
    totp, old_codes = set_up_mfa(browser, tmp_path)
    refused = post(browser, "/account/recovery-codes", {"recovery_code": "000000"})
    assert refused.status_code == 400
    assert "wrong" in field_error(refused, "recovery_code")
    # One recovery code used up: the count says so; another one can stand in for the factor.
    recovery = app.extensions["idp"].accounts.mfa.recovery
    assert recovery.consume(tree.agent.id, old_codes[0]) == 9
    assert "9 recovery codes left." in document(browser.get("/account")).text_content()
    shown = post(browser, "/account/recovery-codes", {"recovery_code": next_code(totp)})
    assert shown.status_code == 200
    new_codes = document(shown).xpath("//ol[@class='codes']/li/code/text()")
    assert len(new_codes) == 10 and not set(new_codes) & set(old_codes)
    assert recovery.consume(tree.agent.id, old_codes[1]) is None
    assert recovery.consume(tree.agent.id, new_codes[0]) == 9


# --- sessions ---------------------------------------------------------------------------------


def test_sessions_are_listed_with_their_apps_and_this_browser_marked(app, tree, signed_in, store):
    now = time.time()
    store.save_app(SsoApplication("app-1", tree.office.id, "Listings portal", "SAML", now, now))
    other = signed_in(tree.agent)
    sessions = app.extensions["idp"].accounts.sessions
    elsewhere = sessions.signed_in(other.get_cookie(SESSION_COOKIE).value)
    sessions.add_participant(elsewhere, Participant("app-1", "agent", "email", "_s1"))
    browser = signed_in(tree.agent)
    signed_in(tree.root_admin)  # someone else's session is not listed
    rows = document(browser.get("/account")).xpath("//section[@id='sessions']//tbody/tr")
    assert len(rows) == 2
    assert [row.get("class") for row in rows] == ["current", None]
    assert rows[0].xpath("td[1]/span[@class='tag']/text()") == ["This browser"]
    assert rows[1].xpath(".//span[@class='tag']") == []
    assert rows[1].xpath("string(td[3])") == "Listings portal"
    assert rows[1].xpath("string(td[2])") == "No"
    assert rows[1].xpath("td[1]/time/@datetime")[0].endswith("+00:00")


def test_signing_out_the_other_sessions_ends_them_in_the_store(app, tree, signed_in):
    others = [signed_in(tree.agent), signed_in(tree.agent)]
    admin = signed_in(tree.root_admin)
    browser = signed_in(tree.agent)
    answer = post(browser, "/account/sessions/end-others")
    assert answer.status_code == 303 and answer.headers["Location"] == "/account?done=sessions"
    for other in others:
        landed = other.get("/")
        assert landed.status_code == 303 and landed.headers["Location"] == "/login"
    assert is_signed_in(browser) and is_signed_in(admin)
    page = document(browser.get("/account"))
    assert len(page.xpath("//section[@id='sessions']//tbody/tr")) == 1
    assert page.xpath("//form[@action='/account/sessions/end-others']") == []
