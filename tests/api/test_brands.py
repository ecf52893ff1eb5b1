"""GET and PUT /brands/:brand in Rechat's brand shape, and the brand's logo: for its admins, each
value checked and each refusal naming its field."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from idp.applications.brand_settings import Appearance, BrandSettings
from idp.errors import ValidationError
from tests.api.people_helpers import As, Tree, make_tree
from tests.api.test_icons import png


@pytest.fixture
def tree(make) -> Tree:
    return make_tree(make)


@pytest.fixture
def as_(client, api) -> As:
    return As(client, api)


def test_an_admin_reads_the_brand_in_rechat_s_shape(as_, tree):
    answer = as_.call(tree.root_admin, "GET", f"/brands/{tree.office.id}")
    assert answer.status_code == 200
    brand = answer.json["data"]
    assert (brand["id"], brand["name"], brand["type"], brand["brand_type"]) == (
        tree.office.id,
        "Acme Downtown",
        "brand",
        "Office",
    )
    assert brand["parent"]["id"] == tree.root.id and brand["parents"] == [tree.root.id]
    assert brand["hostnames"] is None
    assert brand["palette"] == {"primary": None, "type": "brand_palette"}
    assert brand["messages"] == {"display_name": None, "type": "brand_messages"}
    assert brand["assets"] == {"logo": None, "type": "brand_assets"}


def test_an_admin_changes_host_names_colour_and_display_name(as_, tree):
    body = {
        "hostnames": ["Login.Acme.Example", "sso.acme.example."],
        "palette": {"primary": "#FFD700"},
        "messages": {"display_name": "Acme Realty Group"},
    }
    answer = as_.call(tree.root_admin, "PUT", f"/brands/{tree.root.id}", body)
    assert answer.status_code == 200, answer.json
    brand = answer.json["data"]
    assert brand["hostnames"] == ["login.acme.example", "sso.acme.example"]
    assert brand["palette"]["primary"] == "#ffd700"
    assert brand["messages"]["display_name"] == "Acme Realty Group"
    assert brand["name"] == "Acme Realty"  # kept: not sent
    assert as_.call(tree.root_admin, "GET", f"/brands/{tree.root.id}").json["data"] == brand


def test_the_shape_sent_back_as_read_is_accepted_and_null_clears(as_, tree):
    as_.call(tree.root_admin, "PUT", f"/brands/{tree.root.id}", {"palette": {"primary": "#112233"}})
    read = as_.call(tree.root_admin, "GET", f"/brands/{tree.root.id}").json["data"]
    read["palette"]["primary"] = None
    answer = as_.call(tree.root_admin, "PUT", f"/brands/{tree.root.id}", read)
    assert answer.status_code == 200, answer.json
    assert answer.json["data"]["palette"]["primary"] is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"hostnames": ["not a host"]}, "hostnames"),
        ({"hostnames": ["localhost"]}, "hostnames"),  # one label: not a name a brand can own
        ({"hostnames": ["10.0.0.1"]}, "hostnames"),
        ({"hostnames": ["-bad.example.com"]}, "hostnames"),
        ({"hostnames": ["a" * 64 + ".example.com"]}, "hostnames"),
        ({"hostnames": "login.example.com"}, "hostnames"),
        ({"palette": {"primary": "red"}}, "palette.primary"),
        ({"palette": {"primary": "#12345"}}, "palette.primary"),
        ({"palette": {"primary": "#1234567"}}, "palette.primary"),
        ({"palette": {"secondary": "#123456"}}, "palette.secondary"),
        ({"messages": {"display_name": "x" * 201}}, "messages.display_name"),
        ({"messages": {"display_name": "bad\x00name"}}, "messages.display_name"),
        ({"name": ""}, "name"),
        ({"owner": "me"}, "owner"),
    ],
)
def test_bad_values_are_refused_naming_the_field(as_, tree, body, field):
    answer = as_.call(tree.root_admin, "PUT", f"/brands/{tree.root.id}", body)
    assert answer.status_code == 400, answer.json
    assert answer.json["field"] == field


def test_the_service_s_own_host_name_is_no_brand_s(store, tree):
    """Else the login page everyone reaches without a brand's host name would show that brand."""
    brands = BrandSettings(store, logo_max_bytes=1024, service_hostname="IDP.example.com")
    with pytest.raises(ValidationError) as refused:
        brands.update(tree.root_admin, tree.root.id, Appearance(hostnames=["login.acme.example", "idp.example.com."]))
    assert refused.value.field == "hostnames"
    assert "own host name" in refused.value.message
    assert store.brand(tree.root.id).hostnames == []


def test_a_host_name_of_another_brand_is_a_conflict_naming_hostnames(as_, tree, make):
    other_admin = make.user(brand=tree.other, role="Admin")
    assert (
        as_.call(tree.root_admin, "PUT", f"/brands/{tree.root.id}", {"hostnames": ["login.acme.example"]}).status_code
        == 200
    )
    answer = as_.call(other_admin, "PUT", f"/brands/{tree.other.id}", {"hostnames": ["LOGIN.acme.example"]})
    assert answer.status_code == 409
    assert answer.json["field"] == "hostnames"
    assert "login.acme.example" in answer.json["message"]


def test_only_admins_of_the_brand_or_above_may_read_or_change_it(as_, tree):
    for user, brand in [(tree.agent, tree.office), (tree.office_admin, tree.root), (tree.root_admin, tree.other)]:
        assert as_.call(user, "GET", f"/brands/{brand.id}").status_code == 403
        assert as_.call(user, "PUT", f"/brands/{brand.id}", {"messages": {"display_name": "X"}}).status_code == 403
    assert as_.call(tree.root_admin, "GET", "/brands/no-such-brand").status_code == 404


def _upload(as_, user, brand_id, data: bytes):
    return as_.client.put(
        f"/brands/{brand_id}/logo",
        data={"logo": (io.BytesIO(data), "logo.png")},
        content_type="multipart/form-data",
        headers=as_.headers(user),
    )


def test_a_logo_is_re_encoded_served_from_this_origin_and_removed(as_, tree, client):
    polyglot = png(8, 8) + b"<html><script>alert(1)</script></html>"
    answer = _upload(as_, tree.root_admin, tree.root.id, polyglot)
    assert answer.status_code == 200, answer.json
    logo_url = answer.json["data"]["assets"]["logo"]
    assert logo_url.startswith("http://127.0.0.1") and f"/brands/{tree.root.id}/logo?v=1" in logo_url

    served = client.get(f"/brands/{tree.root.id}/logo?v=1")
    assert served.status_code == 200 and served.mimetype == "image/png"
    assert b"<html>" not in served.data
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    with Image.open(io.BytesIO(served.data)) as image:
        assert (image.format, image.size) == ("PNG", (8, 8))

    assert as_.call(tree.root_admin, "DELETE", f"/brands/{tree.root.id}/logo").status_code == 204
    assert client.get(f"/brands/{tree.root.id}/logo?v=1").status_code == 404
    again = _upload(as_, tree.root_admin, tree.root.id, png(4, 4)).json["data"]["assets"]["logo"]
    assert again.endswith("?v=2")  # never a URL a cache may still hold for the old logo


def test_a_logo_that_is_not_an_image_is_refused_naming_logo(as_, tree):
    answer = _upload(as_, tree.root_admin, tree.root.id, b"<svg xmlns='http://www.w3.org/2000/svg'/>")
    assert answer.status_code == 415
    assert answer.json["field"] == "logo"
    assert _upload(as_, tree.agent, tree.office.id, png()).status_code == 403


def test_changes_are_in_the_brand_s_audit_log(as_, tree):
    as_.call(
        tree.root_admin, "PUT", f"/brands/{tree.root.id}", {"palette": {"primary": "#123456"}, "name": "Acme Realty"}
    )
    _upload(as_, tree.root_admin, tree.root.id, png())
    events = as_.call(tree.root_admin, "GET", f"/brands/{tree.root.id}/events").json["data"]
    by_action = {event["action"]: event for event in events}
    assert by_action["brand.update"]["details"] == {"fields": "accent_color"}  # the name sent was unchanged
    assert by_action["brand.update"]["actor"] == tree.root_admin.id
    assert by_action["brand.update"]["target"] == f"brand:{tree.root.id}"
    assert by_action["brand.logo"]["details"] == {"change": "set"}
