"""`idp keys retire data` seals again, under the data key that seals, what the retiring keys sealed (TOTP
secrets, pending ones, recovery-code digests), then retires them; on SQLite and on a real redis-server.

Codes come from pyotp and go through the API, so "MFA keeps working" means the IdP accepts them.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pyotp
import pytest

from idp import keyring
from idp.accounts import recovery_codes, resealing
from idp.cli import main
from idp.errors import StoreUnavailable
from idp.sealing import newest
from idp.store.store import Store
from tests.api.helpers import BACKENDS, on_backend
from tests.api.mfa_helpers import STEP, Mfa, MfaUser, middle_of_current_step, next_code, pin_mfa_clock
from tests.support import wait_until


@pytest.fixture(params=BACKENDS)
def env(request: pytest.FixtureRequest, env: dict[str, str], keys_dir: Path, tmp_path: Path) -> dict[str, str]:
    """Keys of this test's own (it rolls the data keys over), seen by every request at once."""
    own = shutil.copytree(keys_dir, tmp_path / "own-keys")
    return on_backend(request, {**env, "IDP_KEYS_DIR": str(own), "IDP_KEYS_CHECK_INTERVAL": "0.001"})


@pytest.fixture
def mfa(client, api) -> Mfa:
    return Mfa(client, api)


@pytest.fixture
def folder(env: dict[str, str]) -> Path:
    return Path(env["IDP_KEYS_DIR"])


@pytest.fixture
def idp(env: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    """The `idp` command, run in this process on the test's settings: (exit status, its JSON or its error)."""

    def run(*args: str) -> tuple[int, dict | str]:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        status = main(list(args))
        out = capsys.readouterr()
        return status, json.loads(out.out) if status == 0 else out.err

    return run


def enabled_with_codes(mfa: Mfa, user) -> tuple[MfaUser, list[str]]:
    pair = mfa.pair(user)
    secret = mfa.set_up(pair)
    response = mfa.verify(pair, pyotp.TOTP(secret).now())
    assert response.status_code == 200, response.json
    return MfaUser(user, secret, pair), response.json["data"]["mfa_recovery_codes"]


def accepted(mfa: Mfa, user, token: str) -> bool:
    """Whether the IdP takes `token` (a TOTP or recovery code) from a fresh sign-in of `user`."""
    return mfa.validate(mfa.pair(user), token).status_code == 204


def key_ids(store: Store, user_id: str) -> set[str]:
    user = store.user(user_id)
    sealed = [user.mfa_secret, user.mfa_pending_secret]
    doc = store.recovery_codes(user_id)
    sealed += doc["hashes"] if doc else []
    return {value.partition(".")[0] for value in sealed if value}


def test_retire_seals_everything_again_first_and_mfa_keeps_working(mfa, make, store, folder, idp, client):
    brand = make.brand()
    ann, ann_codes = enabled_with_codes(mfa, make.user(brand=brand))
    bob, bob_codes = enabled_with_codes(mfa, make.user(brand=brand))
    carol = make.user(brand=brand)
    carol_pair = mfa.pair(carol)
    carol_secret = mfa.set_up(carol_pair)  # set up, not verified yet: a pending secret
    old = keyring.read_key_set(folder).data.sealing
    keyring.stage(folder, keyring.DATA)
    keyring.promote(folder, keyring.DATA)
    new = keyring.read_key_set(folder).data.sealing
    dan, _ = enabled_with_codes(mfa, make.user(brand=brand))  # after promote: sealed under the new key
    every_worker_seals_with(client, store, new)
    assert key_ids(store, ann.user.id) == key_ids(store, carol.id) == {old} and key_ids(store, dan.user.id) == {new}

    status, retired = idp("keys", "retire", "data")

    assert status == 0, retired
    assert retired["resealed"] == {
        "totp_secrets": 3,
        "recovery_codes": 2,
        "unreadable": 0,
        "older_recovery_codes": 0,
        "changed_meanwhile": 0,
    }
    assert "3 TOTP secrets and the recovery codes of 2 users" in retired["changed"]
    assert retired["keys"] == {"seals": new, "staged": [], "older": []}
    assert old not in keyring.read_key_set(folder).data.keys
    for user_id in (ann.user.id, bob.user.id, carol.id, dan.user.id):
        assert key_ids(store, user_id) == {new}
    # Every user's MFA works under the new key alone: codes, recovery codes, a pending setup.
    assert accepted(mfa, ann.user, next_code(ann.secret))
    assert accepted(mfa, bob.user, bob_codes[0])
    assert not accepted(mfa, bob.user, bob_codes[0]), "a recovery code still works once only"
    assert accepted(mfa, ann.user, ann_codes[3])
    assert mfa.verify(carol_pair, next_code(carol_secret)).status_code == 200
    assert accepted(mfa, dan.user, next_code(dan.secret))
    # Nothing is left to do: a second pass changes nothing, and there is no older key to retire.
    assert resealing.reseal(store, keyring.read_key_set(folder).data, [old]) == resealing.Resealed()
    status, refused = idp("keys", "retire", "data")
    assert status == 1 and "no older data key" in refused


def every_worker_seals_with(client, store: Store, key_id: str) -> None:
    """A request makes the worker read the folder and report what it uses (from a thread of its own)."""

    def reported() -> bool:
        client.get("/healthz")
        return all(report.get("data_key_seals") == key_id for report in store.key_reports())

    wait_until(reported, timeout=10, what="the worker reporting the new data key")


def test_a_retire_cut_short_leaves_mfa_working_and_the_next_one_finishes(
    mfa, make, store, folder, idp, monkeypatch, client
):
    brand = make.brand()
    ann, _ = enabled_with_codes(mfa, make.user(brand=brand))
    bob, _ = enabled_with_codes(mfa, make.user(brand=brand))
    old = keyring.read_key_set(folder).data.sealing
    keyring.stage(folder, keyring.DATA)
    keyring.promote(folder, keyring.DATA)
    new = keyring.read_key_set(folder).data.sealing
    every_worker_seals_with(client, store, new)

    # The store goes away after the first user's record is rewritten, as in a crash half-way.
    real = Store.replace_user_if
    calls: list[str] = []

    def failing_after_one(self, user, expect):
        if calls:
            raise StoreUnavailable()
        calls.append(user.id)
        return real(self, user, expect)

    monkeypatch.setattr(Store, "replace_user_if", failing_after_one)
    status, error = idp("keys", "retire", "data")
    assert status == 1 and "store" in error.lower(), error
    assert old in keyring.read_key_set(folder).data.keys, "nothing is retired before everything moved"
    # One user was done (TOTP secret and recovery codes), the other not yet.
    assert {frozenset(key_ids(store, ann.user.id)), frozenset(key_ids(store, bob.user.id))} == {
        frozenset({new}),
        frozenset({old}),
    }
    # Half-way, everyone's codes are accepted: both keys still open. (The clock is pinned to steps
    # no code was used in, so a slow machine cannot make a step come round twice.)
    later = middle_of_current_step() + 10 * STEP
    pin_mfa_clock(monkeypatch, later)
    assert accepted(mfa, ann.user, pyotp.TOTP(ann.secret).at(later))
    assert accepted(mfa, bob.user, pyotp.TOTP(bob.secret).at(later))

    monkeypatch.setattr(Store, "replace_user_if", real)
    status, retired = idp("keys", "retire", "data")
    assert status == 0, retired
    assert retired["resealed"]["totp_secrets"] == 1, "only what the first run had not done"
    assert retired["resealed"]["recovery_codes"] == 1
    assert key_ids(store, ann.user.id) == key_ids(store, bob.user.id) == {new}
    pin_mfa_clock(monkeypatch, later + 2 * STEP)
    assert accepted(mfa, ann.user, pyotp.TOTP(ann.secret).at(later + 2 * STEP))
    assert accepted(mfa, bob.user, pyotp.TOTP(bob.secret).at(later + 2 * STEP))


def test_a_user_who_changes_their_mfa_meanwhile_wins(mfa, make, store, folder, monkeypatch):
    ann, _ = enabled_with_codes(mfa, make.user(brand=make.brand()))
    keyring.stage(folder, keyring.DATA)
    keyring.promote(folder, keyring.DATA)
    data = keyring.read_key_set(folder).data
    real = Store.replace_user_if

    def mfa_removed_just_before(self, user, expect):
        current = self.user(user.id)
        self.save_user(dataclasses.replace(current, mfa_secret=None, mfa_pending_secret=None))
        monkeypatch.setattr(Store, "replace_user_if", real)
        return real(self, user, expect)

    monkeypatch.setattr(Store, "replace_user_if", mfa_removed_just_before)
    done = resealing.reseal(store, data, data.older)
    assert done.totp_secrets == 0
    assert store.user(ann.user.id).mfa_secret is None, "the removal stands; no old secret comes back"


def test_a_worker_still_sealing_with_the_old_key_holds_the_retire(make, store, folder, idp):
    old = keyring.read_key_set(folder).data.sealing
    keyring.stage(folder, keyring.DATA)
    keyring.promote(folder, keyring.DATA)
    store.save_key_report("host-a:1", {"worker": "host-a:1", "data_key_seals": old}, 60)
    status, refused = idp("keys", "retire", "data")
    assert status == 1 and "host-a:1 still seal with data key" in refused
    assert old in keyring.read_key_set(folder).data.keys


def test_recovery_codes_of_the_older_keyed_hash_form_hold_the_retire_until_forced(
    mfa, make, store, folder, idp, client
):
    """Such codes still work, but cannot move to a new key: the retire says so, and --force drops them."""
    ann, _ = enabled_with_codes(mfa, make.user(brand=make.brand()))
    old_key = keyring.read_key_set(folder).data.keys
    older = [recovery_codes._digest(old_key[newest(old_key)], ann.user.id, "abcde-fghjk")]
    store.save_recovery_codes(ann.user.id, {"hashes": older, "version": "v1"})
    assert accepted(mfa, ann.user, "abcde-fghjk"), "the older form still works"
    store.save_recovery_codes(ann.user.id, {"hashes": older, "version": "v2"})
    keyring.stage(folder, keyring.DATA)
    keyring.promote(folder, keyring.DATA)
    every_worker_seals_with(client, store, keyring.read_key_set(folder).data.sealing)

    status, refused = idp("keys", "retire", "data")
    assert status == 1 and "1 sets of recovery codes in the older keyed-hash form" in refused, refused
    assert newest(old_key) in keyring.read_key_set(folder).data.keys
    assert accepted(mfa, ann.user, next_code(ann.secret)), "the TOTP secret moved all the same"

    status, retired = idp("keys", "retire", "data", "--force")
    assert status == 0 and retired["resealed"]["older_recovery_codes"] == 1, retired
    assert not accepted(mfa, ann.user, "abcde-fghjk")
