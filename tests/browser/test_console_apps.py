"""The console's Applications section in a real Chromium: a brokerage admin registers a real
python3-saml SP from the metadata it writes, gives it an icon and its attributes, hands the SP the
IdP metadata URL the console shows, and test-launches into the SP as themselves."""

from __future__ import annotations

import re
from pathlib import Path

import requests
from playwright.sync_api import Page, expect

from tests.browser.accessibility import DESKTOP, PHONE
from tests.browser.conftest import Person, png, sign_in
from tests.browser.test_front_door import sp_state
from tests.deployment import Deployment
from tests.python3_saml_sp import running_sp, sp_metadata

APP_NAME = "Listings from metadata"
WIDER_THAN_THE_SCREEN = """() => [...document.querySelectorAll("body *")]
  .filter(element => element.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5)
  .map(element => element.tagName.toLowerCase() + (element.id ? "#" + element.id : ""))"""


def wider_than_the_screen(page: Page) -> list[str]:
    """The elements that reach past the right edge of the viewport (each would make the page scroll sideways)."""
    return page.evaluate(WIDER_THAN_THE_SCREEN)


def at_both_widths(page: Page, screenshots: Path, name: str) -> None:
    """A screenshot of the page at desktop width, and at a phone's, where nothing may stick out sideways."""
    page.screenshot(path=str(screenshots / f"{name}.png"), full_page=True)
    page.set_viewport_size(PHONE.viewport)
    try:
        assert wider_than_the_screen(page) == [], f"{name} does not fit a phone"
        page.screenshot(path=str(screenshots / f"{name}-phone.png"), full_page=True)
    finally:
        page.set_viewport_size(DESKTOP.viewport)


def test_an_admin_imports_an_sp_gives_it_an_icon_and_test_launches_into_it(
    page: Page, idp: Deployment, sp_port: int, screenshots: Path, tmp_path: Path
) -> None:
    admin = Person(idp.admin_email, "Ann Admin")
    sp = f"http://127.0.0.1:{sp_port}"

    page.goto(f"{idp.base_url}/admin")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    sign_in(page, admin)
    expect(page.get_by_role("heading", name="Brands you administer")).to_be_visible()
    page.get_by_role("link", name="Acme Realty").click()
    page.get_by_role("navigation", name="Acme Realty").get_by_role("link", name="Applications").click()
    expect(page.get_by_role("heading", name="Applications")).to_be_visible()

    # The SP's own metadata, as python3-saml writes it, pasted into the import form.
    page.get_by_role("link", name="Import from SP metadata").click()
    at_both_widths(page, screenshots, "console-apps-import")
    page.get_by_label("Metadata XML").fill(sp_metadata(sp).decode())
    page.get_by_label("Name (optional)").fill(APP_NAME)
    page.get_by_role("button", name="Import").click()
    expect(page.get_by_role("status")).to_have_text("The application was created from the SP's metadata.")
    expect(page.get_by_role("heading", name=APP_NAME)).to_be_visible()
    app_page = page.url.split("?")[0]

    icon = tmp_path / "icon.png"
    icon.write_bytes(png(64, 64, (180, 40, 40)))
    page.get_by_label("Image file").set_input_files(str(icon))
    page.get_by_role("button", name="Upload icon").click()
    expect(page.get_by_role("status")).to_have_text("The icon was uploaded.")
    shown = page.locator("h1 img")
    expect(shown).to_be_visible()
    assert shown.evaluate("image => image.complete && image.naturalWidth") == 64, "the re-encoded icon loads"

    # python3-saml wants an AttributeStatement: the admin maps one attribute in the edit form.
    page.get_by_role("link", name="Edit").click()
    at_both_widths(page, screenshots, "console-apps-edit")
    page.get_by_label("Attribute mappings (JSON)").fill('{"mail": "email"}')
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text("Your changes were saved.")
    assert page.url.split("?")[0] == app_page

    # What the SP's administrator is handed: the app's metadata URL, copied from its read-only field.
    metadata_url = page.get_by_role("textbox", name="Metadata URL of this application").input_value()
    # The nonce'd script ran and added its Copy buttons.
    expect(page.get_by_role("button", name="Copy Metadata URL of this application")).to_be_visible()
    assert metadata_url.startswith(f"{idp.base_url}/sso_applications/")
    at_both_widths(page, screenshots, "console-apps-app")

    metadata = requests.get(metadata_url, timeout=10)
    assert metadata.status_code == 200, metadata.text
    with running_sp(metadata.content, port=sp_port):
        page.get_by_role("button", name="Test launch").click()
        state = sp_state(page, sp)
        assert state["signed_in"] is True, state
        assert state["name_id"] == admin.email, state
        assert state["attributes"].get("mail") == [admin.email], state
        assert state["errors"] == [], state

    page.goto(app_page.rsplit("/", 1)[0])
    row = page.get_by_role("row").filter(has_text=APP_NAME)
    expect(row.get_by_role("cell").nth(2)).to_have_text("SAML")
    expect(row.locator("img")).to_be_visible()
    at_both_widths(page, screenshots, "console-apps-list")
