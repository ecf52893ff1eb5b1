"""The `idp` people commands, run as real processes against a service's store: one JSON document each."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from idp.config import Settings
from idp.store import open_store
from tests.cli.test_cli import ok, refused
from tests.support import PASSWORD, venv_bin

NEW_PASSWORD = "quiet violet harbour 7"


@pytest.fixture
def home(tmp_path: Path, keys_dir: Path) -> dict[str, str]:
    env = {**os.environ, "IDP_KEYS_DIR": str(keys_dir), "IDP_DATABASE": str(tmp_path / "var" / "idp.sqlite3")}
    env["IDP_OUTBOX"] = str(tmp_path / "outbox")
    env.pop("REDIS_URL", None)
    return env


@pytest.fixture
def people(home: dict[str, str]) -> dict[str, dict]:
    brand = ok(home, "brands", "create", "Acme")
    office = ok(home, "brands", "create", "Acme Downtown", "--parent", brand["id"], "--type", "Office")
    ann = ok(
        home,
        *("users", "create", "ann@acme.example", "--first-name", "Ann", "--last-name", "Admin", "--password-stdin"),
        *("--brand", brand["id"], "--role", "Admin"),
        stdin=PASSWORD + "\n",
    )
    bob = ok(home, "users", "create", "bob@acme.example", "--first-name", "Bob", "--last-name", "Agent")
    return {"brand": brand, "office": office, "ann": ann, "bob": bob}


def test_brands_list_show_and_update(home, people) -> None:
    listed = ok(home, "brands", "list")["data"]
    assert [b["name"] for b in listed] == ["Acme", "Acme Downtown"]
    office = people["office"]
    assert ok(home, "brands", "show", office["id"])["parent"]["id"] == people["brand"]["id"]
    updated = ok(home, "brands", "update", office["id"], "--name", "Acme Uptown", "--type", "Team")
    assert (updated["name"], updated["brand_type"]) == ("Acme Uptown", "Team")
    assert "no brand" in refused(home, "brands", "show", "nope")


def test_users_list_show_and_update(home, people) -> None:
    emails = [u["email"] for u in ok(home, "users", "list")["data"]]
    assert sorted(emails) == ["ann@acme.example", "bob@acme.example"]
    of_brand = ok(home, "users", "list", "--brand", people["brand"]["id"])["data"]
    assert [(u["email"], u["brands"]) for u in of_brand] == [
        ("ann@acme.example", [{"brand": people["brand"]["id"], "role": "Admin"}])
    ]
    assert [u["email"] for u in ok(home, "users", "list", "--query", "BOB")["data"]] == ["bob@acme.example"]
    assert ok(home, "users", "show", "bob@acme.example")["id"] == people["bob"]["id"]
    updated = ok(home, "users", "update", people["bob"]["id"], "--first-name", "Robert", "--phone", "+1 555 0101")
    assert (updated["first_name"], updated["phone_number"]) == ("Robert", "+1 555 0101")
    assert "no user" in refused(home, "users", "show", "nobody@acme.example")


def test_members_add_set_role_and_remove(home, people) -> None:
    office, bob = people["office"]["id"], people["bob"]["id"]
    assert ok(home, "members", "add", office, "bob@acme.example", "--role", "Agent")["role"] == "Agent"
    assert ok(home, "members", "set-role", office, bob, "--role", "Admin")["role"] == "Admin"
    assert "already a member" in refused(home, "members", "add", office, bob, "--role", "Agent")
    assert ok(home, "members", "remove", office, bob)["removed"] is True
    assert "not a member" in refused(home, "members", "remove", office, bob)


def test_disable_enable_delete_and_set_password(home, people) -> None:
    bob = people["bob"]["id"]
    assert ok(home, "users", "set-password", bob, "--password-stdin", stdin=NEW_PASSWORD + "\n")["id"] == bob
    assert "at least 10" in refused(home, "users", "set-password", bob, "--password-stdin", stdin="short\n")
    assert ok(home, "users", "disable", bob)["user_status"] == "Disabled"
    assert ok(home, "users", "enable", bob)["user_status"] == "Active"
    assert ok(home, "users", "delete", bob) == {"id": bob, "deleted": True}
    assert "no user" in refused(home, "users", "show", bob)
    store = open_store(Settings.from_env(home))
    try:
        assert store.backend.get("user", bob)["deleted_at"] is not None
    finally:
        store.close()


def test_reset_mfa_of_a_user_without_mfa_is_refused(home, people) -> None:
    assert "MFA is not enabled" in refused(home, "users", "reset-mfa", people["bob"]["id"])


def test_clients_list_and_revoke(home, people) -> None:
    created = ok(home, "clients", "create", "back office")
    listed = ok(home, "clients", "list")["data"]
    assert [c["client_id"] for c in listed] == [created["client_id"]]
    assert created["client_secret"] not in str(listed)
    assert ok(home, "clients", "revoke", created["client_id"])["revoked"] is True
    assert ok(home, "clients", "list") == {"data": []}
    assert "no client" in refused(home, "clients", "revoke", created["client_id"])


def test_apps_list(home, people, tmp_path) -> None:
    assert ok(home, "apps", "list") == {"data": []}
    assert ok(home, "apps", "list", "--brand", people["brand"]["id"]) == {"data": []}
    assert "no brand" in refused(home, "apps", "list", "--brand", "nope")


def test_outside_a_services_home_nothing_is_created_and_it_says_where_it_looked(tmp_path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IDP_", "REDIS_URL"))}
    result = idp_in(elsewhere, env, "users", "list")
    assert result.returncode == 1 and result.stdout == ""
    assert str(elsewhere / "var" / "idp.sqlite3") in result.stderr
    assert str(elsewhere / "keys") in result.stderr
    assert "IDP_DATABASE" in result.stderr
    assert list(elsewhere.iterdir()) == []


def test_in_a_services_home_before_its_first_start_the_store_is_created(tmp_path, keys_dir) -> None:
    """First-time set-up: keys generated, no store yet; the command makes it, as the service would."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IDP_", "REDIS_URL"))}
    (tmp_path / "keys").symlink_to(keys_dir)
    result = idp_in(tmp_path, env, "brands", "create", "Acme")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "var" / "idp.sqlite3").exists()


def idp_in(folder: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """The command run from `folder`, with none of the IDP_ settings: where an operator might stand."""
    return subprocess.run([venv_bin("idp"), *args], env=env, cwd=folder, capture_output=True, text=True, timeout=60)
