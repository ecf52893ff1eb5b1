"""The console's Applications section: the same rules as the API, seen through forms and pages."""

from __future__ import annotations

import dataclasses
import io
from urllib.parse import urlsplit

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import html
from PIL import Image

from idp.applications.service import Caller
from idp.models import SsoApplication
from tests.api.people_helpers import SAME_ORIGIN, person
from tests.console.conftest import document
from tests.python3_saml_sp import sp_metadata
from tests.support import self_signed_certificate

SP = "https://sp.example.com"


def services(app):
    return app.extensions["idp"]


def new_app(app, tree, **fields) -> SsoApplication:
    """An SAML app of the brokerage, created through the API's service as its admin."""
    body = {
        "name": "Listings",
        "authentication_type": "SAML",
        "acs_url": f"{SP}/acs",
        "entity_id": f"{SP}/sp",
        **fields,
    }
    return services(app).apps.create(Caller(tree.root_admin), tree.root.id, body).app


def apps_path(brand_id: str, *rest: str) -> str:
    return "/".join([f"/admin/brands/{brand_id}/apps", *rest])


def token(browser, path: str) -> str:
    return document(browser.get(path)).xpath("//input[@name='csrf_token']/@value")[0]


def post(browser, path: str, data: dict, *, page: str | None = None, **kw):
    """A form sent as the browser sends it: with the page's token and the browser's word that it is ours."""
    return browser.post(path, data={**data, "csrf_token": token(browser, page or path)}, headers=SAME_ORIGIN, **kw)


def field_error(page: html.HtmlElement, name: str) -> str:
    """The message shown next to the field, found as a screen reader finds it: by aria-describedby."""
    (control,) = page.xpath(f"//*[@name='{name}']")
    assert control.get("aria-invalid") == "true"
    ids = control.get("aria-describedby", "").split()
    (error,) = [page.get_element_by_id(i) for i in ids if i.endswith("-error")]
    return error.text_content()


def form_of(page: html.HtmlElement, action_end: str) -> dict:
    """The fields a browser would send from the form whose action ends so, untouched."""
    (form,) = [f for f in page.forms if (f.action or "").endswith(action_end)]
    values = dict(form.form_values())
    values.pop("csrf_token")
    return values


def certificate_pem() -> str:
    certificate = self_signed_certificate(ec.generate_private_key(ec.SECP256R1()), "sp.example.com")
    return certificate.public_bytes(Encoding.PEM).decode()


def png(color=(200, 30, 30), size=(40, 40)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format="PNG")
    return out.getvalue()


# --- the list ----------------------------------------------------------------------------------


def test_the_list_shows_each_app_with_its_icon_type_and_brands(app, tree, signed_in):
    saml = new_app(app, tree, brands=[tree.root.id, tree.office.id])
    body = {"name": "Intranet", "authentication_type": "None", "url": f"{SP}/"}
    link = services(app).apps.create(Caller(tree.root_admin), tree.root.id, body).app
    services(app).apps.set_icon(Caller(tree.root_admin), tree.root.id, saml.id, png())
    page = document(signed_in(tree.root_admin).get(apps_path(tree.root.id)))
    rows = {row.xpath("string(td[2]/a)"): row for row in page.xpath("//table/tbody/tr")}
    assert set(rows) == {"Listings", "Intranet"}
    assert rows["Listings"].xpath("td[3]/text()") == ["SAML"]
    assert rows["Intranet"].xpath("td[3]/text()") == ["Link"]
    assert rows["Listings"].xpath("string(td[4])").strip() == f"{tree.root.name}, {tree.office.name}"
    (icon,) = rows["Listings"].xpath("td[1]/img/@src")
    assert icon.startswith(f"/sso_applications/{saml.id}/icon")
    assert rows["Intranet"].xpath("td[1]/img") == []
    assert rows["Intranet"].xpath("td[2]/a/@href") == [apps_path(tree.root.id, link.id)]
    assert page.xpath("//nav[@class='sections']//a[@aria-current='page']/text()") == ["Applications"]


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("listings", ["Listings"]),  # by name, any case
        ("crm.example.org/shibboleth", ["CRM"]),  # by SP entity ID
        ("idp-for-crm", ["CRM"]),  # by issuer
        ("sp.example.com/acs", ["Listings"]),  # by ACS URL
        ("nothing like it", []),
    ],
)
def test_search_finds_apps_by_name_entity_id_issuer_or_acs_url(app, tree, signed_in, query, found):
    new_app(app, tree)
    new_app(
        app,
        tree,
        name="CRM",
        entity_id="https://crm.example.org/shibboleth",
        acs_url="https://crm.example.org/Shibboleth.sso/SAML2/POST",
        issuer="urn:example:idp-for-crm",
    )
    browser = signed_in(tree.root_admin)
    page = document(browser.get(apps_path(tree.root.id)))
    (search,) = page.xpath("//form[@role='search']")
    assert search.get("method") == "get" and search.xpath(".//label[@for='q']")  # a plain GET form
    answer = browser.get(apps_path(tree.root.id), query_string={"q": query})
    assert answer.status_code == 200
    assert document(answer).xpath("//table/tbody/tr/td[2]/a/text()") == found


def test_an_office_admin_sees_apps_allowed_from_above_but_cannot_open_their_pages(app, tree, signed_in):
    shared = new_app(app, tree, brands=[tree.office.id])
    browser = signed_in(tree.office_admin)
    page = document(browser.get(apps_path(tree.office.id)))
    assert "owned by a brand above" in page.xpath("string(//table/tbody/tr/td[2])")
    assert page.xpath("//table/tbody/tr/td[2]/a") == []
    assert browser.get(apps_path(tree.office.id, shared.id)).status_code == 404
    assert browser.get(apps_path(tree.root.id, shared.id)).status_code == 404


# --- create and edit ---------------------------------------------------------------------------


def test_every_control_of_every_page_has_a_label(app, tree, signed_in):
    stored = new_app(app, tree)
    browser = signed_in(tree.root_admin)
    for action in ("", "new", "import", stored.id, f"{stored.id}/edit", f"{stored.id}/delete"):
        page = document(browser.get(apps_path(tree.root.id, action).rstrip("/")))
        assert page.xpath("//main") and page.xpath("//h1"), action
        for control in page.xpath("//*[self::input or self::select or self::textarea]"):
            if control.get("type") not in ("hidden", "submit"):
                assert page.xpath(f"//label[@for='{control.get('id')}']"), (action, control.get("name"))


def test_creating_stores_what_was_typed(app, tree, signed_in):
    browser = signed_in(tree.root_admin)
    typed = {
        "name": "Listings",
        "authentication_type": "SAML",
        "order": "3",
        "entity_id": f"{SP}/sp",
        "acs_url": f"{SP}/acs",
        "start_url": f"{SP}/home",
        "slo_url": f"{SP}/slo",
        "slo_binding": "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST",
        "signed": "assertion",
        "signature_algorithm": "rsa-sha512",
        "name_id": "id",
        "name_id_format": "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
        "mappings": '{"mail": "email", "tier": {"value": "gold"}}',
        "audience": "urn:example:audience",
        "affiliations": "urn:example:affiliation\nhttps://group.example.com",
        "attribute_consuming_services": "2, 1",
        "extra": '{"color": "blue"}',
        "require_mfa": "on",
        "brands": [tree.root.id, tree.office.id],
    }
    answer = post(browser, apps_path(tree.root.id, "new"), typed)
    assert answer.status_code == 303
    app_id = urlsplit(answer.headers["Location"]).path.rsplit("/", 1)[1]
    stored = services(app).store.app(app_id)
    assert (stored.name, stored.order, stored.start_url, stored.slo_binding) == (
        "Listings",
        3,
        f"{SP}/home",
        "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST",
    )
    assert (stored.signed, stored.signature_algorithm, stored.name_id) == ("assertion", "rsa-sha512", "id")
    assert stored.mappings == {"mail": "email", "tier": {"value": "gold"}}
    assert stored.affiliations == ["urn:example:affiliation", "https://group.example.com"]
    assert stored.attribute_consuming_services == [1, 2]
    assert stored.extra == {"color": "blue"}
    assert stored.require_mfa is True and stored.require_signed_requests is False
    assert stored.brands == [tree.root.id, tree.office.id]
    assert stored.issuer == f"{services(app).settings.base_url}/sso_applications/{app_id}/metadata"
    assert "was created" in document(browser.get(answer.headers["Location"])).xpath("string(//p[@role='status'])")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("acs_url", "ftp://sp.example.com/acs", "acs_url must be an absolute http(s) URL"),
        ("mappings", '{"mail": ', "mappings is not valid JSON"),
        ("mappings", '{"mail": "no_such_field"}', "mappings.mail"),
        ("order", "first", "order must be a whole number"),
        ("sp_certificates", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----", "not a valid X.509"),
        ("start_url", "https://sp.example.com/" + "a" * 80, "80 bytes"),
        ("name", "", "name is required"),
    ],
)
def test_a_refusal_is_shown_next_to_its_field_and_the_form_keeps_what_was_typed(
    app, tree, signed_in, field, value, message
):
    browser = signed_in(tree.root_admin)
    typed = {"name": "Listings", "authentication_type": "SAML", "entity_id": f"{SP}/sp", "acs_url": f"{SP}/acs"}
    typed |= {"extra": '{"kept": "as typed"}', "brands": [tree.root.id], field: value}
    answer = post(browser, apps_path(tree.root.id, "new"), typed)
    assert answer.status_code == 400
    page = document(answer)
    assert message in field_error(page, field)
    kept = form_of(page, "/new")
    assert kept[field].strip() == value.strip()
    assert kept["extra"] == '{"kept": "as typed"}'
    assert services(app).store.apps_owned_by(tree.root.id) == []


def test_editing_shows_the_stored_values_and_saving_them_unchanged_changes_nothing(app, tree, signed_in):
    stored = new_app(
        app,
        tree,
        mappings={"mail": "email"},
        sp_certificates=[certificate_pem()],
        encryption_certificate=certificate_pem(),
        affiliations=["urn:example:a"],
        allow_sha1_signatures=True,
        order=7,
    )
    browser = signed_in(tree.root_admin)
    page = document(browser.get(apps_path(tree.root.id, stored.id, "edit")))
    sent = form_of(page, "/edit")
    assert sent["name"] == "Listings" and sent["order"] == "7" and sent["allow_sha1_signatures"] == "on"
    assert "require_mfa" not in sent
    assert post(browser, apps_path(tree.root.id, stored.id, "edit"), sent).status_code == 303
    after = services(app).store.app(stored.id)
    assert dataclasses.replace(after, updated_at=stored.updated_at) == stored


def test_a_change_is_saved_and_a_refused_one_is_shown_with_the_value_typed(app, tree, signed_in):
    stored = new_app(app, tree)
    browser = signed_in(tree.root_admin)
    path = apps_path(tree.root.id, stored.id, "edit")
    sent = form_of(document(browser.get(path)), "/edit")
    assert post(browser, path, {**sent, "name": "Listings (new)", "require_mfa": "on"}).status_code == 303
    assert services(app).store.app(stored.id).name == "Listings (new)"
    assert services(app).store.app(stored.id).require_mfa is True
    # A field left out of the form keeps its value, as in the API.
    assert post(browser, path, {"name": "Listings"}).status_code == 303
    assert services(app).store.app(stored.id).acs_url == f"{SP}/acs"
    refused = post(browser, path, {**sent, "entity_id": "not a uri"})
    assert refused.status_code == 400
    assert "entity_id must be an absolute URI" in field_error(document(refused), "entity_id")
    assert form_of(document(refused), "/edit")["entity_id"] == "not a uri"


def test_a_stored_value_no_longer_accepted_never_breaks_the_pages(app, tree, signed_in):
    stored = new_app(app, tree)
    odd = dataclasses.replace(
        stored,
        name_id_format="urn:example:retired-format",
        signed="sometimes",
        mappings={"x": {"value": "\u202e<script>"}},
        sp_certificates=["not base64 at all"],
        extra={"nested": [1, {"a": None}]},
    )
    services(app).store.save_app(odd)
    browser = signed_in(tree.root_admin)
    for path in (
        apps_path(tree.root.id),
        apps_path(tree.root.id, stored.id),
        apps_path(tree.root.id, stored.id, "edit"),
    ):
        assert browser.get(path).status_code == 200, path
    page = document(browser.get(apps_path(tree.root.id, stored.id, "edit")))
    assert page.xpath("//select[@name='name_id_format']/option[@selected]/@value") == ["urn:example:retired-format"]
    assert page.xpath("//select[@name='signed']/option[@selected]/@value") == ["sometimes"]
    assert page.xpath("//script[not(@nonce)]") == []


# --- import ------------------------------------------------------------------------------------


def test_importing_pasted_metadata_creates_the_app(app, tree, signed_in):
    browser = signed_in(tree.root_admin)
    xml = sp_metadata("https://crm.example.org").decode()
    answer = post(browser, apps_path(tree.root.id, "import"), {"metadata": xml, "name": "CRM"})
    assert answer.status_code == 303
    assert answer.headers["Location"].endswith("?done=imported")
    (imported,) = services(app).store.apps_owned_by(tree.root.id)
    assert (imported.name, imported.entity_id, imported.acs_url) == (
        "CRM",
        "https://crm.example.org/metadata",
        "https://crm.example.org/acs",
    )
    assert imported.slo_url == "https://crm.example.org/sls" and imported.brands == [tree.root.id]
    again = post(browser, apps_path(tree.root.id, "import"), {"metadata": xml, "name": ""})
    assert again.headers["Location"].endswith("?done=reimported")  # the same entityID: updated, not doubled
    assert len(services(app).store.apps_owned_by(tree.root.id)) == 1


def test_importing_an_uploaded_file_uses_the_file(app, tree, signed_in):
    browser = signed_in(tree.root_admin)
    upload = (io.BytesIO(sp_metadata("https://files.example.org")), "sp.xml", "application/xml")
    answer = post(
        browser,
        apps_path(tree.root.id, "import"),
        {"metadata": "", "name": "", "metadata_file": upload},
        content_type="multipart/form-data",
    )
    assert answer.status_code == 303
    (imported,) = services(app).store.apps_owned_by(tree.root.id)
    assert (imported.name, imported.entity_id) == ("files.example.org", "https://files.example.org/metadata")


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        ("", "paste the SP's metadata"),
        ("<md:EntityDescriptor xmlns:md='urn:oasis:names:tc:SAML:2.0:metadata' entityID='urn:x'/>", "SPSSODescriptor"),
        ('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "e">]><x>&e;</x>', "metadata"),
    ],
)
def test_metadata_that_is_refused_is_shown_with_what_was_pasted(app, tree, signed_in, metadata, message):
    browser = signed_in(tree.root_admin)
    answer = post(browser, apps_path(tree.root.id, "import"), {"metadata": metadata, "name": "Kept"})
    assert answer.status_code == 400
    page = document(answer)
    assert message in field_error(page, "metadata")
    assert page.xpath("//textarea[@name='metadata']")[0].text_content() == metadata
    assert page.xpath("//input[@name='name']/@value") == ["Kept"]
    assert services(app).store.apps_owned_by(tree.root.id) == []


# --- icon, brands, the IdP's details -----------------------------------------------------------


def test_an_icon_upload_is_served_re_encoded(app, tree, signed_in):
    stored = new_app(app, tree)
    browser = signed_in(tree.root_admin)
    path = apps_path(tree.root.id, stored.id)
    upload = png() + b"<html><script>alert(1)</script></html>"  # a polyglot: a PNG with a page after it
    answer = post(browser, f"{path}/icon", {"icon": (io.BytesIO(upload), "icon.png")}, page=path)
    assert answer.status_code == 303
    (src,) = document(browser.get(path)).xpath("//h1/img/@src")
    served = browser.get(src)
    assert served.content_type == "image/png"
    assert b"<script>" not in served.data
    assert Image.open(io.BytesIO(served.data)).getpixel((0, 0))[:3] == (200, 30, 30)


@pytest.mark.parametrize(
    ("upload", "status", "message"),
    [
        (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', 415, "PNG, JPEG, GIF or WebP"),
        (png()[:60], 400, "truncated or corrupt"),
        (b"", 400, "choose a PNG"),
    ],
)
def test_an_icon_that_is_refused_is_said_next_to_the_file_field(app, tree, signed_in, upload, status, message):
    stored = new_app(app, tree)
    browser = signed_in(tree.root_admin)
    path = apps_path(tree.root.id, stored.id)
    answer = post(browser, f"{path}/icon", {"icon": (io.BytesIO(upload), "icon.svg")}, page=path)
    assert answer.status_code == status
    assert message in field_error(document(answer), "icon")
    assert services(app).store.app(stored.id).icon_type is None


def test_an_icon_larger_than_the_api_takes_is_refused(app, tree, signed_in):
    stored = new_app(app, tree)
    browser = signed_in(tree.root_admin)
    path = apps_path(tree.root.id, stored.id)
    limit = services(app).settings.icon_max_bytes
    big = (io.BytesIO(png() + b"\0" * limit), "icon.png")
    assert post(browser, f"{path}/icon", {"icon": big}, page=path).status_code == 413
    assert services(app).store.app(stored.id).icon_type is None


def test_the_brands_allowed_are_the_boxes_ticked_and_unseen_brands_are_kept(app, tree, signed_in, make):
    body = {"name": "Office app", "authentication_type": "None", "url": f"{SP}/"}
    stored = services(app).apps.create(Caller(tree.office_admin), tree.office.id, body).app
    services(app).store.save_app(dataclasses.replace(stored, brands=[tree.office.id, tree.other.id]))
    browser = signed_in(tree.office_admin)
    path = apps_path(tree.office.id, stored.id)
    page = document(browser.get(path))
    boxes = page.xpath("//form[contains(@action, '/brands')]//input[@name='brands']")
    assert [(b.get("value"), b.get("checked") is not None) for b in boxes] == [(tree.office.id, True)]
    assert "1 other brand" in page.xpath("string(//dt[.='Allowed for']/following-sibling::dd[1])")
    assert post(browser, f"{path}/brands", {}, page=path).status_code == 303
    assert services(app).store.app(stored.id).brands == [tree.other.id]  # the office unticked, the other kept
    assert post(browser, f"{path}/brands", {"brands": [tree.office.id, tree.root.id]}, page=path).status_code == 303
    assert services(app).store.app(stored.id).brands == [tree.office.id, tree.other.id]  # root: not theirs


def test_the_app_page_gives_the_idp_metadata_urls_sso_url_and_certificate(app, tree, signed_in):
    stored = new_app(app, tree)
    browser = signed_in(tree.root_admin)
    path = apps_path(tree.root.id, stored.id)
    page = document(browser.get(path))
    base = services(app).settings.base_url
    values = {i.get("id"): i.get("value") for i in page.xpath("//section//input[@readonly]")}
    assert values["idp-metadata_url"] == f"{base}/sso_applications/{stored.id}/metadata"
    assert values["idp-shared_metadata_url"] == f"{base}/metadata"
    assert values["idp-sso_url"] == f"{base}/sso_applications/{stored.id}/sso"
    assert values["idp-entity_id"] == stored.issuer
    pem = services(app).keyring.certificate_pem.decode()
    assert page.get_element_by_id("idp-certificate").text_content() == pem
    # The metadata the page points to names the same certificate, as an SP would read it.
    metadata = browser.get(urlsplit(values["idp-metadata_url"]).path)
    assert services(app).keyring.certificate_base64.encode() in metadata.data
    download = browser.get(f"{path}/idp-certificate.pem")
    assert download.status_code == 200 and download.data.decode() == pem
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert all(script.get("nonce") for script in page.xpath("//script"))  # the Copy buttons' script only


# --- test launch and delete --------------------------------------------------------------------


def test_a_test_launch_opens_the_app_as_the_admin(app, tree, signed_in):
    stored = new_app(app, tree, mappings={"mail": "email"})
    browser = signed_in(tree.root_admin)
    path = apps_path(tree.root.id, stored.id)
    answer = post(browser, f"{path}/launch", {}, page=path)
    assert answer.status_code == 303
    link = urlsplit(answer.headers["Location"])
    assert link.path == "/sso_applications/open"
    posted = document(browser.get(f"{link.path}?{link.query}"))
    (form,) = posted.forms
    assert form.action == f"{SP}/acs"
    assert "SAMLResponse" in dict(form.form_values())


def test_a_test_launch_of_an_app_not_allowed_here_says_why(app, tree, signed_in):
    stored = new_app(app, tree, brands=[tree.office.id])  # owned by the brokerage, allowed for the office only
    browser = signed_in(tree.root_admin)
    path = apps_path(tree.root.id, stored.id)
    answer = post(browser, f"{path}/launch", {}, page=path)
    assert answer.status_code == 403
    assert "not allowed for this brand" in document(answer).get_element_by_id("launch-error").text_content()


def test_delete_asks_first_then_deletes(app, tree, signed_in):
    stored = new_app(app, tree)
    browser = signed_in(tree.root_admin)
    path = apps_path(tree.root.id, stored.id, "delete")
    confirm = document(browser.get(path))
    assert confirm.xpath("//form[@method='post']//button[@class='danger']")
    assert services(app).store.app(stored.id) is not None  # asking deletes nothing
    answer = post(browser, path, {})
    assert answer.status_code == 303 and answer.headers["Location"].endswith("/apps?done=deleted")
    assert services(app).store.app(stored.id) is None
    assert browser.get(apps_path(tree.root.id, stored.id)).status_code == 404


# --- what no one else may do -------------------------------------------------------------------

POSTS = ["new", "import", "{app}/edit", "{app}/icon", "{app}/brands", "{app}/launch", "{app}/delete"]
GETS = ["", "new", "import", "{app}", "{app}/edit", "{app}/delete", "{app}/idp-certificate.pem"]


def test_every_form_refuses_a_cross_site_post(app, tree, signed_in):
    stored = new_app(app, tree)
    browser = signed_in(tree.root_admin)
    csrf = token(browser, apps_path(tree.root.id))
    for action in POSTS:  # the delete and the launch would succeed with this token from this site
        path = apps_path(tree.root.id, action.format(app=stored.id))
        cross_site = browser.post(path, data={"csrf_token": csrf}, headers={"Sec-Fetch-Site": "cross-site"})
        without_token = browser.post(path, data={}, headers=SAME_ORIGIN)
        assert (cross_site.status_code, without_token.status_code) == (403, 403), action
    assert services(app).store.app(stored.id) == stored
    assert services(app).store.apps_owned_by(tree.root.id) == [stored]


def test_an_admin_of_another_brand_never_sees_or_changes_its_apps(app, tree, signed_in, make):
    stored = new_app(app, tree, brands=[tree.root.id, tree.office.id])
    browser = signed_in(person(make, tree.other, "Admin", "Oscar", "Other"))
    for action in GETS + POSTS:
        path = apps_path(tree.root.id, action.format(app=stored.id)).rstrip("/")
        if action in POSTS:
            answer = post(browser, path, {"name": "Taken", "brands": [tree.other.id]}, page=apps_path(tree.other.id))
        else:
            answer = browser.get(path)
        assert answer.status_code == 404, action
        assert "Listings" not in answer.get_data(as_text=True), action
        # Nor through their own brand's address.
        other = apps_path(tree.other.id, action.format(app=stored.id)).rstrip("/")
        if "{app}" in action:
            answer = post(browser, other, {}, page=apps_path(tree.other.id)) if action in POSTS else browser.get(other)
            assert answer.status_code == 404, action
    assert services(app).store.app(stored.id) == stored
    assert services(app).store.apps_owned_by(tree.other.id) == []


def test_an_agent_is_refused_the_applications_section(tree, signed_in):
    assert signed_in(tree.agent).get(apps_path(tree.office.id)).status_code == 403
