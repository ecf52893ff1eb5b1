"""The admin API for people: brand members, and the accounts of users whose brands the admin administers.

Each refusal has its own test: who may list, add, change and remove members, who may see a user and
who may change their account; disabling and deleting take effect at once (see test_revocation.py).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pyotp
import pytest

from tests.api.helpers import page_text
from tests.api.mfa_helpers import Mfa
from tests.api.people_helpers import SAME_ORIGIN, As, Tree, csrf_of, make_tree, signs_in
from tests.api.test_second_factor import by_password, sign_in
from tests.support import PASSWORD


@pytest.fixture
def env(env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    return {**env, "IDP_OUTBOX": str(tmp_path / "outbox")}


@pytest.fixture
def tree(make) -> Tree:
    return make_tree(make)


@pytest.fixture
def as_(client, api) -> As:
    return As(client, api)


def members(as_: As, who, brand, **query):
    return as_.call(who, "GET", f"/brands/{brand.id}/members", query_string=query)


def emails(response) -> list[str]:
    assert response.status_code == 200, response.json
    return [member["email"] for member in response.json["data"]]


# --- listing members ---------------------------------------------------------------------------------------------


def test_an_office_admin_lists_the_office_members_with_their_roles(as_, tree) -> None:
    response = members(as_, tree.office_admin, tree.office)
    assert response.status_code == 200
    roles = {m["email"]: m["role"] for m in response.json["data"]}
    assert roles == {
        tree.office_admin.email: "Admin",
        tree.agent.email: "Agent",
        tree.shared.email: "Agent",
    }
    assert response.json["info"] == {"count": 3, "total": 3}
    assert all(m["brand"] == tree.office.id and m["type"] == "user" for m in response.json["data"])


def test_an_admin_of_the_parent_brand_lists_the_office_members(as_, tree) -> None:
    assert tree.agent.email in emails(members(as_, tree.root_admin, tree.office))


def test_members_are_paginated_and_searched_by_name_or_email(as_, tree) -> None:
    page = members(as_, tree.office_admin, tree.office, start=1, limit=1)
    assert page.json["info"] == {"count": 1, "total": 3}
    assert emails(members(as_, tree.office_admin, tree.office, q="shared")) == [tree.shared.email]
    assert emails(members(as_, tree.office_admin, tree.office, q=tree.agent.email.upper())) == [tree.agent.email]


def test_an_agent_may_not_list_members(as_, tree) -> None:
    assert members(as_, tree.agent, tree.office).status_code == 403


def test_an_office_admin_may_not_list_the_parent_brands_members(as_, tree) -> None:
    assert members(as_, tree.office_admin, tree.root).status_code == 403


def test_an_admin_may_not_list_another_brokerages_members(as_, tree) -> None:
    assert members(as_, tree.root_admin, tree.other).status_code == 403


def test_members_of_an_unknown_brand_is_404(as_, tree) -> None:
    assert as_.call(tree.root_admin, "GET", "/brands/nope/members").status_code == 404


def test_a_bad_limit_is_400_naming_it(as_, tree) -> None:
    response = members(as_, tree.office_admin, tree.office, limit=0)
    assert response.status_code == 400 and response.json["field"] == "limit"


def test_members_need_a_token(client, tree) -> None:
    assert client.get(f"/brands/{tree.office.id}/members").status_code == 401


# --- adding, changing and removing members -----------------------------------------------------------------------


def add(as_: As, who, brand, **body):
    return as_.call(who, "POST", f"/brands/{brand.id}/members", body)


def test_adding_a_new_address_creates_a_user_without_a_password(client, api, as_, tree, store) -> None:
    response = add(
        as_,
        tree.office_admin,
        tree.office,
        email="new.agent@example.com",
        first_name="Nina",
        last_name="New",
        role="Agent",
        attributes={"license": "CA-123", "regions": ["north", "east"]},
    )
    assert response.status_code == 200, response.json
    data = response.json["data"]
    assert (data["email"], data["role"], data["brand"]) == ("new.agent@example.com", "Agent", tree.office.id)
    assert data["attributes"] == {"license": "CA-123", "regions": ["north", "east"]}
    assert response.json["info"] == {"created": True, "invited": False}
    stored = store.user(data["id"])
    assert stored.password_hash is None and stored.attributes["regions"] == ["north", "east"]
    assert not signs_in(client, api, "new.agent@example.com", "")


def test_adding_an_existing_user_by_email_gives_them_the_role(as_, tree, store) -> None:
    response = add(as_, tree.root_admin, tree.root, email=tree.agent.email.upper(), role="Admin")
    assert response.status_code == 200, response.json
    assert response.json["info"]["created"] is False
    assert store.membership(tree.agent.id, tree.root.id).role == "Admin"
    assert store.user(tree.agent.id).first_name == tree.agent.first_name


def test_adding_someone_who_is_already_a_member_is_409(as_, tree) -> None:
    response = add(as_, tree.office_admin, tree.office, email=tree.agent.email, role="Admin")
    assert response.status_code == 409 and response.json["field"] == "email"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "x@example.com", "first_name": "X", "last_name": "Y", "role": "Owner"}, "role"),
        ({"email": "x@example.com", "first_name": "X", "last_name": "Y"}, "role"),
        ({"email": "not an address", "first_name": "X", "last_name": "Y", "role": "Agent"}, "email"),
        ({"email": "x@example.com", "last_name": "Y", "role": "Agent"}, "first_name"),
        ({"email": "x@example.com", "first_name": "X", "last_name": "Y", "role": "Agent", "invite": "yes"}, "invite"),
        (
            {"email": "x@example.com", "first_name": "X", "last_name": "Y", "role": "Agent", "attributes": {"a": 1}},
            "attributes.a",
        ),
        (
            {"email": "x@example.com", "first_name": "X", "last_name": "Y", "role": "Agent", "attributes": ["a"]},
            "attributes",
        ),
        (
            {
                "email": "x@example.com",
                "first_name": "X",
                "last_name": "Y",
                "role": "Agent",
                "attributes": {"a": {"nested": "no"}},
            },
            "attributes.a",
        ),
        (
            {
                "email": "x@example.com",
                "first_name": "X",
                "last_name": "Y",
                "role": "Agent",
                "attributes": {"a b": "1"},
            },
            "attributes",
        ),
    ],
)
def test_bad_member_bodies_are_400_naming_the_field(as_, tree, store, body, field) -> None:
    response = as_.call(tree.office_admin, "POST", f"/brands/{tree.office.id}/members", body)
    assert response.status_code == 400, response.json
    assert response.json["field"] == field
    assert store.user_by_email("x@example.com") is None


def test_an_agent_may_not_add_members(as_, tree, store) -> None:
    response = add(as_, tree.agent, tree.office, email="y@example.com", first_name="Y", last_name="Z", role="Agent")
    assert response.status_code == 403
    assert store.user_by_email("y@example.com") is None


def test_an_office_admin_may_not_add_members_to_the_parent_brand(as_, tree, store) -> None:
    assert add(as_, tree.office_admin, tree.root, email=tree.agent.email, role="Admin").status_code == 403
    assert store.membership(tree.agent.id, tree.root.id) is None


def test_an_admin_changes_a_members_role(as_, tree, store) -> None:
    response = as_.call(
        tree.office_admin, "PUT", f"/brands/{tree.office.id}/members/{tree.agent.id}", {"role": "Admin"}
    )
    assert response.status_code == 200 and response.json["data"]["role"] == "Admin"
    assert store.membership(tree.agent.id, tree.office.id).role == "Admin"


def test_changing_the_role_of_a_non_member_is_404(as_, tree) -> None:
    path = f"/brands/{tree.office.id}/members/{tree.outsider.id}"
    assert as_.call(tree.office_admin, "PUT", path, {"role": "Admin"}).status_code == 404


def test_a_bad_role_is_400(as_, tree) -> None:
    path = f"/brands/{tree.office.id}/members/{tree.agent.id}"
    response = as_.call(tree.office_admin, "PUT", path, {"role": "King"})
    assert response.status_code == 400 and response.json["field"] == "role"


def test_an_agent_may_not_change_roles(as_, tree, store) -> None:
    path = f"/brands/{tree.office.id}/members/{tree.agent.id}"
    assert as_.call(tree.agent, "PUT", path, {"role": "Admin"}).status_code == 403
    assert store.membership(tree.agent.id, tree.office.id).role == "Agent"


def test_an_admin_removes_a_member(as_, tree, store) -> None:
    path = f"/brands/{tree.office.id}/members/{tree.agent.id}"
    assert as_.call(tree.root_admin, "DELETE", path).status_code == 204
    assert store.membership(tree.agent.id, tree.office.id) is None
    assert as_.call(tree.root_admin, "DELETE", path).status_code == 404


def test_an_agent_may_not_remove_members(as_, tree, store) -> None:
    path = f"/brands/{tree.office.id}/members/{tree.shared.id}"
    assert as_.call(tree.agent, "DELETE", path).status_code == 403
    assert store.membership(tree.shared.id, tree.office.id) is not None


# --- seeing and changing accounts --------------------------------------------------------------------------------


def test_an_admin_sees_a_user_of_their_brand(as_, tree) -> None:
    response = as_.call(tree.root_admin, "GET", f"/users/{tree.agent.id}")
    assert response.status_code == 200 and response.json["data"]["email"] == tree.agent.email


def test_an_admin_never_sees_a_user_outside_their_brands(as_, tree) -> None:
    response = as_.call(tree.root_admin, "GET", f"/users/{tree.outsider.id}")
    assert response.status_code == 403
    assert tree.outsider.email not in response.get_data(as_text=True)


def test_an_agent_may_not_see_a_colleague(as_, tree) -> None:
    assert as_.call(tree.agent, "GET", f"/users/{tree.shared.id}").status_code == 403


def test_an_unknown_user_is_404(as_, tree) -> None:
    assert as_.call(tree.root_admin, "GET", "/users/no-such-user").status_code == 404


def test_an_admin_updates_a_users_profile_and_attributes(as_, tree, store) -> None:
    body = {"first_name": "Adele", "phone_number": "+1 555 0100", "attributes": {"team": "North"}, "id": "ignored"}
    response = as_.call(tree.office_admin, "PUT", f"/users/{tree.agent.id}", body)
    assert response.status_code == 200, response.json
    data = response.json["data"]
    assert (data["first_name"], data["last_name"], data["phone_number"]) == ("Adele", "Agent", "+1 555 0100")
    assert store.user(tree.agent.id).attributes == {"team": "North"}


@pytest.mark.parametrize(
    ("attributes", "field"),
    [
        ({"mls id": "M-1"}, "attributes"),
        ({f"k{n}": "v" for n in range(51)}, "attributes"),
        ({"mlsid": ["M"] * 51}, "attributes.mlsid"),
        ({"mlsid": "M" * 1025}, "attributes.mlsid"),
    ],
    ids=["key-with-a-space", "51-keys", "51-values", "a-value-over-1024"],
)
def test_an_update_holds_attributes_to_the_rules_every_attribute_is_held_to(
    as_, tree, store, attributes, field
) -> None:
    response = as_.call(tree.office_admin, "PUT", f"/users/{tree.agent.id}", {"attributes": attributes})
    assert response.status_code == 400 and response.json["field"] == field, response.json
    assert store.user(tree.agent.id).attributes == tree.agent.attributes


def test_an_update_with_an_unknown_field_is_400_naming_it(as_, tree) -> None:
    response = as_.call(tree.office_admin, "PUT", f"/users/{tree.agent.id}", {"password": "x"})
    assert response.status_code == 400 and response.json["field"] == "password"


def test_an_update_with_a_bad_name_is_400(as_, tree) -> None:
    response = as_.call(tree.office_admin, "PUT", f"/users/{tree.agent.id}", {"first_name": "Bell\x07"})
    assert response.status_code == 400 and response.json["field"] == "first_name"


def test_a_user_who_also_belongs_elsewhere_cannot_be_changed(as_, tree, store) -> None:
    """The office admin sees the shared user, but may not change an account another brokerage shares."""
    assert as_.call(tree.office_admin, "GET", f"/users/{tree.shared.id}").status_code == 200
    response = as_.call(tree.office_admin, "PUT", f"/users/{tree.shared.id}", {"first_name": "Changed"})
    assert response.status_code == 403
    assert store.user(tree.shared.id).first_name == "Sam"
    assert as_.call(tree.office_admin, "POST", f"/users/{tree.shared.id}/disable").status_code == 403
    assert store.user(tree.shared.id).is_active


def test_an_admin_may_not_update_a_user_outside_their_brands(as_, tree, store) -> None:
    assert as_.call(tree.root_admin, "PUT", f"/users/{tree.outsider.id}", {"first_name": "X"}).status_code == 403
    assert store.user(tree.outsider.id).first_name == "Olga"


def test_an_office_admin_may_not_change_the_parent_brands_admin(as_, tree, make, store) -> None:
    make.member(tree.root_admin, tree.office, "Agent")
    assert as_.call(tree.office_admin, "POST", f"/users/{tree.root_admin.id}/disable").status_code == 403
    assert store.user(tree.root_admin.id).is_active


# --- disabling, enabling, deleting -------------------------------------------------------------------------------


def test_a_disabled_user_fails_sign_in_exactly_as_a_wrong_password_does(client, api, as_, tree) -> None:
    wrong = sign_in(client, api, tree.agent.email, "not the password at all")
    response = as_.call(tree.office_admin, "POST", f"/users/{tree.agent.id}/disable")
    assert response.status_code == 200 and response.json["data"]["user_status"] == "Disabled"
    disabled = sign_in(client, api, tree.agent.email, PASSWORD)
    assert (disabled.status_code, disabled.json) == (wrong.status_code, wrong.json)


def test_enabling_lets_the_user_sign_in_again(client, api, as_, tree) -> None:
    as_.call(tree.office_admin, "POST", f"/users/{tree.agent.id}/disable")
    response = as_.call(tree.office_admin, "POST", f"/users/{tree.agent.id}/enable")
    assert response.status_code == 200 and response.json["data"]["user_status"] == "Active"
    assert signs_in(client, api, tree.agent.email)


def test_an_agent_may_not_disable_anyone(client, api, as_, tree) -> None:
    assert as_.call(tree.agent, "POST", f"/users/{tree.shared.id}/disable").status_code == 403
    assert signs_in(client, api, tree.shared.email)


def test_an_admin_may_not_disable_a_user_outside_their_brands(client, api, as_, tree) -> None:
    assert as_.call(tree.root_admin, "POST", f"/users/{tree.outsider.id}/disable").status_code == 403
    assert signs_in(client, api, tree.outsider.email)


def test_an_admin_may_not_enable_a_user_outside_their_brands(as_, tree, make, store) -> None:
    store.save_user(dataclasses.replace(store.user(tree.outsider.id), is_active=False))
    assert as_.call(tree.root_admin, "POST", f"/users/{tree.outsider.id}/enable").status_code == 403
    assert not store.user(tree.outsider.id).is_active


def test_an_admin_may_not_disable_themselves(client, api, as_, tree) -> None:
    assert as_.call(tree.office_admin, "POST", f"/users/{tree.office_admin.id}/disable").status_code == 403
    assert signs_in(client, api, tree.office_admin.email)


def test_deleting_a_user_frees_their_address_and_they_are_gone(client, api, as_, tree, store) -> None:
    assert as_.call(tree.office_admin, "DELETE", f"/users/{tree.agent.id}").status_code == 204
    assert as_.call(tree.office_admin, "GET", f"/users/{tree.agent.id}").status_code == 404
    assert tree.agent.email not in emails(members(as_, tree.office_admin, tree.office))
    assert not signs_in(client, api, tree.agent.email)
    kept = store.backend.get("user", tree.agent.id)
    assert kept["deleted_at"] is not None  # soft: the record stays
    again = add(
        as_, tree.office_admin, tree.office, email=tree.agent.email, first_name="A", last_name="B", role="Agent"
    )
    assert again.status_code == 200 and again.json["info"]["created"] is True
    assert again.json["data"]["id"] != tree.agent.id


def test_an_agent_may_not_delete_anyone(as_, tree, store) -> None:
    assert as_.call(tree.agent, "DELETE", f"/users/{tree.shared.id}").status_code == 403
    assert store.user(tree.shared.id) is not None


# --- MFA reset ---------------------------------------------------------------------------------------------------


@pytest.fixture
def agent_with_mfa(client, api, tree) -> pyotp.TOTP:
    return pyotp.TOTP(Mfa(client, api).enable(tree.agent).secret)


def test_mfa_reset_needs_the_admins_own_second_factor(as_, tree, store, agent_with_mfa) -> None:
    path = f"/users/{tree.agent.id}/mfa/reset"
    required = as_.call(tree.office_admin, "POST", path)
    assert required.status_code == 403 and required.json["errorType"] == "totp-required"
    wrong = as_.call(tree.office_admin, "POST", path, headers=by_password("not the password"))
    assert wrong.status_code == 403 and wrong.json["errorType"] == "totp-invalid"
    assert store.user(tree.agent.id).mfa_enabled


def test_mfa_reset_removes_the_users_mfa_and_recovery_codes(client, api, as_, tree, store, agent_with_mfa) -> None:
    assert store.recovery_codes(tree.agent.id)["hashes"]
    response = as_.call(tree.office_admin, "POST", f"/users/{tree.agent.id}/mfa/reset", headers=by_password())
    assert response.status_code == 200, response.json
    assert response.json["data"]["mfa_enabled"] is False
    assert not store.user(tree.agent.id).mfa_enabled
    assert store.recovery_codes(tree.agent.id) is None
    # The user signs in with the password alone again, and the pair needs no MFA validation.
    token = api.token(tree.agent)["access_token"]
    assert (
        client.get(
            f"/brands/{tree.office.id}/sso_applications", headers={"Authorization": f"Bearer {token}"}
        ).status_code
        == 200
    )


def test_an_agent_may_not_reset_someones_mfa(as_, tree, store, agent_with_mfa, make) -> None:
    response = as_.call(tree.shared, "POST", f"/users/{tree.agent.id}/mfa/reset", headers=by_password())
    assert response.status_code == 403
    assert store.user(tree.agent.id).mfa_enabled


def test_an_admin_may_not_reset_the_mfa_of_a_user_outside_their_brands(client, api, as_, tree, store) -> None:
    pyotp.TOTP(Mfa(client, api).enable(tree.outsider).secret)
    response = as_.call(tree.root_admin, "POST", f"/users/{tree.outsider.id}/mfa/reset", headers=by_password())
    assert response.status_code == 403
    assert store.user(tree.outsider.id).mfa_enabled


def test_a_disabled_user_gets_the_wrong_password_page_at_the_front_door(app, as_, tree) -> None:
    def login(password: str):
        browser = app.test_client()
        form = browser.get("/login")
        body = {"email": tree.agent.email, "password": password, "csrf_token": csrf_of(form)}
        return browser.post("/login", data=body, headers=SAME_ORIGIN)

    wrong = login("not the password at all")
    as_.call(tree.office_admin, "POST", f"/users/{tree.agent.id}/disable")
    disabled = login(PASSWORD)
    assert disabled.status_code == wrong.status_code == 401
    assert page_text(disabled.get_data(as_text=True)) == page_text(wrong.get_data(as_text=True))
