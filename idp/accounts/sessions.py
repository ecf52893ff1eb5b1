"""IdP sessions for browsers: kept server-side in the store, named by a random cookie stored only hashed."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any

from idp.accounts.secrets import new_token, token_hash
from idp.store import Store

KIND = "session"


@dataclass(frozen=True)
class IdpSession:
    user_id: str
    mfa: bool
    authn_instant: float
    expires_at: float
    # The service providers this session signed in to, for single logout:
    # {"app_id", "name_id", "name_id_format", "session_index"}
    participants: list[dict[str, Any]] = field(default_factory=list)


def start(store: Store, user_id: str, *, mfa: bool, ttl: int, now: float | None = None) -> tuple[str, IdpSession]:
    """A new session; returns the cookie value (shown once) and the session."""
    now = time.time() if now is None else now
    token = new_token()
    session = IdpSession(user_id, mfa, now, now + ttl)
    store.save_transient(KIND, token_hash(token), dataclasses.asdict(session), ttl)
    return token, session


def load(store: Store, token: str | None) -> IdpSession | None:
    doc = store.transient(KIND, token_hash(token)) if token else None
    return IdpSession(**doc) if doc else None


def add_participant(store: Store, token: str, session: IdpSession, participant: dict[str, Any]) -> IdpSession:
    others = [p for p in session.participants if p["app_id"] != participant["app_id"]]
    updated = dataclasses.replace(session, participants=[*others, participant])
    store.save_transient(KIND, token_hash(token), dataclasses.asdict(updated), max(1, updated.expires_at - time.time()))
    return updated


def end(store: Store, token: str | None) -> None:
    if token:
        store.drop_transient(KIND, token_hash(token))
