"""Passkeys and their challenges in the typed `Store`, on each backend: kept per user, counters moved by
one writer at a time, challenges that answer once and expire."""

from __future__ import annotations

import dataclasses
import threading
import time
import uuid

from idp.models import Passkey
from idp.store import Store
from tests.support import wait_until


def passkey(user_id: str = "u1", **fields) -> Passkey:
    values = {
        "credential_id": uuid.uuid4().hex,
        "user_id": user_id,
        "public_key": "pQECAyYgASFYIA",
        "sign_count": 0,
        "name": "Laptop",
        "created_at": time.time(),
        "version": "v1",
        "transports": ["internal", "hybrid"],
    }
    return Passkey(**{**values, **fields})


def test_a_saved_passkey_reads_back_whole(store: Store) -> None:
    saved = passkey(last_used_at=12.5, backed_up=True)
    store.save_passkey(saved)

    assert store.passkey(saved.credential_id) == saved
    assert store.passkey("no-such-credential") is None


def test_passkeys_of_lists_the_users_own_oldest_first(store: Store) -> None:
    newer = passkey(created_at=20.0, name="Phone")
    older = passkey(created_at=10.0, name="Laptop")
    other = passkey("u2")
    for item in (newer, older, other):
        store.save_passkey(item)

    assert store.passkeys_of("u1") == [older, newer]
    assert store.passkeys_of("u2") == [other]
    assert store.passkeys_of("nobody") == []


def test_replace_passkey_if_writes_only_at_the_version_expected(store: Store) -> None:
    saved = passkey(sign_count=1)
    store.save_passkey(saved)
    moved = dataclasses.replace(saved, sign_count=2, version="v2")

    assert store.replace_passkey_if(moved, "v1") is True
    assert store.passkey(saved.credential_id) == moved
    assert store.replace_passkey_if(dataclasses.replace(saved, sign_count=9, version="v3"), "v1") is False
    assert store.passkey(saved.credential_id) == moved
    assert store.replace_passkey_if(moved, "v1") is False, "a dropped or changed passkey is not written"


def test_of_many_writers_at_the_same_version_one_wins(store: Store) -> None:
    saved = passkey()
    store.save_passkey(saved)
    wins: list[int] = []

    def write(n: int) -> None:
        if store.replace_passkey_if(dataclasses.replace(saved, sign_count=n, version=f"w{n}"), "v1"):
            wins.append(n)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(1, 9)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(wins) == 1
    assert store.passkey(saved.credential_id).sign_count == wins[0]


def test_dropping_passkeys_one_or_all_of_a_user(store: Store) -> None:
    first, second, others = passkey(), passkey(), passkey("u2")
    for item in (first, second, others):
        store.save_passkey(item)

    assert store.drop_passkey(first.credential_id) is True
    assert store.drop_passkey(first.credential_id) is False
    assert store.passkeys_of("u1") == [second]
    assert store.drop_passkeys_of("u1") == 1
    assert store.passkeys_of("u1") == []
    assert store.passkey(second.credential_id) is None
    assert store.passkeys_of("u2") == [others]


def test_a_challenge_is_taken_once(store: Store) -> None:
    store.save_passkey_challenge("c1", {"purpose": "sign-in"}, ttl=60)

    assert store.take_passkey_challenge("c1") == {"purpose": "sign-in"}
    assert store.take_passkey_challenge("c1") is None
    assert store.take_passkey_challenge("never-issued") is None


def test_a_challenge_taken_by_many_at_once_goes_to_one(store: Store) -> None:
    store.save_passkey_challenge("c2", {"purpose": "register", "user_id": "u1"}, ttl=60)
    taken: list[dict] = []
    threads = [
        threading.Thread(target=lambda: taken.append(doc) if (doc := store.take_passkey_challenge("c2")) else None)
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert taken == [{"purpose": "register", "user_id": "u1"}]


def test_a_challenge_expires(store: Store) -> None:
    store.save_passkey_challenge("c3", {"purpose": "sign-in"}, ttl=0.3)

    wait_until(lambda: store.backend.get("passkey-challenge", "c3") is None, timeout=5, what="challenge expiry")
    assert store.take_passkey_challenge("c3") is None
