"""OAuth 2.0 tokens (RFC 6749): the password and refresh_token grants, and Bearer authentication.

Tokens are random and stored only as hashes.  Refresh tokens rotate: each one works once, and
its successor joins the same family.  Presenting a refresh token that was already exchanged
revokes the whole family (OAuth 2.0 Security BCP, section 4.14), since either its owner or a
thief holds a copy.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from dataclasses import dataclass

from idp.accounts.secrets import check_password, new_token, same, token_hash
from idp.accounts.throttle import Attempt, Throttle
from idp.config import Settings
from idp.errors import AuthenticationRequired, InvalidClient, InvalidGrant
from idp.models import Client, Grant, GrantKind, User
from idp.store import Store


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


def authenticate_client(store: Store, client_id: str | None, client_secret: str | None) -> Client:
    client = store.client(client_id) if client_id else None
    # Compare against a hash either way, so unknown ids and wrong secrets take the same path.
    expected = client.secret_hash if client else token_hash("")
    if not same(expected, token_hash(client_secret or "")) or client is None:
        raise InvalidClient("client authentication failed")
    return client


def _issue(
    store: Store, settings: Settings, user: User, client: Client, family_id: str, *, mfa_validated: bool = False
) -> TokenPair:
    access, refresh = new_token(), new_token()
    now, pair_id = time.time(), str(uuid.uuid4())
    for token, kind, ttl in (
        (access, GrantKind.ACCESS, settings.access_token_ttl),
        (refresh, GrantKind.REFRESH, settings.refresh_token_ttl),
    ):
        grant = Grant(user.id, client.id, family_id, now + ttl, kind.value, pair_id, mfa_validated)
        store.save_grant(token_hash(token), grant, ttl)
    return TokenPair(access, refresh, settings.access_token_ttl, user)


def check_credentials(
    store: Store, throttle: Throttle, username: str, password: str, *, address: str | None, now: float
) -> User | None:
    """The active user with this email and password, or None; failures are throttled."""
    attempt = Attempt("password", username.strip().lower(), address)
    throttle.check(attempt, now=now)
    user = store.user_by_email(username.strip())
    # check_password runs argon2 even when no user matched, so timing does not tell who exists.
    if not check_password(user.password_hash if user else None, password) or user is None or not user.is_active:
        throttle.failed(attempt, now=now)
        return None
    throttle.succeeded(attempt)
    return user


def password_grant(
    store: Store,
    settings: Settings,
    client: Client,
    username: str,
    password: str,
    *,
    throttle: Throttle,
    address: str | None,
    now: float,
) -> TokenPair:
    user = check_credentials(store, throttle, username, password, address=address, now=now)
    if user is None:
        raise InvalidGrant("invalid username or password")
    return _issue(store, settings, user, client, family_id=str(uuid.uuid4()))


def revoke_family(store: Store, family_id: str) -> None:
    for hashed in store.grants_by("family", family_id):
        store.drop_grant(hashed)


def refresh_grant(store: Store, settings: Settings, client: Client, refresh_token: str) -> TokenPair:
    hashed = token_hash(refresh_token)
    grant = store.grant(hashed)
    if grant is None or grant.kind == GrantKind.ACCESS or not same(grant.client_id, client.id):
        raise InvalidGrant("invalid refresh token")
    if grant.kind == GrantKind.ROTATED or not store.claim_once(f"refresh:{hashed}", settings.refresh_token_ttl):
        revoke_family(store, grant.family_id)
        raise InvalidGrant("refresh token was already used; every token of this sign-in is now revoked")
    # Kept, marked rotated, only so that a later reuse is recognised.
    store.save_grant(hashed, dataclasses.replace(grant, kind=GrantKind.ROTATED.value), grant.expires_at - time.time())
    user = store.user(grant.user_id)
    if user is None or not user.is_active:
        raise InvalidGrant("invalid refresh token")
    return _issue(store, settings, user, client, grant.family_id, mfa_validated=grant.mfa_validated)


def authenticate_bearer(store: Store, token: str | None) -> Bearer:
    if not token:
        raise AuthenticationRequired("an access token is required")
    hashed = token_hash(token)
    grant = store.grant(hashed)
    user = store.user(grant.user_id) if grant is not None and grant.kind == GrantKind.ACCESS else None
    if grant is None or user is None or not user.is_active:
        raise AuthenticationRequired("the access token is invalid or expired")
    return Bearer(user, grant, hashed)


def mark_pair_mfa_validated(store: Store, grant: Grant) -> None:
    """The access and refresh token of this pair now count as having passed MFA."""
    now = time.time()
    for hashed, member in store.grants_by("pair", grant.pair_id).items():
        if member.kind != GrantKind.ROTATED and member.expires_at > now:
            store.save_grant(hashed, dataclasses.replace(member, mfa_validated=True), member.expires_at - now)


def end_other_sessions(store: Store, user_id: str, keep_pair_id: str) -> int:
    """Revoke every token of the user but the current pair; returns how many went."""
    revoked = 0
    for hashed, grant in store.grants_by("user", user_id).items():
        if grant.pair_id != keep_pair_id:
            revoked += store.drop_grant(hashed)
    return revoked
