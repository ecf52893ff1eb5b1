"""Sealing again under the data key that seals what older data keys sealed, so that they can be retired.

What the data keys seal in the store: each user's TOTP secret (and one being set up), and the digests
of their recovery codes. Each record is rewritten by a swap that expects it unchanged, so a user who
changes their MFA meanwhile wins and is looked at again. Both the old and the new value open while the
older keys are on the ring, so a user's codes keep working at every moment; running it twice, or again
after it stopped half-way, only finishes what is left.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from idp.accounts.mfa import reseal_secret
from idp.accounts.recovery_codes import is_sealed, reseal_digests
from idp.errors import SealBroken
from idp.keyring import RotatingKeys
from idp.models import User
from idp.store import Store

_ATTEMPTS = 5
_SEALED_FIELDS = ("mfa_secret", "mfa_pending_secret")


@dataclass(frozen=True)
class Resealed:
    """What one pass did and found."""

    totp_secrets: int = 0  # secrets sealed again under the key that seals
    recovery_codes: int = 0  # users whose recovery-code digests were sealed again
    unreadable: int = 0  # values under a retiring key that no key opens: lost already
    older_recovery_codes: int = 0  # users with recovery codes of the older form (keyed hashes: cannot move)
    changed_meanwhile: int = 0  # records that kept changing while this ran: left as they were

    @property
    def left(self) -> int:
        """How many users lose something if the retiring keys go now."""
        return self.unreadable + self.older_recovery_codes + self.changed_meanwhile

    def as_json(self) -> dict[str, int]:
        return dataclasses.asdict(self)


def _key_id(sealed: str | None) -> str | None:
    return sealed.partition(".")[0] if sealed else None


def _unchanged(user: User) -> dict[str, Any]:
    """Every field of the stored record but its attributes (an object): what the swap expects."""
    return {name: value for name, value in dataclasses.asdict(user).items() if not isinstance(value, dict | list)}


def reseal(store: Store, data: RotatingKeys, retiring: Collection[str]) -> Resealed:
    """Seal under `data.sealing` everything sealed under a `retiring` key."""
    retiring = set(retiring) - {data.sealing}
    totals = Resealed()
    for listed in store.users():
        totals = _add(totals, _reseal_totp(store, data, retiring, listed.id))
        totals = _add(totals, _reseal_recovery_codes(store, data, retiring, listed.id))
    return totals


def _add(total: Resealed, one: Resealed) -> Resealed:
    return Resealed(*(a + b for a, b in zip(dataclasses.astuple(total), dataclasses.astuple(one), strict=True)))


def _reseal_totp(store: Store, data: RotatingKeys, retiring: set[str], user_id: str) -> Resealed:
    for _ in range(_ATTEMPTS):
        user = store.user(user_id)
        if user is None:
            return Resealed()
        changes: dict[str, str] = {}
        unreadable = 0
        for name in _SEALED_FIELDS:
            sealed = getattr(user, name)
            if _key_id(sealed) in retiring:
                try:
                    changes[name] = reseal_secret(data.keys, user.id, sealed)
                except SealBroken:
                    unreadable += 1
        if not changes:
            return Resealed(unreadable=unreadable)
        resealed = dataclasses.replace(
            user,
            mfa_secret=changes.get("mfa_secret", user.mfa_secret),
            mfa_pending_secret=changes.get("mfa_pending_secret", user.mfa_pending_secret),
        )
        if store.replace_user_if(resealed, _unchanged(user)):
            return Resealed(totp_secrets=len(changes), unreadable=unreadable)
    return Resealed(changed_meanwhile=1)


def _reseal_recovery_codes(store: Store, data: RotatingKeys, retiring: set[str], user_id: str) -> Resealed:
    for _ in range(_ATTEMPTS):
        doc = store.recovery_codes(user_id)
        if not doc or not doc["hashes"]:
            return Resealed()
        if not all(is_sealed(value) for value in doc["hashes"]):
            return Resealed(older_recovery_codes=1)
        if not any(_key_id(value) in retiring for value in doc["hashes"]):
            return Resealed()
        try:
            moved = reseal_digests(data.keys, user_id, doc["hashes"], retiring)
        except SealBroken:
            return Resealed(unreadable=1)
        if store.replace_recovery_codes_if(user_id, doc["version"], {**doc, "hashes": moved}):
            return Resealed(recovery_codes=1)
    return Resealed(changed_meanwhile=1)
