"""OAuth 2.0 tokens (RFC 6749): the password and refresh_token grants, and Bearer authentication.

Tokens are random and stored only as hashes.  Refresh tokens rotate: each one
works once, and its successor belongs to the same family.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from idp.accounts.secrets import check_password, new_token, same, token_hash
from idp.config import Settings
from idp.errors import AuthenticationRequired, InvalidClient, InvalidGrant
from idp.models import Client, Grant, User
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


def _issue(store: Store, settings: Settings, user: User, client: Client, family_id: str) -> TokenPair:
    access, refresh = new_token(), new_token()
    now = time.time()
    store.save_grant(
        token_hash(access),
        Grant(user.id, client.id, family_id, now + settings.access_token_ttl, "access"),
        settings.access_token_ttl,
    )
    store.save_grant(
        token_hash(refresh),
        Grant(user.id, client.id, family_id, now + settings.refresh_token_ttl, "refresh"),
        settings.refresh_token_ttl,
    )
    return TokenPair(access, refresh, settings.access_token_ttl, user)


def password_grant(store: Store, settings: Settings, client: Client, username: str, password: str) -> TokenPair:
    user = store.user_by_email(username)
    # check_password runs argon2 even when no user matched, so timing does not tell who exists.
    if not check_password(user.password_hash if user else None, password) or user is None or not user.is_active:
        raise InvalidGrant("invalid username or password")
    return _issue(store, settings, user, client, family_id=str(uuid.uuid4()))


def refresh_grant(store: Store, settings: Settings, client: Client, refresh_token: str) -> TokenPair:
    hashed = token_hash(refresh_token)
    grant = store.grant(hashed)
    if grant is None or grant.kind != "refresh" or not same(grant.client_id, client.id):
        raise InvalidGrant("invalid refresh token")
    if not store.claim_once(f"refresh:{hashed}", settings.refresh_token_ttl):
        raise InvalidGrant("refresh token was already used")
    store.drop_grant(hashed)
    user = store.user(grant.user_id)
    if user is None or not user.is_active:
        raise InvalidGrant("invalid refresh token")
    return _issue(store, settings, user, client, family_id=grant.family_id)


def authenticate_bearer(store: Store, token: str | None) -> Bearer:
    if not token:
        raise AuthenticationRequired("an access token is required")
    hashed = token_hash(token)
    grant = store.grant(hashed)
    user = store.user(grant.user_id) if grant is not None and grant.kind == "access" else None
    if grant is None or user is None or not user.is_active:
        raise AuthenticationRequired("the access token is invalid or expired")
    return Bearer(user, grant, hashed)
