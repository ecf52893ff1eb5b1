"""IdP sessions for browsers: kept server-side in the store, named by a random cookie stored only hashed."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any

from idp.accounts.secrets import new_token, token_hash
from idp.store import Store


@dataclass(frozen=True)
class IdpSession:
    user_id: str
    mfa: bool
    authn_instant: float
    expires_at: float
    # The service providers this session signed in to, for single logout:
    # {"app_id", "name_id", "name_id_format", "session_index"}
    participants: list[dict[str, Any]] = field(default_factory=list)


def sp_session_key(app_id: str, session_index: str) -> str:
    return f"{app_id}:{session_index}"


def _save(store: Store, key: str, session: IdpSession) -> None:
    held = [sp_session_key(p["app_id"], p["session_index"]) for p in session.participants]
    store.save_session(key, dataclasses.asdict(session), max(1, session.expires_at - time.time()), held)


def start(store: Store, user_id: str, *, mfa: bool, ttl: int, now: float | None = None) -> tuple[str, IdpSession]:
    """A new session; returns the cookie value (shown once) and the session."""
    now = time.time() if now is None else now
    token = new_token()
    session = IdpSession(user_id, mfa, now, now + ttl)
    _save(store, token_hash(token), session)
    return token, session


def load(store: Store, token: str | None) -> IdpSession | None:
    doc = store.session_doc(token_hash(token)) if token else None
    return IdpSession(**doc) if doc else None


def add_participant(store: Store, token: str, session: IdpSession, participant: dict[str, Any]) -> IdpSession:
    others = [p for p in session.participants if p["app_id"] != participant["app_id"]]
    updated = dataclasses.replace(session, participants=[*others, participant])
    _save(store, token_hash(token), updated)
    return updated


def end(store: Store, token: str | None) -> None:
    if token:
        store.drop_session(token_hash(token))


def end_by_sp_session(store: Store, app_id: str, session_indexes: list[str]) -> int:
    """End the sessions holding these SP sessions: a LogoutRequest may come without our cookie."""
    ended = 0
    for index in session_indexes:
        for key in store.sessions_holding(sp_session_key(app_id, index)):
            store.drop_session(key)
            ended += 1
    return ended
