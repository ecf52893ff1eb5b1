"""The brand on every page: the login page reached through a brand's host name or a `?brand=` hint
(kept through errors and the TOTP step), the agent's brand on the launcher, and the launcher's
grouping by brand, order and search."""

from __future__ import annotations

import dataclasses
import re
import time
import uuid
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest

from idp.applications.brand_settings import Appearance, BrandSettings
from idp.contrast import contrast_ratio, palette
from idp.models import SsoApplication
from tests.api.mfa_helpers import Mfa
from tests.api.people_helpers import SAME_ORIGIN
from tests.api.test_icons import png
from tests.console.conftest import document
from tests.e2e.sp_helpers import authn_request_xml, redirect_query
from tests.support import PASSWORD

HOST = "login.acme.example"


@pytest.fixture
def dressed(tree, store, settings):
    """The brokerage with a display name, a logo, a pale accent (yellow fails AA as text on white) and a host name."""
    brands = BrandSettings.of(store, settings)
    brands.update(None, tree.root.id, Appearance(display_name="Acme Group", accent_color="#ffd700", hostnames=[HOST]))
    return brands.set_logo(None, tree.root.id, png(4, 4))


def brand_mark(page) -> tuple[str, list[str]]:
    """The brand's name and logo address as the page shows them."""
    return page.xpath("string(//div[@class='brand-mark']/span)"), page.xpath("//div[@class='brand-mark']/img/@src")


def test_the_login_page_shows_no_brand_by_default(app, dressed):
    page = document(app.test_client().get("/login"))
    assert page.xpath("//div[@class='brand-mark']") == []
    assert page.xpath("string(//h1)") == "Sign in"


def test_the_login_page_reached_with_a_brand_hint_shows_the_brand(app, tree, dressed):
    page = document(app.test_client().get(f"/login?brand={tree.root.id}"))
    assert brand_mark(page) == ("Acme Group", [f"/brands/{tree.root.id}/logo?v=1"])
    assert page.xpath("string(//h1)") == "Sign in to Acme Group"
    assert page.xpath("//form[@action='/login']//input[@name='brand']/@value") == [tree.root.id]
    assert app.test_client().get(brand_mark(page)[1][0]).mimetype == "image/png"


def test_an_office_shows_what_it_left_unset_as_its_brokerage_does(app, tree, dressed):
    page = document(app.test_client().get(f"/login?brand={tree.office.id}"))
    assert brand_mark(page) == ("Acme Group", [f"/brands/{tree.root.id}/logo?v=1"])


def test_an_unknown_hint_shows_no_brand_and_is_not_kept(app, dressed):
    page = document(app.test_client().get("/login?brand=no-such-brand"))
    assert page.xpath("//div[@class='brand-mark']") == []
    assert page.xpath("//form[@action='/login']//input[@name='brand']/@value") == [""]


def test_the_login_page_reached_through_a_brand_s_host_name_shows_the_brand(app, tree, dressed):
    page = document(app.test_client().get("/login", headers={"Host": f"{HOST.upper()}:8443"}))
    assert brand_mark(page)[0] == "Acme Group"


def test_on_a_brand_s_host_name_a_hint_cannot_show_another_brand(app, tree, dressed):
    page = document(app.test_client().get(f"/login?brand={tree.other.id}", headers={"Host": HOST}))
    assert brand_mark(page)[0] == "Acme Group"


@pytest.fixture
def make_app(store):
    """Builds and saves an app owned by `owner`, allowed for `allowed`, at `order`: a plain link, unless
    `fields` make it another (a SAML app's `authentication_type`, `entity_id`, `acs_url`)."""

    def build(owner, *, name, allowed, order=0, **fields):
        now = time.time()
        app = SsoApplication(
            id=str(uuid.uuid4()),
            owner_brand_id=owner.id,
            name=name,
            authentication_type="Link",
            created_at=now,
            updated_at=now,
            url="https://app.example.com/",
            order=order,
            brands=[brand.id for brand in allowed],
        )
        app = dataclasses.replace(app, **fields)
        store.save_app(app)
        return app

    return build


def sp_registered_by(make_app, owner, entity_id: str) -> SsoApplication:
    """A SAML app of `owner`'s, for an SP that starts the sign-in itself."""
    return make_app(
        owner,
        name=f"SP of {owner.name}",
        allowed=[owner],
        authentication_type="SAML",
        url=None,
        entity_id=entity_id,
        acs_url=f"{entity_id}/acs",
    )


def sp_sends_to_login(app, entity_id: str) -> str:
    """Where the IdP sends a browser that arrives with the SP's AuthnRequest and no session."""
    first = app.test_client().get(f"/saml/sso?{redirect_query(authn_request_xml(issuer=entity_id))}")
    assert first.status_code == 303, first.get_data(as_text=True)[:400]
    return first.headers["Location"]


def test_the_login_page_an_sp_sends_the_user_to_shows_the_brand_that_registered_the_app(app, tree, make_app, dressed):
    sp_registered_by(make_app, tree.office, "https://sp.office.example")
    login = sp_sends_to_login(app, "https://sp.office.example")
    query = parse_qs(urlsplit(login).query)
    assert query["brand"] == [tree.office.id]
    page = document(app.test_client().get(login))
    assert brand_mark(page) == ("Acme Group", [f"/brands/{tree.root.id}/logo?v=1"])  # the office's look, inherited
    assert page.xpath("//form[@action='/login']//input[@name='request']/@value") == query["request"]
    assert page.xpath("//form[@action='/login']//input[@name='brand']/@value") == [tree.office.id]


def test_an_sp_that_brands_share_shows_no_brand_on_the_login_page(app, tree, make_app, dressed):
    """Each brand registered the same entityID: the user's choice comes after the sign-in."""
    for owner in (tree.root, tree.other):
        sp_registered_by(make_app, owner, "https://shared-sp.example")
    login = sp_sends_to_login(app, "https://shared-sp.example")
    assert "brand" not in parse_qs(urlsplit(login).query)
    assert document(app.test_client().get(login)).xpath("//div[@class='brand-mark']") == []


def test_a_forwarded_host_is_not_trusted(app, dressed):
    """Without proxy settings that trust it, X-Forwarded-Host is a header anyone can send."""
    page = document(app.test_client().get("/login", headers={"X-Forwarded-Host": HOST}))
    assert page.xpath("//div[@class='brand-mark']") == []


def test_the_accent_is_used_at_aa_contrast(app, tree, dressed):
    page = document(app.test_client().get(f"/login?brand={tree.root.id}"))
    styles = " ".join(page.xpath("//style/text()"))
    colours = palette("#ffd700")
    button = re.search(r"button:not\(\.quiet\) \{ background: (#[0-9a-f]{6}); color: (#[0-9a-f]{6}); \}", styles)
    assert button is not None and button.groups() == (colours.button, colours.on_button)
    assert contrast_ratio(*button.groups()) >= 4.5
    link = re.search(r"main a \{ color: (#[0-9a-f]{6}); \}", styles)
    assert link is not None and link.group(1) == colours.text != "#ffd700"
    assert contrast_ratio(link.group(1), "#ffffff") >= 4.5


def test_a_failed_sign_in_keeps_the_brand(app, tree, dressed):
    browser = app.test_client()
    form = document(browser.get(f"/login?brand={tree.office.id}"))
    answer = browser.post(
        "/login",
        data={
            "email": tree.agent.email,
            "password": "wrong",
            "csrf_token": form.xpath("//input[@name='csrf_token']/@value")[0],
            "brand": form.xpath("//input[@name='brand']/@value")[0],
        },
        headers=SAME_ORIGIN,
    )
    assert answer.status_code == 401
    page = document(answer)
    assert brand_mark(page)[0] == "Acme Group"
    assert page.xpath("//form[@action='/login']//input[@name='brand']/@value") == [tree.office.id]


def test_the_totp_step_and_its_errors_keep_the_brand(app, client, api, tree, dressed):
    secret = Mfa(client, api).enable(tree.agent).secret
    browser = app.test_client()
    form = document(browser.get(f"/login?brand={tree.office.id}"))
    data = {"email": tree.agent.email, "password": PASSWORD, "brand": tree.office.id}
    data["csrf_token"] = form.xpath("//input[@name='csrf_token']/@value")[0]
    answer = browser.post("/login", data=data, headers=SAME_ORIGIN)
    assert answer.headers["Location"] == "/login/totp"
    step = document(browser.get("/login/totp"))
    assert brand_mark(step)[0] == "Acme Group"
    wrong = str((int(pyotp.TOTP(secret).now()) + 1) % 1_000_000).zfill(6)
    refused = browser.post(
        "/login/totp",
        data={"code": wrong, "csrf_token": step.xpath("//input[@name='csrf_token']/@value")[0]},
        headers=SAME_ORIGIN,
    )
    assert refused.status_code == 401
    assert brand_mark(document(refused))[0] == "Acme Group"


# the launcher


def test_the_launcher_shows_the_agent_s_brand(tree, signed_in, dressed):
    page = document(signed_in(tree.agent).get("/"))
    assert brand_mark(page) == ("Acme Group", [f"/brands/{tree.root.id}/logo?v=1"])
    assert page.xpath("//h2[@class='brand-group']") == []  # one brand: no headings


def tile_names(page) -> list[str]:
    return [" ".join(name.split()) for name in page.xpath(".//ul[@class='tiles']/li//button/span[last()]/text()")]


def test_an_agent_of_several_brands_sees_a_heading_per_brand_and_tiles_in_order(tree, signed_in, make_app):
    make_app(tree.other, name="Zeta Other", order=1, allowed=[tree.other])
    make_app(tree.root, name="Beta", order=2, allowed=[tree.root])
    make_app(tree.root, name="Alpha", order=3, allowed=[tree.root])
    make_app(tree.root, name="First", order=0, allowed=[tree.office])
    page = document(signed_in(tree.shared).get("/"))
    groups = page.xpath("//section[@class='brand-group']")
    assert [group.xpath("string(h2)") for group in groups] == ["Acme Downtown", "Other Homes"]
    assert [tile_names(group) for group in groups] == [["First", "Beta", "Alpha"], ["Zeta Other"]]


def test_up_to_a_dozen_apps_there_is_no_search(tree, signed_in, make_app):
    for number in range(12):
        make_app(tree.root, name=f"App {number:02}", allowed=[tree.root])
    page = document(signed_in(tree.agent).get("/?q=01"))
    assert page.xpath("//input[@type='search']") == []
    assert len(tile_names(page)) == 12  # no query is applied where no field offers one


def test_past_a_dozen_apps_a_search_field_filters_on_the_server_without_script(tree, signed_in, make_app):
    for number in range(13):
        make_app(tree.root, name=f"App {number:02}", order=number, allowed=[tree.root])
    make_app(tree.root, name="Listings Hub", order=99, allowed=[tree.root])
    browser = signed_in(tree.agent)
    page = document(browser.get("/"))
    (field,) = page.xpath("//form[@role='search'][@method='get']//input[@type='search']")
    assert page.xpath(f"//label[@for='{field.get('id')}']/text()") == ["Search your applications"]
    assert page.xpath("//script[@nonce]")  # the same field filters as the agent types, with script
    filtered = document(browser.get("/?q=LISTINGS"))
    assert tile_names(filtered) == ["Listings Hub"]
    assert filtered.xpath("//input[@type='search']/@value") == ["LISTINGS"]
    assert "1 of 14" in filtered.xpath("string(//p[@id='app-count'])")
    assert "No application matches" in document(browser.get("/?q=nothing-like-it")).text_content()


def test_mail_uses_the_brand_s_display_name_and_colour(app, tree, dressed, store):
    sent = []
    notices = app.extensions["idp"].accounts.people.notices
    notices = dataclasses.replace(notices, mailer=type("Collect", (), {"send": lambda self, m: sent.append(m)})())
    notices.password_reset(tree.agent, "https://idp.example/password?token=t", minutes=30)
    notices.invitation(tree.agent, tree.office, "https://idp.example/password?token=u", hours=72)
    (reset, invitation) = sent
    assert reset.subject == "Reset your Acme Group password"
    assert invitation.subject == "You are invited to Acme Group"
    colours = palette("#ffd700")
    assert f"background:{colours.button};color:{colours.on_button}" in reset.html
