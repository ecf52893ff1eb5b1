"""Random secrets, their stored hashes, and constant-time comparison, in one place."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_PASSWORDS = PasswordHasher()  # argon2id with the library's current recommended parameters


def new_token() -> str:
    """256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def derived_token(key: bytes, seed: str, purpose: str) -> str:
    """A token as random as `new_token`, but the same each time for the same key, seed and purpose."""
    digest = hmac.new(key, purpose.encode() + b"\0" + seed.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def token_hash(token: str) -> str:
    """Tokens are high-entropy, so one SHA-256 is enough to store them safely."""
    return hashlib.sha256(token.encode()).hexdigest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def password_digest(password: str) -> str:
    """The hex SHA-256 of a password: what argon2 hashes, and what the `password` second factor sends."""
    return hashlib.sha256(password.encode()).hexdigest()


def hash_password(password: str) -> str:
    return _PASSWORDS.hash(password_digest(password))


# Verified against when no user matches, so a wrong email costs as much time as a wrong password.
_DECOY_HASH = hash_password(secrets.token_urlsafe(16))


def check_password_digest(password_hash: str | None, digest: str) -> bool:
    """Whether `digest` (hex SHA-256 of the password) matches; runs argon2 even when there is no hash."""
    try:
        matched = _PASSWORDS.verify(password_hash or _DECOY_HASH, digest.lower())
    except (VerificationError, InvalidHashError):
        return False
    return matched and password_hash is not None


def check_password(password_hash: str | None, password: str) -> bool:
    return check_password_digest(password_hash, password_digest(password))
