"""The contract every storage backend keeps (see `idp.store.backend.Backend`), run against SQLite and Redis."""

from __future__ import annotations

import multiprocessing
import queue
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from idp.errors import Conflict
from idp.store.backend import Backend, Write
from idp.store.sqlite import SqliteBackend
from tests.support import wait_until

KIND = "thing"
SHORT_TTL = 0.3
# For a test that looks at a document before it expires: long enough that a loaded machine (three
# cluster nodes and the suite sharing two cores) still looks in time.
LOOKING_TTL = 2.0
EXPIRY_TIMEOUT = 5.0


def doc(name: str, **extra) -> dict:
    return {"name": name, "tags": ["a", "b"], "nested": {"n": 1, "none": None}, **extra}


def expire(backend: Backend, kind: str, key: str) -> None:
    """Poll until the document under `key` has expired."""
    wait_until(lambda: backend.get(kind, key) is None, timeout=EXPIRY_TIMEOUT, what=f"expiry of {kind}/{key}")


def race_in_step(threads: int, items: list[str], attempt: Callable[[int, str], bool]) -> Counter[str]:
    """How many of `threads` threads succeeded at `attempt(thread_number, item)` for each item.

    The threads go through the items in step: all of them try the same item at the same instant.
    """
    in_step = threading.Barrier(threads)

    def run(number: int) -> list[str]:
        won = []
        for item in items:
            in_step.wait(timeout=10)
            if attempt(number, item):
                won.append(item)
        return won

    with ThreadPoolExecutor(max_workers=threads) as pool:
        results = list(pool.map(run, range(threads), timeout=60))
    return Counter(item for won in results for item in won)


# documents


def test_put_then_get_returns_the_document(backend: Backend) -> None:
    backend.put(KIND, "k1", doc("one", unicode="é☃", number=1.5, flag=True))

    assert backend.get(KIND, "k1") == doc("one", unicode="é☃", number=1.5, flag=True)


def test_get_of_a_missing_key_is_none(backend: Backend) -> None:
    backend.put(KIND, "present", doc("one"))

    assert backend.get(KIND, "absent") is None


def test_kinds_keep_their_keys_apart(backend: Backend) -> None:
    backend.put("user", "same", doc("a user"))
    backend.put("brand", "same", doc("a brand"))

    assert backend.get("user", "same") == doc("a user")
    assert backend.get("brand", "same") == doc("a brand")
    assert backend.get("app", "same") is None


def test_a_second_connection_sees_the_same_documents(open_backend: Callable[[], Backend]) -> None:
    writer, reader = open_backend(), open_backend()

    writer.put(KIND, "k1", doc("one"), index={"tag": ["x"]}, unique={"email": "a@example.com"})

    assert reader.get(KIND, "k1") == doc("one")
    assert reader.find(KIND, "tag", "x") == ["k1"]
    assert reader.find_unique(KIND, "email", "a@example.com") == "k1"


def test_get_many_returns_documents_in_the_order_of_the_keys_skipping_missing_ones(backend: Backend) -> None:
    for key in ("k1", "k2", "k3"):
        backend.put(KIND, key, doc(key))

    found = backend.get_many(KIND, ["k3", "missing", "k1", "k2"])

    assert found == [doc("k3"), doc("k1"), doc("k2")]


def test_get_many_of_no_keys_is_empty(backend: Backend) -> None:
    backend.put(KIND, "k1", doc("one"))

    assert backend.get_many(KIND, []) == []


def test_put_replaces_the_document(backend: Backend) -> None:
    backend.put(KIND, "k1", doc("old", only_in_old=True))

    backend.put(KIND, "k1", doc("new"))

    assert backend.get(KIND, "k1") == doc("new")


def test_put_replaces_the_index_entries(backend: Backend) -> None:
    backend.put(KIND, "k1", doc("one"), index={"tag": ["old", "kept"], "colour": ["red"]})

    backend.put(KIND, "k1", doc("one"), index={"tag": ["kept", "new"]})

    assert backend.find(KIND, "tag", "old") == []
    assert backend.find(KIND, "colour", "red") == []
    assert backend.find(KIND, "tag", "kept") == ["k1"]
    assert backend.find(KIND, "tag", "new") == ["k1"]


# find


def test_find_returns_the_keys_of_every_document_under_the_value(backend: Backend) -> None:
    backend.put(KIND, "k1", doc("one"), index={"tag": ["x", "y"]})
    backend.put(KIND, "k2", doc("two"), index={"tag": ["x"]})
    backend.put(KIND, "k3", doc("three"), index={"tag": ["y"]})

    assert sorted(backend.find(KIND, "tag", "x")) == ["k1", "k2"]
    assert sorted(backend.find(KIND, "tag", "y")) == ["k1", "k3"]
    assert backend.find(KIND, "tag", "z") == []


def test_find_keeps_index_names_and_kinds_apart(backend: Backend) -> None:
    backend.put(KIND, "k1", doc("one"), index={"tag": ["x"]})

    assert backend.find(KIND, "colour", "x") == []
    assert backend.find("other", "tag", "x") == []


def test_find_returns_only_live_documents(backend: Backend) -> None:
    backend.put(KIND, "kept", doc("kept"), index={"tag": ["x"]})
    backend.put(KIND, "deleted", doc("deleted"), index={"tag": ["x"]})
    backend.put(KIND, "expiring", doc("expiring"), index={"tag": ["x"]}, ttl=SHORT_TTL)
    backend.delete(KIND, "deleted")

    expire(backend, KIND, "expiring")

    assert backend.find(KIND, "tag", "x") == ["kept"]


# unique values


def test_find_unique_returns_the_key_holding_the_value(backend: Backend) -> None:
    backend.put(KIND, "k1", doc("one"), unique={"email": "a@example.com"})

    assert backend.find_unique(KIND, "email", "a@example.com") == "k1"
    assert backend.find_unique(KIND, "email", "b@example.com") is None
    assert backend.find_unique(KIND, "login", "a@example.com") is None


def test_a_second_key_with_a_taken_unique_value_raises_conflict_naming_the_field(backend: Backend) -> None:
    backend.put(KIND, "k1", doc("one"), unique={"login": "ada", "email": "a@example.com"})

    with pytest.raises(Conflict) as refused:
        backend.put(KIND, "k2", doc("two"), unique={"login": "bob", "email": "a@example.com"})

    assert refused.value.field == "email"


def test_a_refused_put_of_a_new_key_stores_nothing(backend: Backend) -> None:
    backend.put(KIND, "k1", doc("one"), unique={"email": "a@example.com"})

    with pytest.raises(Conflict):
        backend.put(KIND, "k2", doc("two"), index={"tag": ["x"]}, unique={"login": "bob", "email": "a@example.com"})

    assert backend.get(KIND, "k2") is None
    assert backend.find(KIND, "tag", "x") == []
    assert backend.find_unique(KIND, "login", "bob") is None
    assert backend.find_unique(KIND, "email", "a@example.com") == "k1"
    assert backend.get(KIND, "k1") == doc("one")


def test_a_refused_put_of_an_existing_key_keeps_its_old_document_and_entries(backend: Backend) -> None:
    backend.put(KIND, "k1", doc("one"), unique={"email": "a@example.com"})
    backend.put(KIND, "k2", doc("two, v1"), index={"tag": ["old"]}, unique={"email": "b@example.com"})

    with pytest.raises(Conflict):
        backend.put(KIND, "k2", doc("two, v2"), index={"tag": ["new"]}, unique={"email": "a@example.com"})

    assert backend.get(KIND, "k2") == doc("two, v1")
    assert backend.find(KIND, "tag", "old") == ["k2"]
    assert backend.find(KIND, "tag", "new") == []
    assert backend.find_unique(KIND, "email", "b@example.com") == "k2"
    assert backend.find_unique(KIND, "email", "a@example.com") == "k1"


def test_the_same_key_may_re_put_its_own_unique_value(backend: Backend) -> None:
    backend.put(KIND, "k1", doc("v1"), unique={"email": "a@example.com"})

    backend.put(KIND, "k1", doc("v2"), unique={"email": "a@example.com"})

    assert backend.get(KIND, "k1") == doc("v2")
    assert backend.find_unique(KIND, "email", "a@example.com") == "k1"


def test_changing_a_unique_value_frees_the_old_one(backend: Backend) -> None:
    backend.put(KIND, "k1", doc("one"), unique={"email": "old@example.com"})
    backend.put(KIND, "k1", doc("one"), unique={"email": "new@example.com"})

    backend.put(KIND, "k2", doc("two"), unique={"email": "old@example.com"})

    assert backend.find_unique(KIND, "email", "old@example.com") == "k2"
    assert backend.find_unique(KIND, "email", "new@example.com") == "k1"


def test_unique_values_are_per_kind(backend: Backend) -> None:
    backend.put("user", "k1", doc("user"), unique={"email": "a@example.com"})

    backend.put("invite", "k2", doc("invite"), unique={"email": "a@example.com"})

    assert backend.find_unique("user", "email", "a@example.com") == "k1"
    assert backend.find_unique("invite", "email", "a@example.com") == "k2"


def test_after_delete_the_unique_value_is_free_again(backend: Backend) -> None:
    backend.put(KIND, "k1", doc("one"), unique={"email": "a@example.com"})
    backend.delete(KIND, "k1")

    assert backend.find_unique(KIND, "email", "a@example.com") is None
    backend.put(KIND, "k2", doc("two"), unique={"email": "a@example.com"})
    assert backend.find_unique(KIND, "email", "a@example.com") == "k2"


def test_racing_keys_for_one_unique_value_let_exactly_one_win(backend: Backend) -> None:
    emails = [f"user{n}@example.com" for n in range(10)]

    def put_under_own_key(number: int, email: str) -> bool:
        try:
            backend.put(KIND, f"{email}/{number}", doc(email), unique={"email": email})
        except Conflict:
            return False
        return True

    wins = race_in_step(16, emails, put_under_own_key)

    assert wins == Counter(emails)
    for email in emails:
        contenders = [f"{email}/{number}" for number in range(16)]
        assert backend.find_unique(KIND, "email", email) in contenders
        assert backend.get_many(KIND, contenders) == [doc(email)]


# delete


def test_delete_returns_true_then_false(backend: Backend) -> None:
    backend.put(KIND, "k1", doc("one"))

    assert backend.delete(KIND, "k1") is True
    assert backend.delete(KIND, "k1") is False
    assert backend.get(KIND, "k1") is None


def test_delete_of_a_missing_key_returns_false(backend: Backend) -> None:
    backend.put(KIND, "k1", doc("one"))

    assert backend.delete(KIND, "absent") is False
    assert backend.get(KIND, "k1") == doc("one")


def test_delete_removes_the_index_entries(backend: Backend) -> None:
    backend.put(KIND, "k1", doc("one"), index={"tag": ["x"]})
    backend.put(KIND, "k2", doc("two"), index={"tag": ["x"]})

    backend.delete(KIND, "k1")

    assert backend.find(KIND, "tag", "x") == ["k2"]


# time to live


def test_a_document_with_a_ttl_disappears_from_get_find_and_find_unique(backend: Backend) -> None:
    backend.put(KIND, "k1", doc("one"), ttl=LOOKING_TTL, index={"tag": ["x"]}, unique={"email": "a@example.com"})
    assert backend.get(KIND, "k1") == doc("one")
    assert backend.find(KIND, "tag", "x") == ["k1"]
    assert backend.find_unique(KIND, "email", "a@example.com") == "k1"

    expire(backend, KIND, "k1")

    assert backend.get_many(KIND, ["k1"]) == []
    assert backend.find(KIND, "tag", "x") == []
    assert backend.find_unique(KIND, "email", "a@example.com") is None


def test_a_document_without_ttl_does_not_expire(backend: Backend) -> None:
    backend.put(KIND, "permanent", doc("permanent"))
    backend.put(KIND, "expiring", doc("expiring"), ttl=SHORT_TTL)

    expire(backend, KIND, "expiring")

    assert backend.get(KIND, "permanent") == doc("permanent")


def test_re_put_without_ttl_makes_the_document_permanent(backend: Backend) -> None:
    backend.put(KIND, "k1", doc("v1"), ttl=SHORT_TTL, index={"tag": ["x"]})
    backend.put(KIND, "k1", doc("v2"), index={"tag": ["x"]})
    backend.put(KIND, "marker", doc("marker"), ttl=SHORT_TTL)

    expire(backend, KIND, "marker")

    assert backend.get(KIND, "k1") == doc("v2")
    assert backend.find(KIND, "tag", "x") == ["k1"]


def test_an_expired_unique_value_is_free_for_another_key(backend: Backend) -> None:
    backend.put(KIND, "k1", doc("one"), ttl=SHORT_TTL, unique={"email": "a@example.com"})
    expire(backend, KIND, "k1")

    backend.put(KIND, "k2", doc("two"), unique={"email": "a@example.com"})

    assert backend.find_unique(KIND, "email", "a@example.com") == "k2"


def test_re_put_after_expiry_drops_the_expired_documents_index_entries(backend: Backend) -> None:
    backend.put(KIND, "k1", doc("v1"), ttl=SHORT_TTL, index={"tag": ["old"]})
    expire(backend, KIND, "k1")

    backend.put(KIND, "k1", doc("v2"), index={"tag": ["new"]})

    assert backend.find(KIND, "tag", "new") == ["k1"]
    assert backend.find(KIND, "tag", "old") == []


def test_a_sub_millisecond_ttl_is_accepted_and_expires(backend: Backend) -> None:
    backend.put(KIND, "k1", doc("one"), ttl=0.0004, index={"tag": ["x"]})

    expire(backend, KIND, "k1")

    assert backend.find(KIND, "tag", "x") == []


def test_delete_of_an_expired_document_returns_false(backend: Backend) -> None:
    backend.put(KIND, "k1", doc("one"), ttl=SHORT_TTL)
    expire(backend, KIND, "k1")

    assert backend.delete(KIND, "k1") is False


# claim_once


def test_claim_once_is_true_then_false_for_the_same_key(backend: Backend) -> None:
    assert backend.claim_once("nonce-1", ttl=60) is True
    assert backend.claim_once("nonce-1", ttl=60) is False
    assert backend.claim_once("nonce-1", ttl=60) is False


def test_claim_once_keys_are_independent(backend: Backend) -> None:
    assert backend.claim_once("nonce-1", ttl=60) is True

    assert backend.claim_once("nonce-2", ttl=60) is True


def test_claim_once_is_true_again_after_its_ttl(backend: Backend) -> None:
    assert backend.claim_once("nonce-1", ttl=LOOKING_TTL) is True
    assert backend.claim_once("nonce-1", ttl=LOOKING_TTL) is False

    wait_until(lambda: backend.claim_once("nonce-1", ttl=60), timeout=EXPIRY_TIMEOUT, what="claim to lapse")

    assert backend.claim_once("nonce-1", ttl=60) is False


def test_claim_once_is_seen_by_a_second_connection(open_backend: Callable[[], Backend]) -> None:
    first, second = open_backend(), open_backend()

    assert first.claim_once("nonce-1", ttl=60) is True

    assert second.claim_once("nonce-1", ttl=60) is False


def test_claim_once_lets_exactly_one_of_16_racing_threads_win_each_key(backend: Backend) -> None:
    keys = [f"nonce-{n}" for n in range(50)]

    wins = race_in_step(16, keys, lambda _, key: backend.claim_once(key, ttl=60))

    assert wins == Counter(keys)


# swap: one state change and what it brings, in one step


def test_swap_with_the_expected_fields_makes_every_write_and_returns_true(backend: Backend) -> None:
    backend.put(KIND, "old", doc("old", state="fresh"), index={"tag": ["x"]})

    swapped = backend.swap(
        KIND,
        "old",
        {"state": "fresh"},
        [
            Write(KIND, "old", doc("old", state="spent"), index={"tag": ["x"]}),
            Write(KIND, "new-1", doc("new-1", state="fresh"), ttl=60, index={"tag": ["x"], "pair": ["p"]}),
            Write(KIND, "new-2", doc("new-2")),
        ],
    )

    assert swapped is True
    assert backend.get(KIND, "old") == doc("old", state="spent")
    assert backend.get(KIND, "new-1") == doc("new-1", state="fresh")
    assert backend.get(KIND, "new-2") == doc("new-2")
    assert sorted(backend.find(KIND, "tag", "x")) == ["new-1", "old"]
    assert backend.find(KIND, "pair", "p") == ["new-1"]


def test_a_swap_writing_another_kind_is_refused_and_writes_nothing(backend: Backend) -> None:
    backend.put(KIND, "old", doc("old", state="fresh"))

    with pytest.raises(ValueError, match="other"):
        backend.swap(
            KIND,
            "old",
            {"state": "fresh"},
            [Write(KIND, "old", doc("old", state="spent")), Write("other", "new", doc("new"))],
        )

    assert backend.get(KIND, "old") == doc("old", state="fresh")
    assert backend.get("other", "new") is None


def test_swap_with_a_field_not_as_expected_writes_nothing_and_returns_false(backend: Backend) -> None:
    backend.put(KIND, "old", doc("old", state="spent", owner="ann"), index={"tag": ["x"]})

    for expect in ({"state": "fresh"}, {"state": "spent", "owner": "bob"}, {"missing-field": "anything"}):
        swapped = backend.swap(
            KIND,
            "old",
            expect,
            [
                Write(KIND, "old", doc("old", state="rewritten"), index={"tag": ["y"]}),
                Write(KIND, "new", doc("new"), index={"tag": ["x"]}),
            ],
        )

        assert swapped is False
    assert backend.get(KIND, "old") == doc("old", state="spent", owner="ann")
    assert backend.get(KIND, "new") is None
    assert backend.find(KIND, "tag", "x") == ["old"]
    assert backend.find(KIND, "tag", "y") == []


def test_swap_of_a_missing_or_expired_document_writes_nothing(backend: Backend) -> None:
    backend.put(KIND, "expiring", doc("expiring", state="fresh"), ttl=SHORT_TTL)
    expire(backend, KIND, "expiring")

    for key in ("absent", "expiring"):
        assert backend.swap(KIND, key, {"state": "fresh"}, [Write(KIND, f"{key}-new", doc("new"))]) is False

        assert backend.get(KIND, f"{key}-new") is None
    assert backend.get(KIND, "expiring") is None


def test_swap_with_nothing_expected_needs_only_the_document_to_exist(backend: Backend) -> None:
    backend.put(KIND, "old", doc("old"))

    assert backend.swap(KIND, "old", {}, [Write(KIND, "new", doc("new"))]) is True
    assert backend.swap(KIND, "absent", {}, [Write(KIND, "other", doc("other"))]) is False

    assert backend.get(KIND, "new") == doc("new")
    assert backend.get(KIND, "other") is None


def test_swap_replaces_the_index_entries_of_a_document_it_rewrites(backend: Backend) -> None:
    backend.put(KIND, "k1", doc("v1", state="fresh"), index={"tag": ["old", "kept"], "colour": ["red"]})

    backend.swap(KIND, "k1", {"state": "fresh"}, [Write(KIND, "k1", doc("v2"), index={"tag": ["kept", "new"]})])

    assert backend.find(KIND, "tag", "old") == []
    assert backend.find(KIND, "colour", "red") == []
    assert backend.find(KIND, "tag", "kept") == ["k1"]
    assert backend.find(KIND, "tag", "new") == ["k1"]


def test_swap_frees_the_unique_values_of_a_document_it_rewrites(backend: Backend) -> None:
    backend.put(KIND, "k1", doc("v1", state="fresh"), unique={"email": "a@example.com"})

    backend.swap(KIND, "k1", {"state": "fresh"}, [Write(KIND, "k1", doc("v2", state="spent"))])

    assert backend.find_unique(KIND, "email", "a@example.com") is None
    backend.put(KIND, "k2", doc("two"), unique={"email": "a@example.com"})
    assert backend.find_unique(KIND, "email", "a@example.com") == "k2"


def test_swap_keeps_the_unique_values_a_write_names(backend: Backend) -> None:
    backend.put(KIND, "k1", doc("v1", state="fresh"), unique={"email": "a@example.com"})

    write = Write(KIND, "k1", doc("v2", state="spent"), unique={"email": "a@example.com"})
    assert backend.swap(KIND, "k1", {"state": "fresh"}, [write]) is True

    assert backend.get(KIND, "k1") == doc("v2", state="spent")
    assert backend.find_unique(KIND, "email", "a@example.com") == "k1"
    with pytest.raises(Conflict):
        backend.put(KIND, "k2", doc("two"), unique={"email": "a@example.com"})
    backend.swap(KIND, "k1", {"state": "spent"}, [Write(KIND, "k1", doc("v3", state="again"))])
    assert backend.find_unique(KIND, "email", "a@example.com") is None, "and frees them when rewritten without"


def test_swap_never_takes_a_unique_value_of_another_document(backend: Backend) -> None:
    backend.put(KIND, "k1", doc("v1", state="fresh"))
    backend.put(KIND, "k2", doc("two"), unique={"email": "a@example.com"})

    write = Write(KIND, "k1", doc("v2"), unique={"email": "a@example.com"})
    assert backend.swap(KIND, "k1", {"state": "fresh"}, [write]) is False

    assert backend.get(KIND, "k1") == doc("v1", state="fresh")
    assert backend.find_unique(KIND, "email", "a@example.com") == "k2"


def test_swap_compares_numbers_booleans_and_null_too(backend: Backend) -> None:
    fields = {"at": 1796139571.123456, "active": True, "secret": None, "state": "fresh"}
    backend.put(KIND, "k1", {**doc("v1"), **fields})

    for changed in ({"at": 1796139571.123457}, {"active": False}, {"secret": "x"}):
        assert backend.swap(KIND, "k1", {**fields, **changed}, [Write(KIND, "k1", doc("no"))]) is False
    assert backend.swap(KIND, "k1", fields, [Write(KIND, "k1", doc("v2"))]) is True
    assert backend.get(KIND, "k1") == doc("v2")
    # A field the document lacks counts as null.
    assert backend.swap(KIND, "k1", {"absent": None}, [Write(KIND, "k1", doc("v3"))]) is True


def test_documents_a_swap_writes_keep_their_ttl(backend: Backend) -> None:
    backend.put(KIND, "old", doc("old", state="fresh"))

    backend.swap(
        KIND,
        "old",
        {"state": "fresh"},
        [
            Write(KIND, "expiring", doc("expiring"), ttl=SHORT_TTL, index={"tag": ["x"]}),
            Write(KIND, "permanent", doc("permanent"), index={"tag": ["x"]}),
        ],
    )
    assert sorted(backend.find(KIND, "tag", "x")) == ["expiring", "permanent"]
    expire(backend, KIND, "expiring")

    assert backend.find(KIND, "tag", "x") == ["permanent"]
    assert backend.get(KIND, "permanent") == doc("permanent")


def test_a_short_lived_document_a_swap_indexes_does_not_shorten_the_index_for_the_others(backend: Backend) -> None:
    backend.put(KIND, "permanent", doc("permanent", state="fresh"), index={"tag": ["x"]})
    backend.put(KIND, "long", doc("long"), ttl=60, index={"tag": ["y"]})

    backend.swap(
        KIND,
        "permanent",
        {"state": "fresh"},
        [
            Write(KIND, "short-x", doc("short"), ttl=SHORT_TTL, index={"tag": ["x"]}),
            Write(KIND, "short-y", doc("short"), ttl=SHORT_TTL, index={"tag": ["y"]}),
        ],
    )
    expire(backend, KIND, "short-x")
    expire(backend, KIND, "short-y")

    assert backend.find(KIND, "tag", "x") == ["permanent"]
    assert backend.find(KIND, "tag", "y") == ["long"]


def test_swap_is_seen_by_a_second_connection(open_backend: Callable[[], Backend]) -> None:
    writer, reader = open_backend(), open_backend()
    writer.put(KIND, "old", doc("old", state="fresh"))

    writer.swap(KIND, "old", {"state": "fresh"}, [Write(KIND, "old", doc("old", state="spent"))])

    assert reader.get(KIND, "old") == doc("old", state="spent")
    assert reader.swap(KIND, "old", {"state": "fresh"}, [Write(KIND, "new", doc("new"))]) is False


def test_racing_swaps_of_one_state_let_exactly_one_of_16_threads_win_each_document(backend: Backend) -> None:
    keys = [f"token-{n}" for n in range(20)]
    for key in keys:
        backend.put(KIND, key, doc(key, state="fresh"), index={"family": [key]})

    def rotate(number: int, key: str) -> bool:
        return backend.swap(
            KIND,
            key,
            {"state": "fresh"},
            [
                Write(KIND, key, doc(key, state="spent", by=number), index={"family": [key]}),
                Write(KIND, f"{key}/successor-{number}", doc("successor"), index={"family": [key]}),
            ],
        )

    wins = race_in_step(16, keys, rotate)

    assert wins == Counter(keys)
    for key in keys:
        (winner,) = [number for number in range(16) if f"{key}/successor-{number}" in backend.find(KIND, "family", key)]
        assert backend.get(KIND, key) == doc(key, state="spent", by=winner)
        assert sorted(backend.find(KIND, "family", key)) == sorted([key, f"{key}/successor-{winner}"])


# several processes on one SQLite file, as gunicorn workers share it

PROCESSES = 4
KEYS = [f"nonce-{n}" for n in range(200)]


def claim_in_step_in_a_process(path: str, keys: list[str], in_step, results) -> None:
    """Run in a spawned process: open a backend of its own on `path`, claim each key in step with the others."""
    try:
        backend = SqliteBackend(path)
        try:
            claimed = []
            for key in keys:
                in_step.wait(timeout=30)
                if backend.claim_once(key, ttl=60):
                    claimed.append(key)
        finally:
            backend.close()
    except Exception as exc:
        in_step.abort()  # release the other processes at once
        results.put(("error", repr(exc)))
    else:
        results.put(("claimed", claimed))


def test_sqlite_claim_once_is_exclusive_across_processes(tmp_path: Path) -> None:
    spawn = multiprocessing.get_context("spawn")
    in_step = spawn.Barrier(PROCESSES)
    results = spawn.Queue()
    path = str(tmp_path / "db.sqlite3")
    workers = [
        spawn.Process(target=claim_in_step_in_a_process, args=(path, KEYS, in_step, results), daemon=True)
        for _ in range(PROCESSES)
    ]
    started = []
    try:
        for worker in workers:
            worker.start()
            started.append(worker)
        outcomes = [results.get(timeout=120) for _ in workers]
    except queue.Empty:
        pytest.fail(f"a worker gave no result; exit codes {[worker.exitcode for worker in workers]}")
    finally:
        for worker in started:
            worker.join(timeout=30)
            if worker.is_alive():
                worker.terminate()
                worker.join()
        results.close()
        results.join_thread()

    assert [status for status, _ in outcomes] == ["claimed"] * PROCESSES, outcomes
    claims = Counter(key for _, claimed in outcomes for key in claimed)
    assert claims == Counter(KEYS)


# events, as the throttle counts them


def test_events_are_listed_oldest_first_after_a_time(backend):
    for at in (100.0, 105.0, 103.0):
        backend.record_event("login:ann", at, window=60)
    assert backend.events_since("login:ann", 0) == [100.0, 103.0, 105.0]
    assert backend.events_since("login:ann", 103.0) == [105.0]
    assert backend.events_since("login:bob", 0) == []


def test_events_older_than_the_window_are_dropped_when_one_is_recorded(backend):
    backend.record_event("login:ann", 100.0, window=10)
    backend.record_event("login:ann", 111.0, window=10)
    assert backend.events_since("login:ann", 0) == [111.0]


def test_events_at_the_same_moment_all_count(backend):
    for _ in range(3):
        backend.record_event("login:ann", 100.0, window=60)
    assert backend.events_since("login:ann", 0) == [100.0, 100.0, 100.0]


def test_clearing_events_forgets_them(backend):
    backend.record_event("login:ann", 100.0, window=60)
    backend.clear_events("login:ann")
    assert backend.events_since("login:ann", 0) == []
