"""Password rules, and how passwords are hashed and checked."""

from __future__ import annotations

import hashlib

import pytest

from idp.accounts.passwords import MAX_LENGTH, MIN_LENGTH, check_new_password
from idp.accounts.secrets import check_password, check_password_digest, hash_password, password_digest
from idp.errors import ValidationError

OWNER = {"email": "gh1906@navy.example", "first_name": "Grace", "last_name": "Hopper"}
GOOD = "purple monkey dishwasher 42"


def refusal(password: object, **owner: str) -> ValidationError:
    with pytest.raises(ValidationError) as refused:
        check_new_password(password, **(OWNER | owner))  # type: ignore[arg-type]
    return refused.value


# --- rules -----------------------------------------------------------------------------------------------------------


def test_a_long_password_unrelated_to_the_user_is_accepted() -> None:
    assert check_new_password(GOOD, **OWNER) is None


def test_exactly_the_minimum_length_is_accepted() -> None:
    assert MIN_LENGTH == 10
    assert check_new_password("x7#kq2!mzp", **OWNER) is None


def test_one_character_short_is_refused_naming_the_minimum() -> None:
    error = refusal("x7#kq2!mz")

    assert error.field == "password"
    assert f"at least {MIN_LENGTH} characters" in error.message


def test_an_empty_password_is_refused() -> None:
    assert refusal("").field == "password"


def test_a_password_that_is_not_a_string_is_refused() -> None:
    assert refusal(1234567890123).field == "password"


def test_an_overlong_password_is_refused() -> None:
    error = refusal("a long passphrase " * (MAX_LENGTH // 10))

    assert error.field == "password"
    assert f"at most {MAX_LENGTH}" in error.message


@pytest.mark.parametrize(
    "password",
    [
        pytest.param("amazing grace under fire", id="first name"),
        pytest.param("AMAZING GRACE UNDER FIRE", id="first name in capitals"),
        pytest.param("grasshoppers eat leaves", id="last name inside a word"),
        pytest.param("my old gh1906 passphrase", id="email local part"),
        pytest.param("write to gh1906@navy.example", id="whole email"),
    ],
)
def test_a_password_built_from_the_users_name_or_email_is_refused(password: str) -> None:
    error = refusal(password)

    assert error.field == "password"
    assert error.message == "password must not contain your name or email address"


def test_very_short_names_do_not_rule_out_ordinary_words() -> None:
    # A two-letter name would forbid half the dictionary; only names of three letters or more count.
    assert check_new_password("always be testing", email="al@x.example", first_name="Al", last_name="Wu") is None


# --- hashing ---------------------------------------------------------------------------------------------------------


def test_passwords_are_hashed_with_argon2id() -> None:
    assert hash_password(GOOD).startswith("$argon2id$")


def test_the_hash_holds_neither_the_password_nor_its_digest() -> None:
    stored = hash_password(GOOD)

    assert GOOD not in stored
    assert password_digest(GOOD) not in stored


def test_the_same_password_hashes_differently_each_time() -> None:
    assert hash_password(GOOD) != hash_password(GOOD)


def test_the_right_password_checks_and_a_wrong_one_does_not() -> None:
    stored = hash_password(GOOD)

    assert check_password(stored, GOOD) is True
    assert check_password(stored, GOOD.upper()) is False
    assert check_password(stored, GOOD + " ") is False


def test_the_digest_is_the_hex_sha256_of_the_password() -> None:
    assert password_digest(GOOD) == hashlib.sha256(GOOD.encode()).hexdigest()


def test_the_hex_sha256_of_the_password_checks_in_either_case() -> None:
    stored = hash_password(GOOD)

    assert check_password_digest(stored, password_digest(GOOD)) is True
    assert check_password_digest(stored, password_digest(GOOD).upper()) is True
    assert check_password_digest(stored, password_digest("something else entirely")) is False


def test_no_password_never_checks() -> None:
    assert check_password(None, GOOD) is False
    assert check_password_digest(None, password_digest(GOOD)) is False


def test_a_malformed_hash_never_checks() -> None:
    assert check_password("not-an-argon2-hash", GOOD) is False
