"""A provisioning client's day, on SQLite and on a real redis-server: the SCIM records, memberships and
revocation live in the store, so they must hold on both backends."""

from __future__ import annotations

import pytest

from idp.scim.schema import GROUP_EXTENSION
from idp.scim.tokens import ScimTokens
from tests.api.helpers import BACKENDS, on_backend
from tests.api.test_scim import GROUP_SCHEMA, Scim


@pytest.fixture(params=BACKENDS)
def env(request: pytest.FixtureRequest, env: dict[str, str]) -> dict[str, str]:
    return on_backend(request, env)


def test_provisioning_grouping_disabling_and_deleting(client, store, api, make):
    root = make.brand("Acme Realty")
    scim = Scim(client, ScimTokens(store).create(root.id).secret)
    ann = scim.create_user("ann@acme.example", externalId="okta-ann")["id"]
    group = scim.call("POST", "/Groups", {"schemas": [GROUP_SCHEMA], "displayName": "Uptown"}).json
    admins = {"op": "add", "path": f"{GROUP_EXTENSION}:admins", "value": [{"value": ann}]}
    assert scim.patch(f"/Groups/{group['id']}", admins).status_code in (200, 204)
    assert store.membership(ann, group["id"]).role == "Admin"
    assert [u["id"] for u in scim.listed('/Users?filter=externalId eq "okta-ann"')] == [ann]

    agent = make.user(brand=root)
    access = api.token(agent)["access_token"]
    disable = {"op": "replace", "path": "active", "value": False}
    assert scim.patch(f"/Users/{agent.id}", disable).status_code in (200, 204)
    assert client.get("/users/self", headers={"Authorization": f"Bearer {access}"}).status_code == 401

    assert scim.call("DELETE", f"/Users/{ann}").status_code == 204
    assert store.user(ann) is None
    assert scim.call("DELETE", f"/Groups/{group['id']}").status_code == 204
    assert store.brand(group["id"]) is None
