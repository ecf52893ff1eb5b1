"""The `idp` command, run as a real process: one JSON object on stdout, clear errors on stderr."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from idp.accounts.secrets import token_hash
from idp.config import Settings
from idp.store import open_store
from tests.support import PASSWORD, venv_bin


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    env = {**os.environ, "IDP_KEYS_DIR": str(tmp_path / "keys"), "IDP_DATABASE": str(tmp_path / "idp.sqlite3")}
    env.pop("REDIS_URL", None)
    return env


@pytest.fixture
def home_env(cli_env: dict[str, str], keys_dir: Path) -> dict[str, str]:
    """A service's home: its keys exist (`idp keys generate` ran), its store not yet."""
    return {**cli_env, "IDP_KEYS_DIR": str(keys_dir)}


def idp(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([venv_bin("idp"), *args], env=env, input=stdin, capture_output=True, text=True, timeout=60)


def ok(env: dict[str, str], *args: str, stdin: str = "") -> dict:
    result = idp(env, *args, stdin=stdin)
    assert result.returncode == 0, result.stderr
    (line,) = result.stdout.splitlines()
    return json.loads(line)


def refused(env: dict[str, str], *args: str, stdin: str = "") -> str:
    result = idp(env, *args, stdin=stdin)
    assert result.returncode != 0
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    return result.stderr


def key_bits(env: dict[str, str]) -> int:
    pem = (Path(env["IDP_KEYS_DIR"]) / "signing.key").read_bytes()
    return load_pem_private_key(pem, password=None).key_size


def test_keys_generate_writes_a_2048_bit_key_by_default_and_keeps_it_private(cli_env):
    written = ok(cli_env, "keys", "generate")["written"]
    assert {Path(p).name for p in written} == {"signing.key", "signing.crt", "link-keys", "data-keys", "pairwise.key"}
    assert key_bits(cli_env) == 2048
    assert (Path(cli_env["IDP_KEYS_DIR"]) / "signing.key").stat().st_mode & 0o077 == 0


def test_keys_generate_takes_3072_bits(cli_env):
    ok(cli_env, "keys", "generate", "--bits", "3072")
    assert key_bits(cli_env) == 3072


def test_keys_generate_refuses_to_overwrite_without_force(cli_env):
    ok(cli_env, "keys", "generate")
    key = Path(cli_env["IDP_KEYS_DIR"]) / "signing.key"
    before = key.read_bytes()
    assert "--force" in refused(cli_env, "keys", "generate")
    assert key.read_bytes() == before


def test_keys_generate_with_force_replaces_the_signing_key_but_not_the_secrets(cli_env):
    ok(cli_env, "keys", "generate")
    folder = Path(cli_env["IDP_KEYS_DIR"])
    names = ("signing.key", "link-keys", "data-keys", "pairwise.key")
    before = {name: (folder / name).read_bytes() for name in names}
    ok(cli_env, "keys", "generate", "--force")
    assert (folder / "signing.key").read_bytes() != before["signing.key"]
    for name in names[1:]:
        assert (folder / name).read_bytes() == before[name]


def test_keys_generate_adds_a_missing_secret_without_touching_the_signing_key(cli_env):
    ok(cli_env, "keys", "generate")
    folder = Path(cli_env["IDP_KEYS_DIR"])
    signing_key = (folder / "signing.key").read_bytes()
    (folder / "data-keys").unlink()
    assert [Path(p).name for p in ok(cli_env, "keys", "generate")["written"]] == ["data-keys"]
    assert (folder / "signing.key").read_bytes() == signing_key


@pytest.mark.parametrize(
    ("command", "file", "field"),
    [("rotate-link-key", "link-keys", "link_key_id"), ("rotate-data-key", "data-keys", "data_key_id")],
)
def test_rotating_a_key_adds_one_that_seals_from_now_on(cli_env, command, file, field):
    ok(cli_env, "keys", "generate")
    new_id = ok(cli_env, "keys", command)[field]
    lines = (Path(cli_env["IDP_KEYS_DIR"]) / file).read_text().splitlines()
    assert len(lines) == 2 and lines[-1].startswith(new_id + " ")


def test_provisioning_a_brand_tree_a_user_and_a_client(home_env):
    parent = ok(home_env, "brands", "create", "Acme")
    child = ok(home_env, "brands", "create", "Acme Downtown", "--parent", parent["id"], "--type", "Office")
    assert child["parent"]["id"] == parent["id"] and child["brand_type"] == "Office"
    user = ok(
        home_env,
        "users",
        "create",
        "ann@acme.example",
        "--first-name",
        "Ann",
        "--last-name",
        "Admin",
        "--password-stdin",
        "--brand",
        child["id"],
        "--role",
        "Admin",
        stdin=PASSWORD + "\n",
    )
    assert user["email"] == "ann@acme.example" and user["type"] == "user"
    created = ok(home_env, "clients", "create", "back office")

    store = open_store(Settings.from_env(home_env))
    try:
        stored_user = store.user(user["id"])
        assert PASSWORD not in stored_user.password_hash
        assert [(m.brand_id, m.role) for m in store.memberships_of(user["id"])] == [(child["id"], "Admin")]
        stored_client = store.client(created["client_id"])
        assert stored_client.secret_hash == token_hash(created["client_secret"])
        assert created["client_secret"] not in json.dumps(store.backend.get("client", created["client_id"]))
    finally:
        store.close()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("users", "create", "not-an-email", "--first-name", "A", "--last-name", "B"), "email"),
        (("users", "create", "a@b.example", "--first-name", " ", "--last-name", "B"), "first_name"),
        (
            (
                "users",
                "create",
                "a@b.example",
                "--first-name",
                "A",
                "--last-name",
                "B",
                "--brand",
                "nope",
                "--role",
                "Agent",
            ),
            "no brand",
        ),
        (("brands", "create", "Child", "--parent", "nope"), "no brand"),
        (("brands", "create", "  "), "name"),
        (("brands", "create", "Escape\x1b[31m"), "control characters"),
        (("users", "create", "a@b.example", "--first-name", "Bell\x07", "--last-name", "X"), "first_name"),
        (("clients", "create", "tab\there"), "control characters"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(home_env, args, message):
    assert message in refused(home_env, *args)


def test_a_short_password_from_stdin_is_refused(home_env):
    stderr = refused(
        home_env,
        "users",
        "create",
        "a@b.example",
        "--first-name",
        "A",
        "--last-name",
        "B",
        "--password-stdin",
        stdin="short\n",
    )
    assert "password" in stderr


def test_a_second_user_with_the_same_email_is_refused(home_env):
    ok(home_env, "users", "create", "dup@b.example", "--first-name", "A", "--last-name", "B")
    assert "email" in refused(home_env, "users", "create", "DUP@b.example", "--first-name", "C", "--last-name", "D")


def test_a_signing_rollover_says_what_changed_and_what_to_tell_sps(cli_env):
    ok(cli_env, "keys", "generate")
    staged = ok(cli_env, "keys", "stage")
    assert staged["kind"] == "signing"
    assert staged["keys"]["active"]["name"] == "signing"
    new = staged["keys"]["staged"]["name"]
    assert new in staged["changed"]
    assert staged["keys"]["staged"]["sha256_fingerprint"] in staged["tell_service_providers"]

    promoted = ok(cli_env, "keys", "promote")
    assert (promoted["keys"]["active"]["name"], promoted["keys"]["retiring"]["name"]) == (new, "signing")
    assert "refreshed the metadata" in promoted["tell_service_providers"]

    retired = ok(cli_env, "keys", "retire")
    assert retired["keys"] == {"active": promoted["keys"]["active"], "staged": None, "retiring": None}
    assert not (Path(cli_env["IDP_KEYS_DIR"]) / "signing.key").exists()
    assert "--force" in refused(cli_env, "keys", "generate")


def test_an_ecdsa_key_is_made_beside_the_rsa_one_and_rolls_over_with_ecdsa(cli_env):
    ok(cli_env, "keys", "generate")
    rsa_key = (Path(cli_env["IDP_KEYS_DIR"]) / "signing.key").read_bytes()
    written = ok(cli_env, "keys", "generate", "--ecdsa")["written"]
    assert [Path(p).name for p in written] == ["ecdsa.key", "ecdsa.crt"]
    assert (Path(cli_env["IDP_KEYS_DIR"]) / "signing.key").read_bytes() == rsa_key
    assert "--force" in refused(cli_env, "keys", "generate", "--ecdsa")

    staged = ok(cli_env, "keys", "stage", "--ecdsa")
    assert staged["keys"]["active"]["name"] == "ecdsa" and "ECDSA" in staged["changed"]
    assert "idp keys promote --ecdsa" in staged["tell_service_providers"]
    new = staged["keys"]["staged"]["name"]
    assert ok(cli_env, "keys", "promote", "--ecdsa")["keys"]["active"]["name"] == new
    assert ok(cli_env, "keys", "retire", "--ecdsa")["keys"]["retiring"] is None
    status = ok(cli_env, "keys", "status")["folder"]
    assert status["ecdsa"]["active"]["name"] == new and status["signing"]["active"]["name"] == "signing"
    assert "--ecdsa goes with signing keys only" in refused(cli_env, "keys", "stage", "link", "--ecdsa")


@pytest.mark.parametrize("kind", ["link", "data"])
def test_link_and_data_keys_roll_over_the_same_way(cli_env, kind):
    ok(cli_env, "keys", "generate")
    staged = ok(cli_env, "keys", "stage", kind)["keys"]
    (new,) = staged["staged"]
    old = staged["seals"]
    assert ok(cli_env, "keys", "promote", kind)["keys"] == {"seals": new, "staged": [], "older": [old]}
    retire = ("keys", "retire", kind, "--force") if kind == "data" else ("keys", "retire", kind)
    assert ok(cli_env, *retire)["keys"] == {"seals": new, "staged": [], "older": []}


def test_retiring_data_keys_needs_no_force_and_says_what_it_sealed_again(cli_env):
    ok(cli_env, "keys", "generate")
    ok(cli_env, "keys", "stage", "data")
    ok(cli_env, "keys", "promote", "data")
    retired = ok(cli_env, "keys", "retire", "data")
    assert retired["resealed"]["totp_secrets"] == 0 and retired["resealed"]["recovery_codes"] == 0
    assert "0 TOTP secrets" in retired["changed"]


def test_a_step_out_of_turn_is_refused_with_what_to_do(cli_env):
    ok(cli_env, "keys", "generate")
    assert "idp keys stage" in refused(cli_env, "keys", "promote")
    assert "no signing pair is retiring" in refused(cli_env, "keys", "retire")


def test_status_shows_the_folder_and_what_each_worker_uses(cli_env):
    ok(cli_env, "keys", "generate")
    store = open_store(Settings.from_env(cli_env))
    before = ok(cli_env, "keys", "status")["folder"]
    store.save_key_report("host-a:1", {"worker": "host-a:1", "version": before["version"]}, 60)
    ok(cli_env, "keys", "stage")
    store.save_key_report("host-b:2", {"worker": "host-b:2", "version": before["version"]}, 60)
    store.close()

    status = ok(cli_env, "keys", "status")
    assert status["folder"]["signing"]["staged"] is not None
    assert [(worker["worker"], worker["up_to_date"]) for worker in status["workers"]] == [
        ("host-a:1", False),
        ("host-b:2", False),
    ]
    assert status["every_worker_up_to_date"] is False


def test_status_says_up_to_date_only_when_every_reporting_worker_is(cli_env):
    ok(cli_env, "keys", "generate")
    assert ok(cli_env, "keys", "status")["every_worker_up_to_date"] is False  # nobody reported
    version = ok(cli_env, "keys", "status")["folder"]["version"]
    store = open_store(Settings.from_env(cli_env))
    for worker in ("host-a:1", "host-b:2"):
        store.save_key_report(worker, {"worker": worker, "version": version}, 60)
    store.close()
    assert ok(cli_env, "keys", "status")["every_worker_up_to_date"] is True


def test_custom_attributes_are_set_at_creation_and_changed_by_update(home_env):
    user = ok(
        home_env,
        "users",
        "create",
        "ann@acme.example",
        "--first-name",
        "Ann",
        "--last-name",
        "Agent",
        "--attribute",
        "mlsid=M-1",
        "--attribute",
        "office_mlsid=O-1",
        "--attribute",
        "office_mlsid=O-2",
        "--attribute",
        "license_number=L=7",
    )
    assert user["attributes"] == {"mlsid": "M-1", "office_mlsid": ["O-1", "O-2"], "license_number": "L=7"}
    changed = ok(
        home_env, "users", "update", "ANN@acme.example", "--attribute", "nar_number=N-9", "--attribute", "mlsid="
    )
    assert changed["attributes"] == {"office_mlsid": ["O-1", "O-2"], "license_number": "L=7", "nar_number": "N-9"}

    store = open_store(Settings.from_env(home_env))
    try:
        assert store.user(user["id"]).attributes == changed["attributes"]
    finally:
        store.close()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("users", "update", "nobody@acme.example", "--attribute", "a=b"), "no user"),
        (("users", "update", "nobody@acme.example"), "--attribute"),
        (("users", "create", "a@b.example", "--first-name", "A", "--last-name", "B", "--attribute", "mlsid"), "KEY="),
        (("users", "create", "a@b.example", "--first-name", "A", "--last-name", "B", "--attribute", "a b=1"), "key"),
        (
            ("users", "create", "a@b.example", "--first-name", "A", "--last-name", "B", "--attribute", "mlsid=\x1b"),
            "attributes.mlsid",
        ),
    ],
)
def test_bad_attributes_are_refused_with_a_clear_message(home_env, args, message):
    assert message in refused(home_env, *args)
