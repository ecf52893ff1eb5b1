"""Single-use links that set a password: a reset (forgotten, or sent by an admin) and an invitation.

A link is a random token, mailed to the account's address and stored only hashed, with a short
life (`IDP_PASSWORD_RESET_TTL`, `IDP_INVITATION_TTL`).  Choosing a password through it applies
the password rules, works once, and ends every session and token family of the user.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import quote

from idp.accounts.lifecycle import Lifecycle
from idp.accounts.notices import Notices
from idp.accounts.passwords import check_new_password
from idp.accounts.secrets import hash_password, new_token, token_hash
from idp.accounts.throttle import Attempt, Throttle
from idp.errors import LinkInvalid, MailFailed, Throttled
from idp.models import Brand, User
from idp.store import Store
from idp.telemetry.audit import AuditEvent, record

log = logging.getLogger(__name__)


class Purpose(StrEnum):
    RESET = "reset"
    INVITATION = "invitation"


@dataclass(frozen=True)
class PasswordLink:
    user: User
    purpose: Purpose


@dataclass(frozen=True)
class PasswordLinks:
    store: Store
    throttle: Throttle
    lifecycle: Lifecycle
    notices: Notices
    base_url: str
    reset_ttl: int
    invitation_ttl: int

    def _mint(self, user: User, purpose: Purpose, ttl: int, *, now: float) -> str:
        token = new_token()
        doc = {"user_id": user.id, "purpose": purpose.value, "expires_at": now + ttl}
        self.store.save_password_link(token_hash(token), doc, ttl, user.id)
        return f"{self.base_url}/password?token={quote(token, safe='')}"

    def send_reset(self, user: User, *, now: float) -> None:
        """Mail the user a reset link; MailFailed (503) when the mail cannot go."""
        url = self._mint(user, Purpose.RESET, self.reset_ttl, now=now)
        self.notices.password_reset(user, url, minutes=self.reset_ttl // 60)

    def send_invitation(self, user: User, brand: Brand, *, now: float) -> None:
        url = self._mint(user, Purpose.INVITATION, self.invitation_ttl, now=now)
        self.notices.invitation(user, brand, url, hours=self.invitation_ttl // 3600)

    def forgot(self, email: str, *, address: str | None, now: float) -> None:
        """Mail a reset link if an active account has this address: the caller learns nothing either way."""
        try:
            self.throttle.check(Attempt("password-forgot", None, address), now=now)
        except Throttled:
            return
        self.throttle.failed(Attempt("password-forgot", None, address), now=now)  # every request counts
        user = self.store.user_by_email(email.strip()) if email.strip() else None
        if user is None or not user.is_active:
            return
        sent = Attempt("password-reset-sent", user.id, None)
        try:
            self.throttle.check(sent, now=now)
        except Throttled:
            return
        self.throttle.failed(sent, now=now)
        try:
            self.send_reset(user, now=now)
        except MailFailed as error:
            # Answering 503 would tell a stranger the account exists; the log tells the operator.
            log.warning("could not mail a password reset link: %s", error.message)

    def pending(self, token: str | None, *, now: float) -> PasswordLink:
        """The live link this token names; LinkInvalid when unknown, used, expired or its account is gone."""
        doc = self.store.password_link(token_hash(token)) if token else None
        user = self.store.user(doc["user_id"]) if doc else None
        if doc is None or user is None or not user.is_active or doc["expires_at"] <= now:
            raise LinkInvalid("the password link is invalid or has expired")
        return PasswordLink(user, Purpose(doc["purpose"]))

    def choose(self, token: str | None, password: str, *, now: float) -> User:
        """Set the password through the link, once; then every session and token family of the user ends."""
        link = self.pending(token, now=now)
        user = link.user
        check_new_password(password, email=user.email, first_name=user.first_name, last_name=user.last_name)
        assert token is not None  # pending() refused otherwise
        if not self.store.claim_once(f"password-link:{token_hash(token)}", max(self.reset_ttl, self.invitation_ttl)):
            raise LinkInvalid("the password link was used already")
        # The mail reached its owner: the address is confirmed.
        chosen = dataclasses.replace(user, password_hash=hash_password(password), email_confirmed=True)
        changed = self.lifecycle.revoke_access(chosen, now=now)
        action = "password.reset" if link.purpose == Purpose.RESET else "password.invitation_accepted"
        record(AuditEvent(action, actor=user.id, target=f"user:{user.id}"))
        return changed
