"""A second factor for sensitive calls, in Rocket.Chat's protocol.

A call without `x-2fa-code` is refused with the method to use (totp when the user has an
authenticator app, else email when enabled, else password) and, for email, a code is mailed.
The client repeats the call with `x-2fa-code` and `x-2fa-method`.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
from dataclasses import dataclass
from typing import Any

from idp.accounts import email_codes
from idp.accounts.mail import Mailer
from idp.accounts.mfa import Mfa
from idp.accounts.secrets import check_password_digest
from idp.accounts.throttle import Attempt, Throttle
from idp.config import Settings
from idp.errors import InvalidCode, MailFailed, SecondFactorInvalid, SecondFactorRequired, Throttled, ValidationError
from idp.keyring import KeyRing
from idp.models import User
from idp.store import Store

log = logging.getLogger(__name__)

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
    mfa: Mfa

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
        try:
            self._check(user, chosen, code, address=address, now=now)
        except InvalidCode:
            raise SecondFactorInvalid(chosen) from None

    def _challenge(self, user: User, available: list[str], now: float) -> dict[str, Any]:
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

    def enable_email(self, user: User, *, now: float) -> User:
        if not user.email_confirmed:
            raise ValidationError("confirm your email address before using it as a second factor", field="email")
        enabled = dataclasses.replace(user, email_2fa_enabled=True, updated_at=now)
        self.store.save_user(enabled)
        return enabled

    def disable_email(self, user: User, *, now: float) -> User:
        """Call only once the call carried a second factor (`require`)."""
        disabled = dataclasses.replace(user, email_2fa_enabled=False, updated_at=now)
        self.store.save_user(disabled)
        return disabled

    def send_code_to(self, who: object, *, now: float) -> None:
        """Mail a code to this account if it has email codes on; the same for the caller either way,
        so that the answer never tells a stranger whether the account exists."""
        if not isinstance(who, str) or not who.strip():
            raise ValidationError("emailOrUsername is required", field="emailOrUsername")
        user = self.store.user_by_email(who.strip())
        if user is None or not user.is_active or "email" not in available_methods(user):
            return
        try:
            self.send_email_code(user, now=now)
        except MailFailed as error:
            # Answering 503 here would tell a stranger the account exists; the log tells the operator.
            log.warning("could not mail a second-factor code: %s", error.message)

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

    def _check(self, user: User, method: str, code: str, *, address: str | None, now: float) -> None:
        """Return for a right code; InvalidCode (a counted failure) for a wrong one."""
        if method == "totp":
            self.mfa.check_code(user, user.mfa_secret, code, address=address, now=now)
            return
        with self.throttle.attempt("2fa", user.id, address, now=now):
            if method == "email":
                ok = email_codes.consume(self.store, self.keyring, user, code, now=now)
            else:
                ok = check_password_digest(user.password_hash, code.strip())
            if not ok:
                raise InvalidCode(f"the {method} code is wrong")


def _iso(moment: float) -> str:
    return (
        datetime.datetime.fromtimestamp(moment, datetime.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )
