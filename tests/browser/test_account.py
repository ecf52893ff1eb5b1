"""The account page in Chromium: an agent changes their password, sets MFA up from the QR code the page
draws (zbar reads Chromium's rendering of it; pyotp makes the codes), sees the recovery codes, and signs
out the session of another browser."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pyotp
import pytest
from playwright.sync_api import expect

from tests.browser.accessibility import PHONE
from tests.browser.conftest import sign_in
from tests.deployment import Deployment
from tests.support import QR_ONLY

NEW_PASSWORD = "amber lantern orchard 42"


def read_qr(picture: Path) -> str:
    if shutil.which("zbarimg") is None:
        pytest.fail("zbarimg is missing: scripts/system-packages installs it (zbar-tools)")
    read = subprocess.run(
        ["zbarimg", "--quiet", "--raw", *QR_ONLY, str(picture)], capture_output=True, text=True, check=True, timeout=30
    )
    return read.stdout.strip()


def test_an_agent_manages_their_account(idp: Deployment, make_person, new_context, screenshots, tmp_path) -> None:
    person = make_person(mfa=False)
    page = new_context().new_page()
    page.goto(f"{idp.base_url}/")
    sign_in(page, person)
    page.get_by_role("link", name="Your account").click()
    expect(page).to_have_url(f"{idp.base_url}/account")

    # The password: the current one, the new one twice.
    page.get_by_label("Current password").fill(person.password)
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("New password, again").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change the password").click()
    expect(page.get_by_role("status")).to_contain_text("Your password is changed")
    person.password = NEW_PASSWORD

    # Another browser signs in with the new password.
    elsewhere = new_context().new_page()
    elsewhere.goto(f"{idp.base_url}/login")
    sign_in(elsewhere, person)
    expect(elsewhere).to_have_url(f"{idp.base_url}/")

    # MFA from the page: the QR code as Chromium draws it, and the key shown beside it.
    page.get_by_role("link", name="Set up two-step verification").click()
    page.get_by_role("button", name="Set up two-step verification").click()
    expect(page).to_have_url(f"{idp.base_url}/account/mfa")
    secret = page.locator("#secret").inner_text()
    picture = tmp_path / "qr.png"
    page.locator("figure.qr svg").screenshot(path=picture)
    page.screenshot(path=screenshots / "account-mfa-setup.png", full_page=True)
    scanned = pyotp.parse_uri(read_qr(picture))
    assert isinstance(scanned, pyotp.TOTP) and scanned.secret == secret
    person.totp = scanned
    page.get_by_label("Code", exact=True).fill(person.code())
    page.get_by_role("button", name="Turn on two-step verification").click()
    codes = page.locator("ol.codes code")
    expect(codes).to_have_count(10)
    page.screenshot(path=screenshots / "account-recovery-codes.png", full_page=True)

    # Back on the account page: the codes left, and both sessions, this one marked.
    page.get_by_role("link", name="Back to your account").click()
    expect(page.locator("#recovery-left")).to_have_text("10 recovery codes left.")
    rows = page.locator("#sessions tbody tr")
    expect(rows).to_have_count(2)
    expect(page.locator("#sessions tr.current")).to_contain_text("This browser")
    expect(page.locator("#sessions tr.current td").nth(1)).to_have_text("Yes")
    page.screenshot(path=screenshots / "account.png", full_page=True)
    page.set_viewport_size(PHONE.viewport)
    page.screenshot(path=screenshots / "account-phone.png", full_page=True)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE.width, f"the page is {width}px wide on a phone"

    # Signing out the other session sends that browser to sign in again.
    page.get_by_role("button", name="Sign out the other sessions").click()
    expect(page.get_by_role("status")).to_contain_text("Your other sessions are signed out")
    expect(rows).to_have_count(1)
    elsewhere.goto(f"{idp.base_url}/")
    expect(elsewhere).to_have_url(re.compile(rf"^{re.escape(idp.base_url)}/login"))
    page.goto(f"{idp.base_url}/")
    expect(page).to_have_url(f"{idp.base_url}/")
