"""Passwords: the rules for a new one, checking one at sign-in (throttled), and changing one."""

from __future__ import annotations

import dataclasses
import time

from idp.accounts.lifecycle import Lifecycle
from idp.accounts.secrets import check_password, hash_password
from idp.accounts.throttle import Throttle
from idp.accounts.tokens import Tokens
from idp.errors import InvalidGrant, ValidationError
from idp.models import User
from idp.store import Store
from idp.telemetry.audit import AuditEvent, record

MIN_LENGTH = 10
MAX_LENGTH = 1024  # argon2 takes anything, but a megabyte "password" is only a way to burn CPU


def check_new_password(password: str, *, email: str, first_name: str, last_name: str) -> None:
    """Long enough, and not built from the user's own name or email."""
    if not isinstance(password, str) or len(password) < MIN_LENGTH:
        raise ValidationError(f"password must be at least {MIN_LENGTH} characters", field="password")
    if len(password) > MAX_LENGTH:
        raise ValidationError(f"password must be at most {MAX_LENGTH} characters", field="password")
    lowered = password.lower()
    local_part = email.split("@", 1)[0].lower()
    own = [word.lower() for word in (email, local_part, first_name, last_name) if len(word) >= 3]
    if any(word in lowered for word in own):
        raise ValidationError("password must not contain your name or email address", field="password")


class Passwords:
    def __init__(self, store: Store, throttle: Throttle, tokens: Tokens, lifecycle: Lifecycle) -> None:
        self.store = store
        self.throttle = throttle
        self.tokens = tokens
        self.lifecycle = lifecycle

    def sign_in(self, username: str, password: str, *, address: str | None, now: float) -> User:
        """The active user with this email and password; InvalidGrant (the same for every cause) otherwise."""
        with self.throttle.attempt("password", username.strip().lower(), address, now=now):
            user = self.store.user_by_email(username.strip())
            # check_password runs argon2 even when no user matched, so timing does not tell who exists.
            matched = check_password(user.password_hash if user else None, password)
            if not matched or user is None or not user.is_active:
                refused = InvalidGrant("invalid username or password")
                refused.account_id = user.id if user else None
                raise refused
        return user

    def confirm(
        self, user: User, password: object, *, address: str | None, now: float, field: str = "password"
    ) -> None:
        """The user's own password, asked again before a sensitive change; a wrong one counts as a failed sign-in."""
        if not isinstance(password, str) or not password:
            raise ValidationError(f"{field} is required", field=field)
        with self.throttle.attempt("password", user.email.lower(), address, now=now):
            if not check_password(user.password_hash, password):
                raise ValidationError(f"{field} is wrong", field=field)

    def _replace(
        self, user: User, *, old_password: object, new_password: object, address: str | None, now: float
    ) -> User:
        """Check the old password (throttled) and the new one's rules; the user with the new one, not yet saved."""
        self.confirm(user, old_password, address=address, now=now, field="old_password")
        if not isinstance(new_password, str):
            raise ValidationError("new_password is required", field="new_password")
        try:
            check_new_password(new_password, email=user.email, first_name=user.first_name, last_name=user.last_name)
        except ValidationError as error:
            raise ValidationError(error.message.replace("password", "new_password", 1), field="new_password") from None
        return dataclasses.replace(user, password_hash=hash_password(new_password), updated_at=time.time())

    def change(
        self,
        user: User,
        *,
        old_password: object,
        new_password: object,
        keep_pair_id: str,
        address: str | None,
        now: float,
    ) -> User:
        """Check the old password (throttled), set the new one, and end every other way in that the old
        password opened: the user's other token families, their IdP sessions in browsers, and any
        password link still unused. The caller's own token pair is kept."""
        changed = self._replace(user, old_password=old_password, new_password=new_password, address=address, now=now)
        self.store.save_user(changed)
        self.tokens.end_other_sessions(user.id, keep_pair_id)
        self.lifecycle.sessions.end_all_of(user.id)
        self.store.drop_password_links(user.id)
        record(AuditEvent("password.change", actor=user.id, target=f"user:{user.id}"))
        return changed

    def change_everywhere(
        self, user: User, *, old_password: object, new_password: object, address: str | None, now: float
    ) -> User:
        """Change the password as a reset link does: every IdP session, token family, email code, password
        link and launch link of the user ends, the caller's own included (a browser starts a fresh session)."""
        changed = self._replace(user, old_password=old_password, new_password=new_password, address=address, now=now)
        revoked = self.lifecycle.revoke_access(changed, now=now)
        record(AuditEvent("password.change", actor=user.id, target=f"user:{user.id}"))
        return revoked
