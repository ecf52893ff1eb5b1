"""One-time codes sent by email for the second factor: 6 digits, short-lived, single use, stored keyed-hashed."""

from __future__ import annotations

import datetime
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from idp.accounts.mail import Mailer, Message
from idp.keyring import KeyRing
from idp.models import User
from idp.sealing import newest
from idp.store import Store

DIGITS = 6


@dataclass(frozen=True)
class PendingCodes:
    count: int
    expires: list[float]


def _digest(key: bytes, user_id: str, code: str) -> str:
    # Keyed, so a copy of the store does not give the codes away to a 10^6 brute force.
    return hmac.new(key, f"email-code\0{user_id}\0{code}".encode(), hashlib.sha256).hexdigest()


def _live(store: Store, user_id: str, now: float) -> list[dict[str, Any]]:
    return [code for code in store.email_codes(user_id) if code["expires_at"] > now]


def pending(store: Store, user_id: str, *, now: float) -> PendingCodes:
    live = _live(store, user_id, now)
    return PendingCodes(len(live), [code["expires_at"] for code in live])


def send_code(store: Store, keyring: KeyRing, mailer: Mailer, user: User, *, ttl: int, issuer: str, now: float) -> None:
    code = f"{secrets.randbelow(10**DIGITS):0{DIGITS}d}"
    live = _live(store, user.id, now)
    live.append({"hash": _digest(keyring.data_keys[newest(keyring.data_keys)], user.id, code), "expires_at": now + ttl})
    store.save_email_codes(user.id, live, ttl)
    until = datetime.datetime.fromtimestamp(now + ttl, datetime.UTC).strftime("%H:%M UTC")
    mailer.send(
        Message(
            to=user.email,
            subject=f"Your {issuer} verification code",
            body=(
                f"Your verification code is {code}\n\n"
                f"It works once, until {until}. If you did not ask for it, someone may know your password:\n"
                "change it, and ignore this code.\n"
            ),
        )
    )


def consume(store: Store, keyring: KeyRing, user: User, code: str, *, now: float) -> bool:
    """True once for a live code; False for a wrong, expired or used one."""
    live = _live(store, user.id, now)
    offered = {_digest(key, user.id, code.strip()) for key in keyring.data_keys.values()}
    matched = None
    for stored in live:
        # Every stored code is compared, in constant time.
        if any(hmac.compare_digest(stored["hash"], digest) for digest in offered):
            matched = stored
    if matched is None or not store.claim_once(f"email-code:{matched['hash']}", matched["expires_at"] - now + 1):
        return False
    remaining = [stored for stored in live if stored is not matched]
    longest = max((stored["expires_at"] for stored in remaining), default=now + 1)
    store.save_email_codes(user.id, remaining, longest - now)
    return True
