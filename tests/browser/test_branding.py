"""The brand in a real Chromium: the login page reached with `?brand=` and through one of the brand's
host names (Chromium resolving it to loopback) shows the brand's name and logo, and the launcher's
search filters the tiles as the agent types."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from playwright.sync_api import Page, expect

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, png, sign_in

HOST = "login.acme-realty.test"
SHOWN_NAME = "Acme Realty Group"


def _logo_loaded(page: Page) -> bool:
    return page.get_by_alt_text(f"{SHOWN_NAME} logo").evaluate("image => image.complete && image.naturalWidth > 0")


def test_the_login_page_shows_the_brand_and_the_launcher_filters_as_the_agent_types(
    idp, browser, page: Page, make_person, screenshots
):
    brand = idp.call(
        "PUT",
        f"/brands/{idp.brokerage}",
        json={"hostnames": [HOST], "palette": {"primary": "#ffd700"}, "messages": {"display_name": SHOWN_NAME}},
    )
    assert brand.status_code == 200, brand.text
    logo = idp.call("PUT", f"/brands/{idp.brokerage}/logo", files={"logo": ("logo.png", png(48, 24), "image/png")})
    assert logo.status_code == 200, logo.text
    for number in range(13):
        idp.create_app(name=f"Portal {number:02}", authentication_type="None", url="https://portal.example.com/")
    idp.create_app(name="Zillow Premier", authentication_type="None", url="https://premier.example.com/", order=-1)
    agent = make_person(mfa=False)

    # Through the documented hint.
    page.goto(f"{idp.base_url}/login?brand={idp.brokerage}")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Sign in to {SHOWN_NAME}")
    expect(page.get_by_alt_text(f"{SHOWN_NAME} logo")).to_be_visible()
    assert _logo_loaded(page), "the logo is served from the IdP's own origin, as the CSP allows"
    page.screenshot(path=screenshots / "branding-login-hint.png", full_page=True)

    # Through the brand's host name: a Chromium that resolves it to the IdP's loopback address.
    port = urlsplit(idp.base_url).port
    resolving = browser.browser_type.launch(
        executable_path=str(CHROMIUM),
        headless=True,
        args=[*CHROMIUM_ARGS, f"--host-resolver-rules=MAP {HOST} 127.0.0.1"],
    )
    try:
        by_host = resolving.new_page()
        by_host.goto(f"http://{HOST}:{port}/login")
        expect(by_host.get_by_role("heading", level=1)).to_have_text(f"Sign in to {SHOWN_NAME}")
        assert _logo_loaded(by_host)
        by_host.screenshot(path=screenshots / "branding-login-hostname.png", full_page=True)
    finally:
        resolving.close()

    # The launcher: the agent's brand, and a search field past a dozen apps that filters as one types.
    sign_in(page, agent)
    expect(page).to_have_url(f"{idp.base_url}/")
    expect(page.locator(".brand-mark")).to_contain_text(SHOWN_NAME)
    tiles = page.locator("ul.tiles > li")
    expect(tiles.filter(visible=True)).to_have_count(14)
    expect(tiles.first).to_contain_text("Zillow Premier")  # in `order`
    page.get_by_label("Search your applications").press_sequentially("zill")
    expect(tiles.filter(visible=True)).to_have_count(1)
    expect(tiles.filter(visible=True)).to_contain_text("Zillow Premier")
    expect(page.get_by_role("status")).to_have_text(re.compile(r"1 of 14 applications match"))
    assert page.url == f"{idp.base_url}/", "filtered in the page, without a round trip"
    page.screenshot(path=screenshots / "branding-launcher-search.png", full_page=True)
    page.get_by_label("Search your applications").fill("")
    page.get_by_label("Search your applications").press_sequentially("portal 1")
    expect(tiles.filter(visible=True)).to_have_count(3)  # Portal 10, 11 and 12
