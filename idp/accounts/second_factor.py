"""A second factor for sensitive calls, in Rocket.Chat's protocol.

A call without `x-2fa-code` is refused with the method to use (totp when the user has an
authenticator app, else email when enabled, else password) and, for email, a code is mailed.
The client repeats the call with `x-2fa-code` and `x-2fa-method`.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from idp.accounts import email_codes, mfa
from idp.accounts.mail import Mailer
from idp.accounts.secrets import check_password_digest
from idp.accounts.throttle import Attempt, Throttle
from idp.config import Settings
from idp.errors import InvalidCode, SecondFactorInvalid, SecondFactorRequired, Throttled
from idp.keyring import KeyRing
from idp.models import User
from idp.store import Store

# Rocket.Chat sends no new email code while one with more than this many seconds to live is pending.
_FRESH_CODE_SECONDS = 5 * 60


def available_methods(user: User) -> list[str]:
    methods = []
    if user.mfa_enabled:
        methods.append("totp")
    if user.email_2fa_enabled and user.email_confirmed:
        methods.append("email")
    if not methods and user.password_hash:
        methods.append("password")
    return methods


@dataclass(frozen=True)
class SecondFactor:
    store: Store
    keyring: KeyRing
    settings: Settings
    throttle: Throttle
    mailer: Mailer

    def require(self, user: User, *, code: str | None, method: str | None, address: str | None, now: float) -> None:
        """Return when the call carries a valid second factor; raise SecondFactorRequired or ...Invalid."""
        available = available_methods(user)
        if not available:
            return  # an account with no password and no factor has nothing more to prove
        if not code:
            raise SecondFactorRequired(self._challenge(user, available, now))
        chosen = method or available[0]
        if chosen not in available:
            raise SecondFactorInvalid(chosen)
        if not self._check(user, chosen, code, address=address, now=now):
            raise SecondFactorInvalid(chosen)

    def _challenge(self, user: User, available: list[str], now: float) -> dict:
        method = available[0]
        generated = False
        if method == "email":
            fresh = [
                e for e in email_codes.pending(self.store, user.id, now=now).expires if e - now > _FRESH_CODE_SECONDS
            ]
            if not fresh:
                generated = self.send_email_code(user, now=now)
        waiting = email_codes.pending(self.store, user.id, now=now) if method == "email" else None
        return {
            "method": method,
            "codeGenerated": generated,
            "codeCount": waiting.count if waiting else 0,
            "codeExpires": [_iso(moment) for moment in waiting.expires] if waiting else [],
            "availableMethods": available,
        }

    def send_email_code(self, user: User, *, now: float) -> bool:
        """Mail a code unless this user was sent too many lately; True when one was sent."""
        attempt = Attempt("email-code-sent", user.id, None)
        try:
            self.throttle.check(attempt, now=now)
        except Throttled:
            return False
        self.throttle.failed(attempt, now=now)  # every send counts towards the limit
        email_codes.send_code(
            self.store,
            self.keyring,
            self.mailer,
            user,
            ttl=self.settings.email_code_ttl,
            issuer=self.settings.issuer_name,
            now=now,
        )
        return True

    def _check(self, user: User, method: str, code: str, *, address: str | None, now: float) -> bool:
        if method == "totp":
            try:
                mfa.check_code(
                    self.store, self.keyring, self.throttle, user, user.mfa_secret, code, address=address, now=now
                )
            except InvalidCode:
                return False
            return True
        attempt = Attempt("2fa", user.id, address)
        self.throttle.check(attempt, now=now)
        if method == "email":
            ok = email_codes.consume(self.store, self.keyring, user, code, now=now)
        else:
            ok = check_password_digest(user.password_hash, code.strip())
        if ok:
            self.throttle.succeeded(attempt)
        else:
            self.throttle.failed(attempt, now=now)
        return ok


def _iso(moment: float) -> str:
    return (
        datetime.datetime.fromtimestamp(moment, datetime.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )
