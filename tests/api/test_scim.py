"""SCIM 2.0 at /scim/v2 through Flask's client: the token's scope, each mapping rule and each refusal."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from idp.models import Brand
from idp.scim.schema import GROUP_EXTENSION, USER_EXTENSION
from idp.scim.tokens import ScimTokens
from tests.api.helpers import saml_app
from tests.support import write_lock_held

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


class Scim:
    """Calls /scim/v2 with one SCIM token."""

    def __init__(self, client, token: str) -> None:
        self.client = client
        self.token = token

    def call(self, method: str, path: str, body: Any = None, **headers: str):
        sent = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/scim+json", **headers}
        data = json.dumps(body) if body is not None else None
        return self.client.open(f"/scim/v2{path}", method=method, data=data, headers=sent)

    def create_user(self, email: str, **fields: Any) -> dict[str, Any]:
        body = {"schemas": [USER_SCHEMA], "userName": email, "name": {"givenName": "Ann", "familyName": "Lee"}}
        response = self.call("POST", "/Users", {**body, **fields})
        assert response.status_code == 201, response.json
        return response.json

    def patch(self, path: str, *operations: dict[str, Any], **headers: str):
        return self.call("PATCH", path, {"schemas": [PATCH_OP], "Operations": list(operations)}, **headers)

    def listed(self, path: str) -> list[dict[str, Any]]:
        response = self.call("GET", path)
        assert response.status_code == 200, response.json
        return response.json.get("Resources", [])


@pytest.fixture
def root(make) -> Brand:
    return make.brand("Acme Realty")


@pytest.fixture
def office(make, root) -> Brand:
    return make.brand("Acme Downtown", parent=root, brand_type="Office")


@pytest.fixture
def scim(client, store, root) -> Scim:
    return Scim(client, ScimTokens(store).create(root.id).secret)


def assert_scim_error(response, status: int, scim_type: str | None = None) -> None:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.headers["Content-Type"].startswith("application/scim+json")
    body = response.json
    assert body["schemas"] == [ERROR]
    assert body["status"] == str(status)
    assert body.get("scimType") == scim_type


# -- tokens and scope ----------------------------------------------------------


def test_no_token_wrong_token_and_api_tokens_are_refused(client, scim, api, make, root):
    assert_scim_error(client.get("/scim/v2/Users"), 401)
    assert client.get("/scim/v2/Users").headers["WWW-Authenticate"].startswith("Bearer")
    token_id, _, secret = scim.token.partition(".")
    assert_scim_error(Scim(client, f"{token_id}.{secret[:-2]}xx").call("GET", "/Users"), 401)
    assert_scim_error(Scim(client, "scim_nosuchtoken.secret").call("GET", "/Users"), 401)
    admin = make.user(brand=root, role="Admin")
    assert_scim_error(Scim(client, api.token(admin)["access_token"]).call("GET", "/Users"), 401)
    assert scim.call("GET", "/Users").status_code == 200


def test_a_revoked_token_stops_at_once(client, store, scim):
    assert scim.call("GET", "/Users").status_code == 200
    ScimTokens(store).revoke(scim.token.removeprefix("scim_").partition(".")[0])
    assert_scim_error(scim.call("GET", "/Users"), 401)


def test_tokens_belong_to_root_brands_and_are_stored_hashed(store, root, office):
    tokens = ScimTokens(store)
    with pytest.raises(Exception, match="root brand"):
        tokens.create(office.id)
    created = tokens.create(root.id)
    stored = store.scim_token(created.token.id)
    assert created.secret.partition(".")[2] not in json.dumps(stored)
    assert [t.id for t in tokens.of_brand(root.id)] == [created.token.id]


def test_service_provider_config_needs_no_token_and_declares_what_is_supported(client, scim):
    config = client.get("/scim/v2/ServiceProviderConfig").json
    assert config["patch"]["supported"] and config["filter"]["supported"] and config["etag"]["supported"]
    assert not config["bulk"]["supported"] and not config["changePassword"]["supported"]
    assert config["authenticationSchemes"][0]["type"] == "oauthbearertoken"
    assert_scim_error(client.get("/scim/v2/Schemas"), 401)
    schemas = {s["id"] for s in scim.listed("/Schemas")}
    assert {USER_SCHEMA, GROUP_SCHEMA, USER_EXTENSION, GROUP_EXTENSION} <= schemas
    types = {t["name"]: t for t in scim.listed("/ResourceTypes")}
    assert types["User"]["endpoint"] == "/Users" and types["Group"]["endpoint"] == "/Groups"
    assert types["User"]["schemaExtensions"] == [{"schema": USER_EXTENSION, "required": False}]


def test_a_token_sees_its_brand_and_those_below_only(client, store, make, scim, root, office):
    in_office = make.user(brand=office)
    other_brokerage = make.brand("Other Realty")
    outsider = make.user(brand=other_brokerage)
    ids = {u["id"] for u in scim.listed("/Users")}
    assert in_office.id in ids and outsider.id not in ids
    assert_scim_error(scim.call("GET", f"/Users/{outsider.id}"), 404)
    assert_scim_error(scim.call("GET", f"/Groups/{other_brokerage.id}"), 404)
    assert_scim_error(scim.call("DELETE", f"/Users/{outsider.id}"), 404)
    assert {g["id"] for g in scim.listed("/Groups")} == {root.id, office.id}
    assert store.user(outsider.id).is_active


# -- users -------------------------------------------------------------------------


def test_a_created_user_is_an_agent_of_the_root_brand_without_a_password(store, scim, root):
    created = scim.create_user("ann@acme.example", externalId="okta-1")
    assert created["userName"] == "ann@acme.example" and created["externalId"] == "okta-1"
    assert created["active"] is True and created["displayName"] == "Ann Lee"
    assert created["meta"]["location"].endswith(f"/scim/v2/Users/{created['id']}")
    user = store.user(created["id"])
    assert (user.email, user.first_name, user.last_name, user.password_hash) == ("ann@acme.example", "Ann", "Lee", None)
    assert [(m.brand_id, m.role) for m in store.memberships_of(user.id)] == [(root.id, "Agent")]
    assert created["groups"][0]["value"] == root.id


def test_username_must_be_an_email_address_and_unique(scim, make):
    assert_scim_error(scim.call("POST", "/Users", {"schemas": [USER_SCHEMA], "userName": "ann"}), 400, "invalidValue")
    taken = make.user()  # in no brand of this token: still an address that is taken
    response = scim.call("POST", "/Users", {"schemas": [USER_SCHEMA], "userName": taken.email.upper()})
    assert_scim_error(response, 409, "uniqueness")


def test_attributes_the_schema_does_not_hold_are_refused(scim):
    response = scim.call("POST", "/Users", {"schemas": [USER_SCHEMA], "userName": "a@acme.example", "nickName": "A"})
    assert response.status_code == 400 and response.json["schemas"] == [ERROR]


def test_custom_attributes_travel_in_our_extension(store, scim):
    extension = {"attributes": [{"name": "mlsid", "value": "M1"}, {"name": "office", "value": "A"}]}
    extension["attributes"].append({"name": "office", "value": "B"})
    created = scim.create_user("ann@acme.example", schemas=[USER_SCHEMA, USER_EXTENSION], **{USER_EXTENSION: extension})
    assert store.user(created["id"]).attributes == {"mlsid": "M1", "office": ["A", "B"]}
    assert created[USER_EXTENSION]["attributes"] == [
        {"name": "mlsid", "value": "M1"},
        {"name": "office", "value": "A"},
        {"name": "office", "value": "B"},
    ]
    too_many = {"attributes": [{"name": "mlsid", "value": str(n)} for n in range(51)]}
    response = scim.call(
        "POST", "/Users", {"schemas": [USER_SCHEMA], "userName": "c@acme.example", USER_EXTENSION: too_many}
    )
    assert_scim_error(response, 400, "invalidValue")
    bad = {"attributes": [{"name": "1 bad", "value": "x"}]}
    response = scim.call(
        "POST", "/Users", {"schemas": [USER_SCHEMA], "userName": "b@acme.example", USER_EXTENSION: bad}
    )
    assert_scim_error(response, 400, "invalidValue")


def test_filters_paging_and_attribute_selection(scim):
    for n in range(5):
        scim.create_user(
            f"agent{n}@acme.example",
            externalId=f"ext-{n}",
            emails=[{"value": f"work{n}@acme.example", "type": "work", "primary": True}],
        )
    by_user_name = scim.listed('/Users?filter=userName eq "agent3@acme.example"')
    assert [u["userName"] for u in by_user_name] == ["agent3@acme.example"]
    assert [u["userName"] for u in scim.listed('/Users?filter=externalId eq "ext-2"')] == ["agent2@acme.example"]
    assert [u["userName"] for u in scim.listed('/Users?filter=USERNAME Eq "Agent3@ACME.example"')] == [
        "agent3@acme.example"
    ]
    by_email = scim.listed('/Users?filter=emails[type eq "work"].value eq "work4@acme.example"')
    assert [u["userName"] for u in by_email] == ["agent4@acme.example"]
    page = scim.call("GET", "/Users?startIndex=2&count=2&sortBy=userName").json
    assert (page["totalResults"], page["startIndex"], page["itemsPerPage"]) == (5, 2, 2)
    assert [u["userName"] for u in page["Resources"]] == ["agent1@acme.example", "agent2@acme.example"]
    pages = [scim.call("GET", f"/Users?startIndex={i}&count=2").json for i in (1, 3, 5)]
    assert [p["totalResults"] for p in pages] == [5, 5, 5] and [p["itemsPerPage"] for p in pages] == [2, 2, 1]
    assert len({u["id"] for p in pages for u in p["Resources"]}) == 5
    only = scim.listed('/Users?filter=externalId eq "ext-1"&attributes=userName')[0]
    assert set(only) == {"schemas", "id", "userName"}
    without = scim.listed('/Users?filter=externalId eq "ext-1"&excludedAttributes=name,emails')[0]
    assert "name" not in without and "emails" not in without and without["userName"] == "agent1@acme.example"
    assert_scim_error(scim.call("GET", "/Users?filter=userName eq"), 400, "invalidFilter")


def test_users_not_provisioned_here_answer_their_address_as_the_work_email(scim, make, office):
    user = make.user(brand=office, email="avery@acme.example")
    found = scim.listed('/Users?filter=emails[type eq "work"].value eq "avery@acme.example"')
    assert [u["id"] for u in found] == [user.id]
    assert found[0]["emails"] == [{"value": "avery@acme.example", "type": "work", "primary": True}]


def test_replace_changes_the_account(store, scim):
    created = scim.create_user("ann@acme.example")
    body = {
        "schemas": [USER_SCHEMA],
        "userName": "ann.lee@acme.example",
        "name": {"givenName": "Annie", "familyName": "Lee"},
    }
    response = scim.call("PUT", f"/Users/{created['id']}", body)
    assert response.status_code == 200, response.json
    user = store.user(created["id"])
    assert (user.email, user.first_name) == ("ann.lee@acme.example", "Annie")


def test_patch_add_replace_and_remove(store, scim):
    created = scim.create_user("ann@acme.example")
    path = f"/Users/{created['id']}"
    assert scim.patch(path, {"op": "replace", "path": "name.givenName", "value": "Annie"}).status_code in (200, 204)
    assert scim.patch(
        path, {"op": "add", "path": "phoneNumbers", "value": [{"value": "+15550100", "type": "work"}]}
    ).status_code in (200, 204)
    assert scim.patch(path, {"op": "remove", "path": "name.familyName"}).status_code in (200, 204)
    user = store.user(created["id"])
    assert (user.first_name, user.last_name, user.phone_number) == ("Annie", "", "+15550100")


def test_active_false_disables_exactly_as_the_admin_api_does(client, store, api, make, scim, root):
    user = make.user(brand=root)
    token = api.token(user)
    assert client.get("/users/self", headers={"Authorization": f"Bearer {token['access_token']}"}).status_code == 200
    response = scim.patch(f"/Users/{user.id}", {"op": "replace", "value": {"active": False}})
    assert response.status_code in (200, 204)
    assert store.user(user.id).is_active is False
    assert store.user(user.id).access_revoked_at is not None
    assert client.get("/users/self", headers={"Authorization": f"Bearer {token['access_token']}"}).status_code == 401
    assert scim.call("GET", f"/Users/{user.id}").json["active"] is False
    # enabling again lets them sign in; what was revoked stays revoked
    assert scim.patch(f"/Users/{user.id}", {"op": "replace", "path": "active", "value": True}).status_code in (200, 204)
    assert store.user(user.id).is_active
    api.token(user)
    assert client.get("/users/self", headers={"Authorization": f"Bearer {token['access_token']}"}).status_code == 401


def test_delete_removes_the_account_and_its_access(client, store, api, make, scim, root):
    user = make.user(brand=root)
    token = api.token(user)["access_token"]
    assert scim.call("DELETE", f"/Users/{user.id}").status_code == 204
    assert store.user(user.id) is None
    assert_scim_error(scim.call("GET", f"/Users/{user.id}"), 404)
    assert client.get("/users/self", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert user.id not in {u["id"] for u in scim.listed("/Users")}
    assert user.id not in {m["value"] for m in scim.call("GET", f"/Groups/{root.id}").json.get("members", [])}
    assert scim.create_user(user.email)["id"] != user.id  # the address is free for a new account


def test_a_user_who_also_belongs_elsewhere_keeps_their_account(store, make, scim, root):
    user = make.user(brand=root)
    make.member(user, make.brand("Other Realty"))
    assert_scim_error(scim.patch(f"/Users/{user.id}", {"op": "replace", "path": "active", "value": False}), 403)
    assert_scim_error(scim.call("DELETE", f"/Users/{user.id}"), 403)
    assert store.user(user.id).is_active
    # their memberships in this token's brands are still this token's to change
    assert scim.patch(f"/Groups/{root.id}", {"op": "remove", "path": f'members[value eq "{user.id}"]'}).status_code in (
        200,
        204,
    )
    assert store.membership(user.id, root.id) is None


def test_etags_guard_changes(scim):
    created = scim.create_user("ann@acme.example")
    path = f"/Users/{created['id']}"
    etag = scim.call("GET", path).headers["ETag"]
    assert etag == created["meta"]["version"]
    assert scim.call("GET", path, **{"If-None-Match": etag}).status_code == 304
    assert scim.patch(
        path, {"op": "replace", "path": "name.givenName", "value": "Annie"}, **{"If-Match": etag}
    ).status_code in (200, 204)
    stale = scim.patch(path, {"op": "replace", "path": "name.givenName", "value": "Ann"}, **{"If-Match": etag})
    assert_scim_error(stale, 412)


# -- groups ------------------------------------------------------------------------


def test_groups_are_brands_with_their_members(scim, make, root, office):
    agent = make.user(brand=office)
    admin = make.user(brand=office, role="Admin")
    group = scim.call("GET", f"/Groups/{office.id}").json
    assert group["displayName"] == "Acme Downtown"
    assert {m["value"] for m in group["members"]} == {agent.id, admin.id}
    assert [a["value"] for a in group[GROUP_EXTENSION]["admins"]] == [admin.id]
    assert group[GROUP_EXTENSION]["brandType"] == "Office"
    assert [g["id"] for g in scim.listed('/Groups?filter=displayName eq "Acme Downtown"')] == [office.id]


def test_adding_and_removing_members_changes_memberships(store, scim, office):
    ann = scim.create_user("ann@acme.example")["id"]
    bob = scim.create_user("bob@acme.example")["id"]
    path = f"/Groups/{office.id}"
    assert scim.patch(path, {"op": "add", "path": "members", "value": [{"value": ann}]}).status_code in (200, 204)
    assert store.membership(ann, office.id).role == "Agent"
    admins = {"op": "add", "path": f"{GROUP_EXTENSION}:admins", "value": [{"value": bob}]}
    assert scim.patch(path, admins).status_code in (200, 204)
    assert store.membership(bob, office.id).role == "Admin"
    assert scim.patch(path, {"op": "remove", "path": f'members[value eq "{ann}"]'}).status_code in (200, 204)
    assert store.membership(ann, office.id) is None


def test_members_must_be_users_this_token_sees(store, make, scim, office):
    outsider = make.user(brand=make.brand("Other Realty"))
    response = scim.patch(f"/Groups/{office.id}", {"op": "add", "path": "members", "value": [{"value": outsider.id}]})
    assert_scim_error(response, 400, "invalidValue")
    assert store.membership(outsider.id, office.id) is None


def test_creating_a_group_makes_a_child_brand_of_the_root(store, scim, root):
    ann = scim.create_user("ann@acme.example")["id"]
    body = {"schemas": [GROUP_SCHEMA], "displayName": "Uptown", "externalId": "g-1", "members": [{"value": ann}]}
    response = scim.call("POST", "/Groups", body)
    assert response.status_code == 201, response.json
    brand = store.brand(response.json["id"])
    assert (brand.name, brand.parent_id, brand.brand_type) == ("Uptown", root.id, "Office")
    assert store.membership(ann, brand.id).role == "Agent"
    assert response.json["externalId"] == "g-1"


def test_deleting_a_group_removes_an_empty_brand_only(store, make, apps, scim, root, office):
    team = make.brand("Team A", parent=office, brand_type="Team")
    assert_scim_error(scim.call("DELETE", f"/Groups/{office.id}"), 409)  # a brand below it
    admin = make.user(brand=team, role="Admin")
    apps.created(admin, team, saml_app())
    assert_scim_error(scim.call("DELETE", f"/Groups/{team.id}"), 409)  # it has an app
    assert_scim_error(scim.call("DELETE", f"/Groups/{root.id}"), 403)
    empty = make.brand("Empty", parent=root, brand_type="Office")
    make.user(brand=empty)
    assert scim.call("DELETE", f"/Groups/{empty.id}").status_code == 204
    assert store.brand(empty.id) is None and store.memberships_in(empty.id) == []


def test_unknown_resources_and_methods_answer_scim_errors(scim):
    assert_scim_error(scim.call("GET", "/Users/nope"), 404)
    assert_scim_error(scim.call("GET", "/Nothing"), 404)
    assert_scim_error(
        scim.call(
            "POST", "/Bulk", {"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": []}
        ),
        501,
    )


def test_searching_with_a_body_and_at_the_root(scim, office):
    scim.create_user("ann@acme.example")
    search = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": 'userName sw "ann"'}
    found = scim.call("POST", "/Users/.search", search).json
    assert [u["userName"] for u in found["Resources"]] == ["ann@acme.example"]
    both = scim.call("GET", '/?filter=displayName eq "Acme Downtown" or userName eq "ann@acme.example"').json
    assert sorted(r["meta"]["resourceType"] for r in both["Resources"]) == ["Group", "User"]


@pytest.fixture
def busy_database(env):
    """The service's SQLite file, with a short wait for a lock (set before the service is built)."""
    env["IDP_SQLITE_BUSY_TIMEOUT"] = "0.2"
    return Path(env["IDP_DATABASE"])


def test_a_store_outage_is_a_scim_503_with_retry_after(busy_database, scim):
    with write_lock_held(busy_database):
        response = scim.call("POST", "/Users", {"schemas": [USER_SCHEMA], "userName": "ann@acme.example"})
    assert_scim_error(response, 503)
    assert int(response.headers["Retry-After"]) >= 1


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/Users", "{not json"),
        ("POST", "/Users", [1, 2]),
        ("POST", "/Users", {"schemas": [USER_SCHEMA], "userName": "a\x00@acme.example"}),
        ("POST", "/Users", {"schemas": [USER_SCHEMA], "userName": ["a@acme.example"]}),
        ("POST", "/Users", {"schemas": [USER_SCHEMA], "userName": "a@acme.example", "active": "maybe"}),
        ("POST", "/Groups", {"schemas": [GROUP_SCHEMA], "displayName": "\ud800"}),
        ("POST", "/Groups", {"schemas": [GROUP_SCHEMA], "displayName": "X", "members": [{"value": "nope"}]}),
        ("PATCH", "/Groups/ROOT", {"schemas": [PATCH_OP], "Operations": [{"op": "explode", "path": "members"}]}),
        (
            "PATCH",
            "/Groups/ROOT",
            {"schemas": [PATCH_OP], "Operations": [{"op": "add", "path": "members[", "value": 1}]},
        ),
        ("GET", '/Users?filter=userName eq "a" and (', None),
        ("GET", "/Users?count=abc", None),
        ("GET", "/Users?attributes=no.such.thing", None),
    ],
)
def test_malformed_requests_are_4xx_in_the_scim_shape(scim, root, method, path, body):
    path = path.replace("ROOT", root.id)
    if isinstance(body, str):
        response = scim.client.open(
            f"/scim/v2{path}",
            method=method,
            data=body,
            headers={"Authorization": f"Bearer {scim.token}", "Content-Type": "application/scim+json"},
        )
    else:
        response = scim.call(method, path, body)
    assert 400 <= response.status_code < 500, response.get_data(as_text=True)
    assert response.json["schemas"] == [ERROR]
