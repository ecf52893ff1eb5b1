"""/brands/<brand>/sso_applications: creating, listing, changing, sharing and deleting a brand's applications."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from idp.models import Brand, User
from tests.api.helpers import DOCUMENTED_EXAMPLE, Org, link_app, names, page_text, saml_app
from tests.conftest import BASE_URL

APP_KEYS = {
    "id",
    "created_at",
    "updated_at",
    "deleted_at",
    "authentication_type",
    "url",
    "acs_url",
    "entity_id",
    "start_url",
    "signed",
    "name",
    "name_id",
    "name_id_format",
    "mappings",
    "audience",
    "destination",
    "recipient",
    "order",
    "issuer",
    "extra",
    "type",
    "open_url",
    "icon",
    "brands",
    # ours, from SP metadata or set through the API, after the documented ones
    "acs_endpoints",
    "sp_certificates",
    "encryption_certificate",
    "encryption_algorithm",
    "require_signed_requests",
    "allow_sha1_signatures",
    "require_mfa",
    "slo_url",
    "slo_binding",
    "signature_algorithm",
    "affiliations",
    "attribute_consuming_services",
}


@dataclass
class Family:
    """A parent brand with an admin, a child brand with an agent, and an unrelated brand with its own admin."""

    parent: Brand
    parent_admin: User
    child: Brand
    child_agent: User
    other: Brand
    other_admin: User


@pytest.fixture
def family(make) -> Family:
    parent = make.brand("Parent Brokerage")
    child = make.brand("Child Office", parent=parent, brand_type="Office")
    other = make.brand("Unrelated Brokerage")
    return Family(
        parent=parent,
        parent_admin=make.user(brand=parent, role="Admin"),
        child=child,
        child_agent=make.user(brand=child, role="Agent"),
        other=other,
        other_admin=make.user(brand=other, role="Admin"),
    )


# creating


def test_create_answers_the_documented_shape(apps, org: Org):
    body = saml_app()
    response = apps.create(org.admin, org.brand, body)
    assert response.status_code == 200, response.json
    assert set(response.json) == {"code", "data"}
    assert response.json["code"] == "OK"
    data = response.json["data"]
    assert set(data) == APP_KEYS
    assert data["type"] == "sso_application"
    assert data["id"]
    assert data["deleted_at"] is None
    assert data["created_at"] == data["updated_at"]
    assert {key: data[key] for key in body} == body
    assert data["brands"] == [org.brand.id]
    assert data["icon"] is None
    assert data["open_url"].startswith(BASE_URL + "/sso_applications/open?hash=")


def test_the_documented_example_body_is_accepted(apps, org: Org):
    data = apps.created(org.admin, org.brand, DOCUMENTED_EXAMPLE)
    assert data["name"] == DOCUMENTED_EXAMPLE["name"]
    assert data["name_id"] is None  # the string "null" stands for "use the default"
    assert data["acs_url"] == DOCUMENTED_EXAMPLE["acs_url"]


def test_the_issuer_defaults_to_a_url_of_the_apps_own(apps, org: Org):
    first = apps.created(org.admin, org.brand)
    second = apps.created(org.admin, org.brand)
    assert first["issuer"].startswith(BASE_URL + "/")
    assert first["id"] in first["issuer"]
    assert first["issuer"] != second["issuer"]


def test_the_default_issuer_stays_the_same_on_update(apps, org: Org):
    created = apps.created(org.admin, org.brand)
    renamed = apps.update(org.admin, org.brand, created["id"], {"name": "Renamed"})
    cleared = apps.update(org.admin, org.brand, created["id"], {"issuer": None})
    assert renamed.json["data"]["issuer"] == created["issuer"]
    assert cleared.json["data"]["issuer"] == created["issuer"]


def test_an_explicit_issuer_is_kept(apps, org: Org):
    data = apps.created(org.admin, org.brand, saml_app(issuer="urn:example:idp"))
    assert data["issuer"] == "urn:example:idp"


# listing


def test_list_answers_count_and_total(apps, org: Org):
    for _ in range(3):
        apps.created(org.admin, org.brand)
    response = apps.list(org.agent, org.brand)
    assert response.status_code == 200
    assert response.json["code"] == "OK"
    assert response.json["info"] == {"count": 3, "total": 3}
    assert len(response.json["data"]) == 3


def test_list_is_ordered_by_order_then_name(apps, org: Org):
    for name, order in (("Zeta", 0), ("alpha", 1), ("Beta", 1), ("Gamma", 0)):
        apps.created(org.admin, org.brand, saml_app(name=name, order=order))
    assert names(apps.listed(org.agent, org.brand)) == ["Gamma", "Zeta", "alpha", "Beta"]


def test_list_pages_with_start_and_limit(apps, org: Org):
    for name in ("A", "B", "C", "D"):
        apps.created(org.admin, org.brand, saml_app(name=name))
    response = apps.list(org.agent, org.brand, start=1, limit=2)
    assert names(response.json["data"]) == ["B", "C"]
    assert response.json["info"] == {"count": 2, "total": 4}


def test_listed_apps_carry_an_open_url_for_the_caller(apps, org: Org):
    apps.created(org.admin, org.brand)
    (listed,) = apps.listed(org.agent, org.brand)
    assert listed["open_url"].startswith(BASE_URL + "/sso_applications/open?hash=")


def test_an_agent_of_a_child_brand_lists_the_apps_of_the_parent_brand_but_not_of_an_unrelated_one(apps, family: Family):
    parent_app = apps.created(family.parent_admin, family.parent, saml_app(name="Parent app"))
    apps.created(family.other_admin, family.other, saml_app(name="Unrelated app"))
    listed = apps.listed(family.child_agent, family.child)
    assert [app["id"] for app in listed] == [parent_app["id"]]
    assert listed[0]["open_url"]


def test_a_user_outside_a_brand_cannot_list_its_apps(apps, family: Family):
    assert apps.list(family.other_admin, family.parent).status_code == 403


# who may change what


def test_an_agent_cannot_create_an_app(apps, org: Org):
    assert apps.create(org.agent, org.brand, saml_app()).status_code == 403


def test_an_agent_cannot_update_an_app(apps, org: Org):
    app = apps.created(org.admin, org.brand)
    assert apps.update(org.agent, org.brand, app["id"], {"name": "Mine now"}).status_code == 403
    assert names(apps.listed(org.agent, org.brand)) == [app["name"]]


def test_an_agent_cannot_delete_an_app(apps, org: Org):
    app = apps.created(org.admin, org.brand)
    assert apps.delete(org.agent, org.brand, app["id"]).status_code == 403
    assert names(apps.listed(org.agent, org.brand)) == [app["name"]]


def test_an_admin_of_a_parent_brand_manages_the_apps_of_a_child_brand(apps, family: Family):
    created = apps.created(family.parent_admin, family.child, saml_app(name="Child app"))
    assert created["brands"] == [family.child.id]
    updated = apps.update(family.parent_admin, family.child, created["id"], {"name": "Child app, renamed"})
    assert updated.status_code == 200, updated.json
    assert names(apps.listed(family.child_agent, family.child)) == ["Child app, renamed"]
    assert apps.delete(family.parent_admin, family.child, created["id"]).status_code == 204
    assert apps.listed(family.child_agent, family.child) == []


def test_an_admin_of_one_brand_is_forbidden_the_apps_of_another(apps, family: Family):
    theirs = apps.created(family.other_admin, family.other)
    assert apps.create(family.parent_admin, family.other, saml_app()).status_code == 403
    assert apps.update(family.parent_admin, family.other, theirs["id"], {"name": "Taken"}).status_code == 403
    assert apps.delete(family.parent_admin, family.other, theirs["id"]).status_code == 403


def test_an_app_id_of_another_brand_is_not_found_under_ones_own_brand(apps, family: Family):
    theirs = apps.created(family.other_admin, family.other)
    assert apps.update(family.parent_admin, family.parent, theirs["id"], {"name": "Taken"}).status_code == 404
    assert apps.delete(family.parent_admin, family.parent, theirs["id"]).status_code == 404
    assert names(apps.listed(family.other_admin, family.other)) == [theirs["name"]]


def test_an_admin_of_a_child_brand_cannot_manage_the_parent_brands_apps(apps, make, family: Family):
    child_admin = make.user(brand=family.child, role="Admin")
    assert apps.create(child_admin, family.parent, saml_app()).status_code == 403


# updating


def test_update_changes_only_the_fields_sent(apps, org: Org):
    created = apps.created(org.admin, org.brand, saml_app(signed="assertion", order=3))
    response = apps.update(org.admin, org.brand, created["id"], {"name": "New name", "order": 7})
    assert response.status_code == 200, response.json
    updated = response.json["data"]
    assert (updated["name"], updated["order"]) == ("New name", 7)
    unchanged = {key: value for key, value in created.items() if key not in ("name", "order", "updated_at", "open_url")}
    assert {key: updated[key] for key in unchanged} == unchanged
    assert updated["updated_at"] >= created["updated_at"]
    assert names(apps.listed(org.agent, org.brand)) == ["New name"]


def test_sha1_signatures_are_refused_unless_the_admin_allows_them(apps, org: Org):
    created = apps.created(org.admin, org.brand, saml_app())
    assert created["allow_sha1_signatures"] is False

    allowed = apps.update(org.admin, org.brand, created["id"], {"allow_sha1_signatures": True})
    assert allowed.status_code == 200, allowed.json
    assert allowed.json["data"]["allow_sha1_signatures"] is True
    (listed,) = apps.listed(org.admin, org.brand)
    assert listed["allow_sha1_signatures"] is True

    cleared = apps.update(org.admin, org.brand, created["id"], {"allow_sha1_signatures": None})
    assert cleared.json["data"]["allow_sha1_signatures"] is False, "null means the default"


def test_require_mfa_defaults_to_false_is_kept_and_must_be_a_boolean(apps, org: Org):
    created = apps.created(org.admin, org.brand, saml_app())
    assert created["require_mfa"] is False

    required = apps.update(org.admin, org.brand, created["id"], {"require_mfa": True})
    assert required.status_code == 200, required.json
    (listed,) = apps.listed(org.admin, org.brand)
    assert listed["require_mfa"] is True

    refused = apps.update(org.admin, org.brand, created["id"], {"require_mfa": "yes"})
    assert refused.status_code == 400 and refused.json["field"] == "require_mfa"
    cleared = apps.update(org.admin, org.brand, created["id"], {"require_mfa": None})
    assert cleared.json["data"]["require_mfa"] is False, "null means the default"


def test_update_with_the_id_in_the_body(apps, org: Org):
    created = apps.created(org.admin, org.brand)
    response = apps.client.put(
        apps.path(org.brand),
        json={"id": created["id"], "start_url": "https://sp.example.com/elsewhere"},
        headers=apps.headers(org.admin),
    )
    assert response.status_code == 200, response.json
    assert response.json["data"]["id"] == created["id"]
    assert response.json["data"]["start_url"] == "https://sp.example.com/elsewhere"
    assert response.json["data"]["name"] == created["name"]


def test_update_with_the_body_id_of_another_brands_app_is_not_found(apps, family: Family):
    theirs = apps.created(family.other_admin, family.other)
    response = apps.client.put(
        apps.path(family.parent),
        json={"id": theirs["id"], "name": "Taken"},
        headers=apps.headers(family.parent_admin),
    )
    assert response.status_code == 404


def test_an_app_as_answered_can_be_sent_back_unchanged(apps, org: Org):
    created = apps.created(org.admin, org.brand)
    response = apps.update(org.admin, org.brand, created["id"], created)
    assert response.status_code == 200, response.json
    same = {key: value for key, value in created.items() if key not in ("updated_at", "open_url")}
    assert {key: response.json["data"][key] for key in same} == same


# deleting


def test_delete_answers_204_and_the_app_leaves_every_list(apps, org: Org):
    kept = apps.created(org.admin, org.brand)
    gone = apps.created(org.admin, org.brand)
    response = apps.delete(org.admin, org.brand, gone["id"])
    assert response.status_code == 204
    assert response.data == b""
    assert [app["id"] for app in apps.listed(org.admin, org.brand)] == [kept["id"]]
    assert [app["id"] for app in apps.listed(org.agent, org.brand)] == [kept["id"]]
    assert apps.update(org.admin, org.brand, gone["id"], {"name": "Back"}).status_code == 404


def test_a_deleted_apps_open_url_shows_a_403_page(apps, client, org: Org):
    app = apps.created(org.admin, org.brand)
    (listed,) = apps.listed(org.agent, org.brand)
    apps.delete(org.admin, org.brand, app["id"])
    response = client.get(listed["open_url"])
    assert response.status_code == 403
    assert response.mimetype == "text/html"
    assert "SAMLResponse" not in response.text
    assert page_text(response.text)


# sharing with other brands


def test_set_brands_answers_the_app_with_brands_expanded_with_their_parents(apps, family: Family):
    app = apps.created(family.parent_admin, family.parent)
    response = apps.set_brands(family.parent_admin, family.parent, app["id"], [family.parent.id, family.child.id])
    assert response.status_code == 200, response.json
    data = response.json["data"]
    assert data["type"] == "sso_application"
    assert [brand["id"] for brand in data["brands"]] == [family.parent.id, family.child.id]
    assert all(brand["type"] == "brand" for brand in data["brands"])
    parent, child = data["brands"]
    assert parent["parent"] is None
    assert child["parent"]["id"] == family.parent.id
    assert child["parent"]["type"] == "brand"
    assert child["parent"]["name"] == family.parent.name


def test_sharing_with_a_child_brand_lets_its_agents_launch_it(apps, make, family: Family):
    app = apps.created(family.parent_admin, family.child, saml_app(name="Only for the child"))
    sibling = make.brand("Sibling Office", parent=family.parent, brand_type="Office")
    sibling_agent = make.user(brand=sibling, role="Agent")
    assert apps.listed(sibling_agent, sibling) == []
    apps.set_brands(family.parent_admin, family.child, app["id"], [family.child.id, sibling.id])
    assert names(apps.listed(sibling_agent, sibling)) == ["Only for the child"]


def test_sharing_with_a_brand_the_admin_does_not_administer_is_refused_naming_brands(apps, family: Family):
    app = apps.created(family.parent_admin, family.parent)
    response = apps.set_brands(family.parent_admin, family.parent, app["id"], [family.parent.id, family.other.id])
    assert response.status_code == 400
    assert response.json["field"] == "brands"
    assert apps.listed(family.other_admin, family.other) == []


def test_sharing_by_update_with_a_brand_the_admin_does_not_administer_is_refused(apps, family: Family):
    app = apps.created(family.parent_admin, family.parent)
    response = apps.update(family.parent_admin, family.parent, app["id"], {"brands": [family.other.id]})
    assert response.status_code == 400
    assert response.json["field"] == "brands"


def test_creating_an_app_shared_with_a_brand_the_admin_does_not_administer_is_refused(apps, family: Family):
    response = apps.create(family.parent_admin, family.parent, saml_app(brands=[family.other.id]))
    assert response.status_code == 400
    assert response.json["field"] == "brands"


def test_an_app_without_saml_is_created_and_listed(apps, org: Org):
    body = link_app()
    created = apps.created(org.admin, org.brand, body)
    assert (created["authentication_type"], created["url"]) == ("None", body["url"])
    assert names(apps.listed(org.agent, org.brand)) == [body["name"]]


# authentication comes first


@pytest.mark.parametrize(
    ("method", "suffix", "kwargs"),
    [
        ("get", "", {}),
        ("post", "", {"json": saml_app()}),
        ("post", "", {"json": ["not", "an", "object"]}),
        ("put", "/some-id", {"json": {"name": "x"}}),
        ("put", "", {"json": {"id": "some-id", "name": "x"}}),
        ("put", "", {"json": {"name": "x"}}),
        ("put", "", {"json": ["not", "an", "object"]}),
        ("delete", "/some-id", {}),
        ("put", "/some-id/brands", {"json": {"brands": []}}),
        ("put", "/some-id/icon", {"data": {}, "content_type": "multipart/form-data"}),
    ],
    ids=[
        "list",
        "create",
        "create-bad-body",
        "update",
        "update-by-body",
        "update-by-body-without-id",
        "update-by-body-bad-body",
        "delete",
        "brands",
        "icon-without-file",
    ],
)
def test_every_endpoint_asks_for_a_token_before_reading_the_body(client, org: Org, method, suffix, kwargs):
    response = getattr(client, method)(f"/brands/{org.brand.id}/sso_applications{suffix}", **kwargs)
    assert response.status_code == 401, response.json
    assert response.headers["WWW-Authenticate"].startswith("Bearer ")


# open_url in answers


def test_an_answer_carries_an_open_url_only_when_the_brand_may_launch_the_app(apps, client, make, org: Org):
    app = apps.created(org.admin, org.brand)
    elsewhere = make.brand("Another office", parent=org.brand, brand_type="Office")
    moved = apps.set_brands(org.admin, org.brand, app["id"], [elsewhere.id])
    assert moved.status_code == 200, moved.json
    (listed,) = apps.listed(org.admin, org.brand)
    assert listed["open_url"] is None  # the list knows this brand cannot launch it ...
    answered = moved.json["data"]["open_url"]
    # ... so an answer must not hand out a link that can only fail.
    assert answered is None, f"{answered} answers {client.get(answered).status_code}"
