"""The console's Settings section: display name, host names, accent colour and logo, with errors next
to their fields, refusing cross-site posts, and never another brand's settings."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from tests.api.people_helpers import SAME_ORIGIN
from tests.api.test_icons import png
from tests.console.conftest import document


def settings_path(brand) -> str:
    return f"/admin/brands/{brand.id}/settings"


def form_fields(page, action: str) -> dict[str, str]:
    """What the browser would send from the form posting to `action`, as the page fills it."""
    (form,) = page.xpath(f"//form[@action='{action}']")
    fields = {field.get("name"): field.get("value") or "" for field in form.xpath(".//input[@name]")}
    fields.update({area.get("name"): area.text or "" for area in form.xpath(".//textarea[@name]")})
    return fields


def save(browser, brand, **changes: str):
    path = settings_path(brand)
    fields = form_fields(document(browser.get(path)), path)
    return browser.post(path, data={**fields, **changes}, headers=SAME_ORIGIN)


def field_error(page, field: str) -> str:
    return " ".join(page.xpath(f"string(//p[@id='{field}-error'])").split())


def test_the_settings_page_labels_every_field(tree, signed_in):
    page = document(signed_in(tree.root_admin).get(settings_path(tree.root)))
    for field in ("display_name", "hostnames", "accent_color", "logo"):
        assert len(page.xpath(f"//*[@id='{field}']")) == 1, field
        assert page.xpath(f"//label[@for='{field}']"), field
    assert page.xpath("//input[@type='color'][@name='accent_picker']/@aria-label")
    assert page.xpath("//nav[@class='sections']//a[@aria-current='page']/text()") == ["Settings"]


def test_an_admin_saves_display_name_host_names_and_colour(tree, signed_in, store):
    browser = signed_in(tree.root_admin)
    answer = save(
        browser,
        tree.root,
        display_name="Acme Group",
        hostnames="login.acme.example\nSSO.acme.example",
        accent_color="#AA3300",
    )
    assert answer.status_code == 303
    page = document(browser.get(answer.headers["Location"]))
    assert page.xpath("string(//p[@class='notice'])") == "The settings are saved."
    saved = store.brand(tree.root.id)
    assert (saved.display_name, saved.hostnames, saved.accent_color) == (
        "Acme Group",
        ["login.acme.example", "sso.acme.example"],
        "#aa3300",
    )
    assert page.xpath("//input[@id='display_name']/@value") == ["Acme Group"]
    assert page.xpath("//input[@id='accent_picker']/@value") == ["#aa3300"]


def test_without_script_a_colour_picked_and_the_text_left_alone_is_the_one_saved(tree, signed_in, store):
    browser = signed_in(tree.root_admin)
    answer = save(browser, tree.root, accent_picker="#123456")
    assert answer.status_code == 303
    assert store.brand(tree.root.id).accent_color == "#123456"


def test_saving_untouched_keeps_an_unset_colour_unset(tree, signed_in, store):
    assert save(signed_in(tree.root_admin), tree.root).status_code == 303
    assert store.brand(tree.root.id).accent_color is None


def test_bad_values_are_shown_next_to_their_fields_and_nothing_is_saved(tree, signed_in, store):
    browser = signed_in(tree.root_admin)
    answer = save(
        browser, tree.root, display_name="Kept?", hostnames="login.acme.example\nnot a host", accent_color="teal"
    )
    assert answer.status_code == 400
    page = document(answer)
    assert field_error(page, "accent_color") == "The accent colour must be a colour written #rrggbb, such as #0b57d0."
    assert field_error(page, "hostnames") == "'not a host' is not a valid DNS host name (such as login.example.com)."
    assert field_error(page, "display_name") == ""
    assert page.xpath("//input[@id='accent_color']/@aria-invalid") == ["true"]
    assert "accent_color-error" in page.xpath("//input[@id='accent_color']/@aria-describedby")[0]
    # What was typed stays in the form, to be mended.
    assert page.xpath("//input[@id='accent_color']/@value") == ["teal"]
    assert page.xpath("string(//textarea[@id='hostnames'])") == "login.acme.example\nnot a host"
    assert store.brand(tree.root.id).display_name is None


def test_a_host_name_of_another_brand_is_refused_next_to_the_field(tree, signed_in, make, store):
    store.save_brand(type(tree.other)(**{**tree.other.__dict__, "hostnames": ["login.other.example"]}))
    answer = save(signed_in(tree.root_admin), tree.root, hostnames="login.other.example")
    assert answer.status_code == 400
    assert "already a host name of another brand" in field_error(document(answer), "hostnames")


def test_a_logo_is_uploaded_re_encoded_shown_and_removed(tree, signed_in, app):
    browser = signed_in(tree.office_admin)
    path = settings_path(tree.office)
    page = document(browser.get(path))
    fields = form_fields(page, path + "/logo")
    upload = {**fields, "logo": (io.BytesIO(png(6, 6) + b"<script>x</script>"), "logo.png")}
    answer = browser.post(path + "/logo", data=upload, headers=SAME_ORIGIN, content_type="multipart/form-data")
    assert answer.status_code == 303
    page = document(browser.get(answer.headers["Location"]))
    assert page.xpath("string(//p[@class='notice'])") == "The logo is saved."
    (src,) = page.xpath("//section[@aria-labelledby='logo-heading']//img/@src")
    assert src.startswith(f"/brands/{tree.office.id}/logo?v=")  # same origin: the CSP's img-src 'self'
    served = app.test_client().get(src)
    assert b"<script>" not in served.data
    assert Image.open(io.BytesIO(served.data)).size == (6, 6)

    removal = form_fields(page, path + "/logo/remove")
    assert browser.post(path + "/logo/remove", data=removal, headers=SAME_ORIGIN).status_code == 303
    assert app.test_client().get(src).status_code == 404


def test_a_file_that_is_not_an_image_is_refused_next_to_the_logo_field(tree, signed_in):
    browser = signed_in(tree.root_admin)
    path = settings_path(tree.root)
    fields = form_fields(document(browser.get(path)), path + "/logo")
    upload = {**fields, "logo": (io.BytesIO(b"GIF89a-not-really"), "logo.gif")}
    answer = browser.post(path + "/logo", data=upload, headers=SAME_ORIGIN, content_type="multipart/form-data")
    assert answer.status_code == 415  # the status the API answers for the same upload
    assert "The logo must be a PNG" in field_error(document(answer), "logo")


@pytest.mark.parametrize("action", ["", "/logo", "/logo/remove"])
def test_every_settings_form_refuses_a_cross_site_post(tree, signed_in, store, action):
    browser = signed_in(tree.root_admin)
    path = settings_path(tree.root)
    fields = form_fields(document(browser.get(path)), path + "/logo" if action == "/logo/remove" else path + action)
    data = {**fields, "display_name": "Hijacked"}
    assert browser.post(path + action, data=data, headers={"Sec-Fetch-Site": "cross-site"}).status_code == 403
    no_token = {k: v for k, v in data.items() if k != "csrf_token"}
    assert browser.post(path + action, data=no_token, headers=SAME_ORIGIN).status_code == 403
    assert store.brand(tree.root.id).display_name is None


def test_another_brand_s_settings_are_not_found_whether_or_not_the_brand_exists(tree, signed_in, store):
    browser = signed_in(tree.office_admin)
    for brand_id in (tree.root.id, tree.other.id, "no-such-brand"):
        assert browser.get(f"/admin/brands/{brand_id}/settings").status_code == 404
    fields = form_fields(document(browser.get(settings_path(tree.office))), settings_path(tree.office))
    refused = browser.post(
        f"/admin/brands/{tree.other.id}/settings", data={**fields, "display_name": "X"}, headers=SAME_ORIGIN
    )
    assert refused.status_code == 404
    assert store.brand(tree.other.id).display_name is None


def test_an_agent_is_refused_the_settings(tree, signed_in):
    assert signed_in(tree.agent).get(settings_path(tree.office)).status_code == 403
