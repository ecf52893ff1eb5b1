"""`idp scim-tokens`: made for a root brand, printed once, stored hashed, revoked at once."""

from __future__ import annotations

import json

from idp.config import Settings
from idp.store import open_store
from tests.cli.test_cli import cli_env, ok, refused  # noqa: F401 -- cli_env is the fixture


def test_a_token_is_printed_once_stored_hashed_and_revoked(cli_env):  # noqa: F811
    ok(cli_env, "keys", "generate")
    brand = ok(cli_env, "brands", "create", "Acme Realty")["id"]
    office = ok(cli_env, "brands", "create", "Downtown", "--parent", brand, "--type", "Office")["id"]
    created = ok(cli_env, "scim-tokens", "create", "--brand", brand)
    assert created["brand"] == brand and created["token"].startswith(f"scim_{created['id']}.")
    secret = created["token"].partition(".")[2]
    listed = ok(cli_env, "scim-tokens", "list", "--brand", brand)["data"]
    assert [t["id"] for t in listed] == [created["id"]] and secret not in json.dumps(listed)
    store = open_store(Settings.from_env(cli_env))
    assert secret not in json.dumps(store.scim_token(created["id"]))
    assert "root brand" in refused(cli_env, "scim-tokens", "create", "--brand", office)
    assert ok(cli_env, "scim-tokens", "revoke", created["id"])["revoked"] is True
    assert store.scim_token(created["id"]) is None
    assert "no SCIM token" in refused(cli_env, "scim-tokens", "revoke", created["id"])
