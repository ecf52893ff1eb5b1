"""MFA recovery codes: ten one-time codes shown once, stored only as sealed digests, each working once.

Each code is stored as its SHA-256 digest sealed (idp.sealing) under the data key that seals, bound
to its user: a copy of the store alone does not allow guessing codes offline, and the digests can be
sealed again under a newer data key before an older one is retired. Codes issued before this were
stored as HMACs under a data key (hex, no key id); they still work, but cannot be moved to a new key.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass

from idp.errors import SealBroken
from idp.keyring import KeyRing
from idp.sealing import newest, seal, unseal
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
    """The older form: an HMAC under a data key, in hex."""
    return hmac.new(key, f"recovery-code\0{user_id}\0{_normal(code)}".encode(), hashlib.sha256).hexdigest()


def _plain_digest(user_id: str, code: str) -> bytes:
    return hashlib.sha256(f"recovery-code\0{user_id}\0{_normal(code)}".encode()).digest()


def _context(user_id: str) -> bytes:
    return b"recovery-code\0" + user_id.encode()


def is_sealed(stored: str) -> bool:
    """A sealed digest (`KEYID.BODY`), not a hex HMAC of the older form."""
    return "." in stored


def _matches(keys: dict[str, bytes], user_id: str, stored: str, digest: bytes, older: list[str]) -> bool:
    if not is_sealed(stored):
        return any(hmac.compare_digest(stored, offered) for offered in older)
    try:
        return hmac.compare_digest(unseal(keys, stored, context=_context(user_id)), digest)
    except SealBroken:
        return False


def reseal_digests(keys: dict[str, bytes], user_id: str, stored: list[str], retiring: set[str]) -> list[str]:
    """The stored digests with those sealed under a `retiring` key sealed again under the key that seals;
    raises SealBroken if one of them no key opens."""
    sealing = newest(keys)
    moved = []
    for value in stored:
        if is_sealed(value) and value.partition(".")[0] in retiring:
            value = seal(keys, sealing, unseal(keys, value, context=_context(user_id)), context=_context(user_id))
        moved.append(value)
    return moved


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
        keys = self.keyring.data_keys
        hashes = [seal(keys, newest(keys), _plain_digest(user_id, code), context=_context(user_id)) for code in codes]
        self.store.save_recovery_codes(user_id, {"hashes": hashes, "version": uuid.uuid4().hex})
        return codes

    def remaining(self, user_id: str) -> int:
        doc = self.store.recovery_codes(user_id)
        return len(doc["hashes"]) if doc else 0

    def consume(self, user_id: str, code: str) -> int | None:
        """How many codes remain after using this one; None when it is not (or no longer) one of them."""
        if not looks_like_recovery_code(code):
            return None
        keys = self.keyring.data_keys
        digest = _plain_digest(user_id, code)
        older = [_digest(key, user_id, code) for key in keys.values()]
        for _ in range(_RETRIES):
            doc = self.store.recovery_codes(user_id)
            if not doc:
                return None
            # Every stored digest is compared, in constant time.
            matched = [h for h in doc["hashes"] if _matches(keys, user_id, h, digest, older)]
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
