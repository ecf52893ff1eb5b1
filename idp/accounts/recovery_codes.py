"""MFA recovery codes: ten one-time codes shown once, stored only keyed-hashed, each working once."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass

from idp.keyring import KeyRing
from idp.sealing import newest
from idp.store import Store

COUNT = 10
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read off paper without doubt
_HALF = 5  # two groups of five: about 49 bits per code
_RETRIES = 5


def _normal(code: str) -> str:
    return "".join(code.lower().split()).replace("-", "")


def looks_like_recovery_code(code: str) -> bool:
    normal = _normal(code)
    return len(normal) == 2 * _HALF and all(char in _ALPHABET for char in normal)


def _digest(key: bytes, user_id: str, code: str) -> str:
    # Keyed, so a copy of the store alone does not allow guessing codes offline.
    return hmac.new(key, f"recovery-code\0{user_id}\0{_normal(code)}".encode(), hashlib.sha256).hexdigest()


def _new_code() -> str:
    chars = "".join(secrets.choice(_ALPHABET) for _ in range(2 * _HALF))
    return f"{chars[:_HALF]}-{chars[_HALF:]}"


@dataclass(frozen=True)
class RecoveryCodes:
    store: Store
    keyring: KeyRing

    def issue(self, user_id: str) -> list[str]:
        """Ten new codes, replacing any left; answered once, stored only as keyed hashes."""
        codes = [_new_code() for _ in range(COUNT)]
        key = self.keyring.data_keys[newest(self.keyring.data_keys)]
        hashes = [_digest(key, user_id, code) for code in codes]
        self.store.save_recovery_codes(user_id, {"hashes": hashes, "version": uuid.uuid4().hex})
        return codes

    def remaining(self, user_id: str) -> int:
        doc = self.store.recovery_codes(user_id)
        return len(doc["hashes"]) if doc else 0

    def consume(self, user_id: str, code: str) -> int | None:
        """How many codes remain after using this one; None when it is not (or no longer) one of them."""
        if not looks_like_recovery_code(code):
            return None
        offered = [_digest(key, user_id, code) for key in self.keyring.data_keys.values()]
        for _ in range(_RETRIES):
            doc = self.store.recovery_codes(user_id)
            if not doc:
                return None
            # Every stored hash is compared, in constant time.
            matched = [h for h in doc["hashes"] if any(hmac.compare_digest(h, digest) for digest in offered)]
            if not matched:
                return None
            left = [h for h in doc["hashes"] if h not in matched]
            if self.store.replace_recovery_codes_if(
                user_id, doc["version"], {"hashes": left, "version": uuid.uuid4().hex}
            ):
                return len(left)
            # Another use changed the codes between our read and our write: read them again.
        return None

    def drop(self, user_id: str) -> None:
        self.store.drop_recovery_codes(user_id)
