"""Throttle: sliding windows over a real store (SQLite, and a real redis-server), with explicit times.

Rules here are small so limits are reached in a few failures; `now` is always given, so nothing waits.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from idp.accounts.throttle import Attempt, Rule, Throttle
from idp.errors import Throttled
from idp.store import Store
from idp.store.redis import RedisBackend
from idp.store.sqlite import SqliteBackend
from tests.support import redis_server

T0 = 1_700_000_000.0
WINDOW = 60

ONLY_PAIR = (Rule("account+address", 3, WINDOW),)


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture(params=[pytest.param("sqlite"), pytest.param("redis", marks=pytest.mark.redis)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        backend = SqliteBackend(tmp_path / "throttle.sqlite3")
    else:
        backend = RedisBackend(request.getfixturevalue("redis_url"), prefix=f"test:{uuid.uuid4().hex}:")
    store = Store(backend)
    yield store
    store.close()


def throttle(store: Store, *rules: Rule) -> Throttle:
    return Throttle(store, tuple(rules) or ONLY_PAIR)


def fail(throttle: Throttle, attempt: Attempt, *times: float) -> None:
    for at in times:
        throttle.failed(attempt, now=at)


def retry_after(throttle: Throttle, attempt: Attempt, now: float) -> int | None:
    """None when the attempt may go ahead, else the seconds to wait."""
    try:
        throttle.check(attempt, now=now)
    except Throttled as refused:
        return refused.retry_after
    return None


def allowed(throttle: Throttle, attempt: Attempt, now: float) -> bool:
    return retry_after(throttle, attempt, now) is None


ADA_HOME = Attempt("password", "ada@example.com", "192.0.2.1")
ADA_AWAY = Attempt("password", "ada@example.com", "198.51.100.7")
BOB_HOME = Attempt("password", "bob@example.com", "192.0.2.1")


# --- the limit and Retry-After ---------------------------------------------------------------------------------------


def test_failures_below_the_limit_let_attempts_through(store) -> None:
    limited = throttle(store)
    fail(limited, ADA_HOME, T0, T0 + 1)

    assert allowed(limited, ADA_HOME, T0 + 2)


def test_reaching_the_limit_refuses_the_next_attempt(store) -> None:
    limited = throttle(store)
    fail(limited, ADA_HOME, T0, T0 + 1, T0 + 2)

    with pytest.raises(Throttled) as refused:
        limited.check(ADA_HOME, now=T0 + 3)

    assert refused.value.status == 429


def test_retry_after_is_the_time_until_the_oldest_failure_leaves_the_window(store) -> None:
    limited = throttle(store)
    fail(limited, ADA_HOME, T0, T0 + 10, T0 + 20)

    assert retry_after(limited, ADA_HOME, T0 + 30) == WINDOW - 30
    assert retry_after(limited, ADA_HOME, T0 + 50) == WINDOW - 50


def test_retry_after_counts_enough_failures_to_leave_when_there_are_more_than_the_limit(store) -> None:
    # Five failures against a limit of three: three must age out (T0, T0+5, T0+10) before one more try.
    limited = throttle(store)
    fail(limited, ADA_HOME, T0, T0 + 5, T0 + 10, T0 + 15, T0 + 20)

    assert retry_after(limited, ADA_HOME, T0 + 30) == 10 + WINDOW - 30


def test_retry_after_is_rounded_up_to_whole_seconds(store) -> None:
    limited = throttle(store)
    fail(limited, ADA_HOME, T0 + 0.25, T0 + 1, T0 + 2)

    assert retry_after(limited, ADA_HOME, T0 + 30) == 31  # 30.25 seconds


def test_retry_after_is_at_least_one_second(store) -> None:
    limited = throttle(store)
    fail(limited, ADA_HOME, T0, T0 + 1, T0 + 2)

    assert retry_after(limited, ADA_HOME, T0 + WINDOW - 0.001) == 1


def test_waiting_retry_after_is_enough_for_one_more_attempt(store) -> None:
    limited = throttle(store)
    fail(limited, ADA_HOME, T0, T0 + 10, T0 + 20)
    wait = retry_after(limited, ADA_HOME, T0 + 30)
    assert wait is not None

    assert allowed(limited, ADA_HOME, T0 + 30 + wait)


def test_the_longest_wait_of_the_limits_reached_wins(store) -> None:
    limited = throttle(store, Rule("account+address", 3, WINDOW), Rule("account", 3, 10 * WINDOW))
    fail(limited, ADA_HOME, T0, T0 + 1, T0 + 2)

    assert retry_after(limited, ADA_HOME, T0 + 30) == 10 * WINDOW - 30


# --- recovery --------------------------------------------------------------------------------------------------------


def test_the_window_slides_one_failure_at_a_time(store) -> None:
    limited = throttle(store)
    fail(limited, ADA_HOME, T0, T0 + 10, T0 + 20)

    assert allowed(limited, ADA_HOME, T0 + WINDOW + 1)  # T0 has aged out
    fail(limited, ADA_HOME, T0 + WINDOW + 1)
    assert retry_after(limited, ADA_HOME, T0 + WINDOW + 2) == 10 + WINDOW - (WINDOW + 2)  # now T0+10 must go
    assert allowed(limited, ADA_HOME, T0 + WINDOW + 11)


def test_there_is_no_permanent_lockout(store) -> None:
    limited = throttle(store, Rule("account+address", 3, WINDOW), Rule("account", 5, 10 * WINDOW))
    fail(limited, ADA_HOME, *(T0 + second for second in range(20)))
    for second in range(100):  # refused checks, however many, are not failures and do not extend the wait
        assert not allowed(limited, ADA_HOME, T0 + 20 + second)

    assert allowed(limited, ADA_HOME, T0 + 19 + 10 * WINDOW + 1)


# --- success ---------------------------------------------------------------------------------------------------------


def test_a_success_clears_the_count_for_that_account_from_that_address(store) -> None:
    limited = throttle(store)
    fail(limited, ADA_HOME, T0, T0 + 1)
    limited.succeeded(ADA_HOME)
    fail(limited, ADA_HOME, T0 + 2, T0 + 3)

    assert allowed(limited, ADA_HOME, T0 + 4)  # two failures since the success, not four


def test_a_success_leaves_the_same_account_from_other_addresses_throttled(store) -> None:
    limited = throttle(store)
    fail(limited, ADA_AWAY, T0, T0 + 1, T0 + 2)

    limited.succeeded(ADA_HOME)

    assert not allowed(limited, ADA_AWAY, T0 + 3)


def test_a_success_leaves_other_accounts_from_the_same_address_throttled(store) -> None:
    limited = throttle(store)
    fail(limited, BOB_HOME, T0, T0 + 1, T0 + 2)

    limited.succeeded(ADA_HOME)

    assert not allowed(limited, BOB_HOME, T0 + 3)


def test_a_success_leaves_the_account_wide_count(store) -> None:
    limited = throttle(store, Rule("account+address", 10, WINDOW), Rule("account", 3, WINDOW))
    fail(limited, ADA_HOME, T0, T0 + 1)
    fail(limited, ADA_AWAY, T0 + 2)

    limited.succeeded(ADA_HOME)

    assert not allowed(limited, ADA_HOME, T0 + 3)
    assert not allowed(limited, Attempt("password", "ada@example.com", "203.0.113.9"), T0 + 3)


def test_a_success_leaves_the_address_wide_count(store) -> None:
    limited = throttle(store, Rule("account+address", 10, WINDOW), Rule("address", 3, WINDOW))
    fail(limited, ADA_HOME, T0, T0 + 1)
    fail(limited, BOB_HOME, T0 + 2)

    limited.succeeded(ADA_HOME)

    assert not allowed(limited, Attempt("password", "cy@example.com", "192.0.2.1"), T0 + 3)


# --- three independent scopes ----------------------------------------------------------------------------------------

THREE_SCOPES = (Rule("account+address", 3, WINDOW), Rule("account", 5, 10 * WINDOW), Rule("address", 4, WINDOW))


def test_the_account_and_address_limit_leaves_other_addresses_and_other_accounts_alone(store) -> None:
    limited = throttle(store, *THREE_SCOPES)
    fail(limited, ADA_HOME, T0, T0 + 1, T0 + 2)

    assert not allowed(limited, ADA_HOME, T0 + 3)
    assert allowed(limited, ADA_AWAY, T0 + 3)
    assert allowed(limited, BOB_HOME, T0 + 3)


def test_the_account_limit_holds_across_addresses_and_leaves_other_accounts_alone(store) -> None:
    limited = throttle(store, *THREE_SCOPES)
    for number in range(5):
        fail(limited, Attempt("password", "ada@example.com", f"203.0.113.{number}"), T0 + number)

    assert not allowed(limited, Attempt("password", "ada@example.com", "203.0.113.99"), T0 + 10)
    assert allowed(limited, Attempt("password", "bob@example.com", "203.0.113.0"), T0 + 10)


def test_the_address_limit_holds_across_accounts_and_leaves_other_addresses_alone(store) -> None:
    limited = throttle(store, *THREE_SCOPES)
    for number in range(4):
        fail(limited, Attempt("password", f"user{number}@example.com", "192.0.2.1"), T0 + number)

    assert not allowed(limited, Attempt("password", "newcomer@example.com", "192.0.2.1"), T0 + 10)
    assert allowed(limited, Attempt("password", "newcomer@example.com", "198.51.100.7"), T0 + 10)
    assert allowed(limited, Attempt("password", "user0@example.com", "198.51.100.7"), T0 + 10)


def test_each_scope_recovers_after_its_own_window(store) -> None:
    limited = throttle(store, *THREE_SCOPES)
    fail(limited, ADA_HOME, T0, T0 + 1, T0 + 2, T0 + 3, T0 + 4)  # past both the pair limit and the account limit

    assert not allowed(limited, ADA_AWAY, T0 + WINDOW + 5)  # the pair window is over, the account one is not
    assert allowed(limited, ADA_AWAY, T0 + 4 + 10 * WINDOW + 1)


def test_an_attempt_without_an_address_is_limited_by_account_only(store) -> None:
    limited = throttle(store, *THREE_SCOPES)
    nowhere = Attempt("email-code-sent", "ada-id", None)
    fail(limited, nowhere, T0, T0 + 1, T0 + 2, T0 + 3)

    assert allowed(limited, nowhere, T0 + 5)
    fail(limited, nowhere, T0 + 5)
    assert not allowed(limited, nowhere, T0 + 6)


def test_actions_are_counted_apart(store) -> None:
    limited = throttle(store)
    fail(limited, ADA_HOME, T0, T0 + 1, T0 + 2)

    assert allowed(limited, Attempt("2fa", ADA_HOME.account, ADA_HOME.address), T0 + 3)
