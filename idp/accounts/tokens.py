"""OAuth 2.0 tokens (RFC 6749): the password and refresh_token grants, and Bearer authentication (RFC 6750).

Tokens are random and stored only as hashes.  Refresh tokens rotate: each one is exchanged once, and
its successor joins the same family.  Presenting a refresh token that was already exchanged
revokes the whole family (OAuth 2.0 Security BCP, section 4.14), since either its owner or a
thief holds a copy.  The old token turns rotated and its successor pair appears in one atomic
step, so a store that fails in between leaves the old token working, never neither.

One exception, the reuse interval (Okta's grace period): an answer can be lost after the store
applied the exchange, and its client then retries with the token it still holds.  Within
`IDP_REFRESH_REUSE_INTERVAL` seconds of the exchange, and while the successor refresh token is
unused, that retry gets the very same successor pair again, not a new one, so the family never
forks.  The successor is derived from the old token under a data key, so nothing but hashes is
stored; once the successor has been exchanged, or the interval is over, a retry is a reuse.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from dataclasses import dataclass
from typing import NoReturn

from idp.accounts.secrets import derived_token, new_token, same, token_hash
from idp.config import Settings
from idp.errors import AuthenticationRequired, InvalidClient, InvalidGrant, MfaRequired
from idp.keyring import KeyRing
from idp.models import Client, Grant, GrantKind, User
from idp.sealing import newest
from idp.store import Store
from idp.telemetry.audit import AuditEvent, record


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    user: User


@dataclass(frozen=True)
class Bearer:
    """The caller of an API request."""

    user: User
    grant: Grant
    token_hash: str

    def require_mfa_done(self) -> Bearer:
        """A user with MFA must have validated this token pair for every call but the few that say otherwise."""
        if self.user.mfa_enabled and not self.grant.mfa_validated:
            raise MfaRequired("MFA required")
        return self


class Tokens:
    """Issues, rotates, checks and revokes token pairs; built once, at start."""

    def __init__(self, store: Store, settings: Settings, keyring: KeyRing) -> None:
        self.store = store
        self.keyring = keyring
        self.access_ttl = settings.access_token_ttl
        self.refresh_ttl = settings.refresh_token_ttl
        self.reuse_interval = settings.refresh_reuse_interval

    def authenticate_client(self, client_id: str | None, client_secret: str | None, *, used_basic: bool) -> Client:
        client = self.store.client(client_id) if client_id else None
        # Compare against a hash either way, so unknown ids and wrong secrets take the same path.
        expected = client.secret_hash if client else token_hash("")
        if not same(expected, token_hash(client_secret or "")) or client is None:
            raise InvalidClient("client authentication failed", used_basic=used_basic)
        return client

    def _new_pair(
        self,
        user: User,
        client: Client,
        family_id: str,
        *,
        mfa_validated: bool,
        tokens: tuple[str, str] | None = None,
    ) -> tuple[TokenPair, dict[str, tuple[Grant, float]]]:
        """A pair of tokens (fresh unless given), and the grants to store for it (by token hash, with their ttl)."""
        access, refresh = tokens or (new_token(), new_token())
        now, pair_id = time.time(), str(uuid.uuid4())
        grants: dict[str, tuple[Grant, float]] = {
            token_hash(token): (
                Grant(user.id, client.id, family_id, now + ttl, kind.value, pair_id, mfa_validated),
                ttl,
            )
            for token, kind, ttl in (
                (access, GrantKind.ACCESS, self.access_ttl),
                (refresh, GrantKind.REFRESH, self.refresh_ttl),
            )
        }
        return TokenPair(access, refresh, self.access_ttl, user), grants

    def issue(self, user: User, client: Client, *, mfa_validated: bool = False) -> TokenPair:
        """A new pair in a new family: a sign-in."""
        pair, grants = self._new_pair(user, client, str(uuid.uuid4()), mfa_validated=mfa_validated)
        for hashed, (grant, ttl) in grants.items():
            self.store.save_grant(hashed, grant, ttl)
        return pair

    def refresh(self, client: Client, refresh_token: str) -> TokenPair:
        hashed = token_hash(refresh_token)
        grant = self.store.grant(hashed)
        if grant is None or grant.kind == GrantKind.ACCESS or not same(grant.client_id, client.id):
            raise InvalidGrant("invalid refresh token")
        user = self.store.user(grant.user_id)
        if user is None or not user.is_active:
            raise InvalidGrant("invalid refresh token")
        if grant.kind == GrantKind.ROTATED:
            return self._retried(grant, refresh_token, user)
        key = self.keyring.data_keys[newest(self.keyring.data_keys)]
        pair, grants = self._new_pair(
            user, client, grant.family_id, mfa_validated=grant.mfa_validated, tokens=_successor(key, refresh_token)
        )
        # The old token is kept, marked rotated, to recognise a retry or a reuse.
        successor_pair_id = next(iter(grants.values()))[0].pair_id
        rotated = dataclasses.replace(
            grant, kind=GrantKind.ROTATED.value, rotated_at=time.time(), successor_pair_id=successor_pair_id
        )
        ttl = grant.expires_at - time.time()
        if not self.store.replace_grant_if(hashed, GrantKind.REFRESH.value, rotated, ttl, grants):
            # Another request exchanged it between our read and our swap: a retry, or a reuse.
            current = self.store.grant(hashed)
            if current is None:
                raise InvalidGrant("invalid refresh token")  # it expired, or its family was revoked, meanwhile
            return self._retried(current, refresh_token, user)
        return pair

    def _retried(self, rotated: Grant, refresh_token: str, user: User) -> TokenPair:
        """A rotated token presented again: its unused successor within the reuse interval, else a reuse."""
        now = time.time()
        if now - rotated.rotated_at <= self.reuse_interval:
            # Any key on the ring may have derived it: the data keys may have rotated in between.
            for key in self.keyring.data_keys.values():
                access, refresh = _successor(key, refresh_token)
                held = self.store.grant(token_hash(refresh))
                access_grant = self.store.grant(token_hash(access))
                if (
                    held is not None
                    and held.kind == GrantKind.REFRESH
                    and held.pair_id == rotated.successor_pair_id
                    and access_grant is not None
                ):
                    return TokenPair(access, refresh, max(1, int(access_grant.expires_at - now)), user)
        self._reused(rotated)

    def _reused(self, grant: Grant) -> NoReturn:
        self.revoke_family(grant.family_id)
        event = AuditEvent(
            "refresh_token.reuse", outcome="revoked", actor=grant.user_id, target=f"user:{grant.user_id}"
        )
        record(event)
        raise InvalidGrant("refresh token was already used; every token of this sign-in is now revoked")

    def revoke_family(self, family_id: str) -> None:
        for hashed in self.store.grants_by("family", family_id):
            self.store.drop_grant(hashed)

    def revoke_user(self, user_id: str) -> int:
        """Revoke every token of every family of the user; returns how many went."""
        return sum(self.store.drop_grant(hashed) for hashed in self.store.grants_by("user", user_id))

    def revoke_client(self, client_id: str) -> int:
        """Revoke every token issued to an API client."""
        return sum(self.store.drop_grant(hashed) for hashed in self.store.grants_by("client", client_id))

    def bearer(self, authorization: str | None) -> Bearer:
        """The caller named by an `Authorization: Bearer <token>` header."""
        scheme, _, token = (authorization or "").partition(" ")
        presented = scheme.lower() == "bearer"
        token = token.strip() if presented else ""
        if not token:
            raise AuthenticationRequired("an access token is required", token_presented=presented)
        hashed = token_hash(token)
        grant = self.store.grant(hashed)
        user = self.store.user(grant.user_id) if grant is not None and grant.kind == GrantKind.ACCESS else None
        if grant is None or user is None or not user.is_active:
            raise AuthenticationRequired("the access token is invalid or expired", token_presented=True)
        return Bearer(user, grant, hashed)

    def mark_pair_mfa_validated(self, grant: Grant) -> None:
        """The access and refresh token of this pair now count as having passed MFA."""
        now = time.time()
        for hashed, member in self.store.grants_by("pair", grant.pair_id).items():
            if member.kind != GrantKind.ROTATED and member.expires_at > now:
                self.store.save_grant(hashed, dataclasses.replace(member, mfa_validated=True), member.expires_at - now)

    def end_other_sessions(self, user_id: str, keep_pair_id: str) -> int:
        """Revoke every token of the user but the current pair; returns how many went."""
        revoked = 0
        for hashed, grant in self.store.grants_by("user", user_id).items():
            if grant.pair_id != keep_pair_id:
                revoked += self.store.drop_grant(hashed)
        return revoked


def _successor(key: bytes, refresh_token: str) -> tuple[str, str]:
    """The access and refresh token that replace `refresh_token`: the same each time it is exchanged."""
    return derived_token(key, refresh_token, "access"), derived_token(key, refresh_token, "refresh")
