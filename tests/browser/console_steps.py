"""What an admin does in the console, step by step, as the browser tests of the console take it."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.browser.conftest import Person, png, sign_in
from tests.deployment import Deployment
from tests.python3_saml_sp import sp_metadata


def to_applications(page: Page, idp: Deployment, admin: Person, brand: str = "Acme Realty") -> None:
    """From /admin, which asks the admin to sign in first, to the brand's Applications."""
    page.goto(f"{idp.base_url}/admin")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    sign_in(page, admin)
    expect(page.get_by_role("heading", name="Brands you administer")).to_be_visible()
    page.get_by_role("link", name=brand).click()
    page.get_by_role("navigation", name=brand).get_by_role("link", name="Applications").click()
    expect(page.get_by_role("heading", name="Applications")).to_be_visible()


def import_sp(page: Page, sp: str, name: str) -> str:
    """The SP's own metadata, as python3-saml writes it, pasted into the import form; the app's page."""
    page.get_by_role("link", name="Import from SP metadata").click()
    page.get_by_label("Metadata XML").fill(sp_metadata(sp).decode())
    page.get_by_label("Name (optional)").fill(name)
    page.get_by_role("button", name="Import").click()
    expect(page.get_by_role("status")).to_have_text("The application was created from the SP's metadata.")
    expect(page.get_by_role("heading", name=name)).to_be_visible()
    return page.url.split("?")[0]


def upload_icon(page: Page, folder: Path, colour: tuple[int, int, int]) -> None:
    """A 64-pixel PNG uploaded on the app's page; the icon shown is the re-encoded one, and it loads."""
    icon = folder / "icon.png"
    icon.write_bytes(png(64, 64, colour))
    page.get_by_label("Image file").set_input_files(str(icon))
    page.get_by_role("button", name="Upload icon").click()
    expect(page.get_by_role("status")).to_have_text("The icon was uploaded.")
    shown = page.locator("h1 img")
    expect(shown).to_be_visible()
    assert shown.evaluate("image => image.complete && image.naturalWidth") == 64, "the re-encoded icon loads"


def map_attributes(page: Page, mappings: str) -> None:
    """The app's attribute mappings (JSON) set in its edit form, back on its page."""
    page.get_by_role("link", name="Edit").click()
    page.get_by_label("Attribute mappings (JSON)").fill(mappings)
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text("Your changes were saved.")
