"""The console's Applications section in a real Chromium: a brokerage admin registers a real
python3-saml SP from the metadata it writes, gives it an icon and its attributes, hands the SP the
IdP metadata URL the console shows, and test-launches into the SP as themselves."""

from __future__ import annotations

from pathlib import Path

import requests
from playwright.sync_api import Page, expect

from tests.browser.accessibility import DESKTOP, PHONE
from tests.browser.conftest import Person
from tests.browser.console_steps import import_sp, map_attributes, to_applications, upload_icon
from tests.browser.test_front_door import sp_state
from tests.deployment import Deployment
from tests.python3_saml_sp import running_sp

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

    to_applications(page, idp, admin)
    app_page = import_sp(page, sp, APP_NAME)
    upload_icon(page, tmp_path, (180, 40, 40))

    # python3-saml wants an AttributeStatement: the admin maps one attribute in the edit form.
    page.get_by_role("link", name="Edit").click()
    at_both_widths(page, screenshots, "console-apps-edit")
    page.goto(app_page)
    map_attributes(page, '{"mail": "email"}')
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
