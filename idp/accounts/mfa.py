"""Opt-in TOTP MFA, in Rechat's flow: setup, verify (enables), validate (per token pair), remove.

The TOTP secret is sealed at rest with the data keys, bound to its user.  A code counts within
one 30-second step either side, once per user, and wrong codes are throttled.  Enabling MFA gives
ten recovery codes; each works once wherever a TOTP code is asked for, and its use is mailed to
the user with the count left.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass

import segno

from idp.accounts import totp
from idp.accounts.notices import Notices
from idp.accounts.recovery_codes import RecoveryCodes
from idp.accounts.throttle import Throttle
from idp.accounts.tokens import Tokens
from idp.errors import Conflict, InvalidCode, MailFailed, SealBroken, ValidationError
from idp.keyring import KeyRing
from idp.models import Grant, User
from idp.sealing import newest, seal, unseal
from idp.store import Store
from idp.telemetry.audit import AuditEvent, record

log = logging.getLogger(__name__)

# A used step stays claimed for as long as any code of it could still be accepted.
_USED_STEP_TTL = (2 * totp.DRIFT_STEPS + 2) * totp.STEP_SECONDS


@dataclass(frozen=True)
class MfaSetup:
    user: User
    url: str  # otpauth:// URI
    secret: str  # base32, in `url` too: for typing into an authenticator app that cannot scan

    @property
    def qr_code(self) -> str:
        """A data: URI of a PNG QR code of `url`, for API clients."""
        return str(segno.make(self.url, error="m").png_data_uri(scale=5, border=2))

    @property
    def qr_svg(self) -> str:
        """The same QR code as an inline <svg> element, for our pages (their CSP allows no data: images)."""
        return str(segno.make(self.url, error="m").svg_inline(scale=5, border=4, title="QR code of the setup key"))


@dataclass(frozen=True)
class MfaEnabled:
    user: User
    recovery_codes: list[str]  # shown once


def _context(user_id: str) -> bytes:
    return b"totp-secret\0" + user_id.encode()


def seal_secret(keyring: KeyRing, user_id: str, secret: str) -> str:
    return seal(keyring.data_keys, newest(keyring.data_keys), secret.encode(), context=_context(user_id))


def open_secret(keyring: KeyRing, user_id: str, sealed: str) -> str:
    return unseal(keyring.data_keys, sealed, context=_context(user_id)).decode()


def reseal_secret(keys: dict[str, bytes], user_id: str, sealed: str) -> str:
    """The same secret sealed under the data key that seals now (SealBroken if no key opens it)."""
    context = _context(user_id)
    return seal(keys, newest(keys), unseal(keys, sealed, context=context), context=context)


class Mfa:
    def __init__(
        self,
        store: Store,
        keyring: KeyRing,
        throttle: Throttle,
        tokens: Tokens,
        *,
        issuer: str,
        recovery: RecoveryCodes,
        notices: Notices,
    ) -> None:
        self.store = store
        self.keyring = keyring
        self.throttle = throttle
        self.tokens = tokens
        self.issuer = issuer
        self.recovery = recovery
        self.notices = notices

    def check_code(
        self,
        user: User,
        sealed_secret: str | None,
        code: object,
        *,
        address: str | None,
        now: float,
        recovery: bool = True,
    ) -> int | None:
        """Accept a TOTP code once (answering None), or with `recovery` one of the user's recovery codes
        (answering how many are left); otherwise raise InvalidCode and count the failure."""
        with self.throttle.attempt("mfa", user.id, address, now=now):
            step = None
            if sealed_secret and isinstance(code, str):
                step = totp.matching_step(self._open(user, sealed_secret), code.strip(), now=now)
            if step is not None and self.store.claim_once(f"totp:{user.id}:{step}", _USED_STEP_TTL):
                return None
            left = (
                self.recovery.consume(user.id, code)
                if recovery and user.mfa_enabled and isinstance(code, str)
                else None
            )
            if left is None:
                raise InvalidCode("the code is wrong, expired or already used", field="token")
        self._tell_recovery_code_used(user, left)
        return left

    def _tell_recovery_code_used(self, user: User, left: int) -> None:
        try:
            self.notices.recovery_code_used(user, remaining=left)
        except MailFailed as error:
            # The code was used and cannot be given back; the operator learns from the log.
            log.warning("could not mail the recovery-code notice: %s", error.message)

    def _open(self, user: User, sealed_secret: str) -> str:
        try:
            return open_secret(self.keyring, user.id, sealed_secret)
        except SealBroken:
            # The data key that sealed it is gone from keys/data-keys: no code can be checked until it is back.
            log.error("the TOTP secret of user %s opens with no data key on the ring", user.id)
            raise InvalidCode("the code cannot be checked", field="token") from None

    def begin_setup(self, user: User) -> MfaSetup:
        """A new pending secret; MFA stays off until a code from it is verified. A second setup replaces it."""
        if user.mfa_enabled:
            raise Conflict("MFA is already enabled; remove it before setting it up again", field="mfa")
        secret = totp.new_secret()
        updated = dataclasses.replace(
            user, mfa_pending_secret=seal_secret(self.keyring, user.id, secret), updated_at=time.time()
        )
        self.store.save_user(updated)
        return self._setup(updated, secret)

    def _setup(self, user: User, secret: str) -> MfaSetup:
        return MfaSetup(user, totp.provisioning_uri(secret, account=user.email, issuer=self.issuer), secret)

    def pending_setup(self, user: User) -> MfaSetup | None:
        """The setup begun and not yet verified, shown again; None when there is none (or its key is gone)."""
        if user.mfa_enabled or not user.mfa_pending_secret:
            return None
        try:
            return self._setup(user, open_secret(self.keyring, user.id, user.mfa_pending_secret))
        except SealBroken:
            return None

    def verify_setup(
        self, user: User, grant: Grant | None, code: object, *, address: str | None, now: float
    ) -> MfaEnabled:
        """Enable MFA with a code from the pending secret, count the current pair (when a token pair
        asks) as validated, and answer ten fresh recovery codes."""
        if user.mfa_enabled:
            raise Conflict("MFA is already enabled", field="mfa")
        if not user.mfa_pending_secret:
            raise ValidationError("set MFA up first: POST /users/self/mfa/setup", field="mfa")
        self.check_code(user, user.mfa_pending_secret, code, address=address, now=now, recovery=False)
        enabled = dataclasses.replace(
            user, mfa_secret=user.mfa_pending_secret, mfa_pending_secret=None, updated_at=time.time()
        )
        self.store.save_user(enabled)
        if grant is not None:
            self.tokens.mark_pair_mfa_validated(grant)
        codes = self.recovery.issue(user.id)
        record(AuditEvent("mfa.enable", actor=user.id, target=f"user:{user.id}"))
        return MfaEnabled(enabled, codes)

    def new_recovery_codes(self, user: User) -> list[str]:
        """Ten new codes replacing the old ones; call only once the call carried a second factor."""
        if not user.mfa_enabled:
            raise ValidationError("MFA is not enabled for this user", field="mfa")
        codes = self.recovery.issue(user.id)
        record(AuditEvent("mfa.recovery_codes", actor=user.id, target=f"user:{user.id}"))
        return codes

    def reset(self, user: User, *, now: float) -> User:
        """Remove the user's MFA without a code of theirs (an admin's act, who proved their own factor):
        TOTP, recovery codes and passkeys, every second factor they could have lost."""
        removed = dataclasses.replace(
            user, mfa_secret=None, mfa_pending_secret=None, passkey_sign_in=False, updated_at=now
        )
        self.store.save_user(removed)
        self.recovery.drop(user.id)
        self.store.drop_passkeys_of(user.id)
        return removed

    def validate(self, user: User, grant: Grant, code: object, *, address: str | None, now: float) -> None:
        if not user.mfa_enabled:
            raise ValidationError("MFA is not enabled for this user", field="mfa")
        self.check_code(user, user.mfa_secret, code, address=address, now=now)
        self.tokens.mark_pair_mfa_validated(grant)

    def remove(self, user: User, code: object, *, address: str | None, now: float) -> User:
        if not user.mfa_enabled:
            raise ValidationError("MFA is not enabled for this user", field="mfa")
        self.check_code(user, user.mfa_secret, code, address=address, now=now)
        removed = dataclasses.replace(user, mfa_secret=None, mfa_pending_secret=None, updated_at=time.time())
        self.store.save_user(removed)
        self.recovery.drop(user.id)
        record(AuditEvent("mfa.remove", actor=user.id, target=f"user:{user.id}"))
        return removed
