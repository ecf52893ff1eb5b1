"""An account's lifecycle: disable, enable, delete, and revoking every way in at once.

The one place these happen, whoever asks (an admin through the API, an operator at the command
line, a provisioning client): each call takes effect everywhere before it returns.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from idp.accounts.sessions import Sessions
from idp.accounts.tokens import Tokens
from idp.models import User
from idp.store import Store


@dataclass(frozen=True)
class Lifecycle:
    store: Store
    tokens: Tokens
    sessions: Sessions

    def revoke_access(self, user: User, *, now: float) -> User:
        """End every token family, IdP session, pending email code and password link of the user, and
        void every launch link minted until now (a link is refused when minted before `access_revoked_at`)."""
        revoked = dataclasses.replace(user, access_revoked_at=now, updated_at=now)
        self.store.save_user(revoked)
        self.tokens.revoke_user(user.id)
        self.sessions.end_all_of(user.id)
        self.store.drop_email_codes(user.id)
        self.store.drop_password_links(user.id)
        return revoked

    def disable(self, user: User, *, now: float) -> User:
        """Sign-in then fails as a wrong password does; everything already issued stops working."""
        return self.revoke_access(dataclasses.replace(user, is_active=False), now=now)

    def enable(self, user: User, *, now: float) -> User:
        """Sign-in works again; nothing revoked while disabled comes back."""
        enabled = dataclasses.replace(user, is_active=True, updated_at=now)
        self.store.save_user(enabled)
        return enabled

    def delete(self, user: User, *, now: float) -> User:
        """Soft: the record stays for history, its address is freed, and every lookup treats it as gone.
        Its passkeys go for good (a disabled account keeps them, unusable until it is enabled)."""
        revoked = self.revoke_access(dataclasses.replace(user, is_active=False), now=now)
        self.store.drop_passkeys_of(user.id)
        deleted = dataclasses.replace(revoked, deleted_at=now)
        self.store.save_user(deleted)
        return deleted
