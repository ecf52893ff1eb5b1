"""Random secrets, their stored hashes, and constant-time comparison, in one place."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_PASSWORDS = PasswordHasher()  # argon2id with the library's current recommended parameters
# Verified against when no user matches, so a wrong email costs as much time as a wrong password.
_DECOY_HASH = _PASSWORDS.hash(secrets.token_urlsafe(16))


def new_token() -> str:
    """256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """Tokens are high-entropy, so one SHA-256 is enough to store them safely."""
    return hashlib.sha256(token.encode()).hexdigest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def hash_password(password: str) -> str:
    return _PASSWORDS.hash(password)


def check_password(password_hash: str | None, password: str) -> bool:
    try:
        return _PASSWORDS.verify(password_hash or _DECOY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False
