"""IdP sessions for browsers: kept server-side in the store, named by a random cookie stored only hashed."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any

from idp.accounts.secrets import new_token, token_hash
from idp.models import Participant, User
from idp.store import Store


@dataclass(frozen=True)
class IdpSession:
    user_id: str
    mfa: bool
    authn_instant: float
    expires_at: float
    # The service providers this session signed in to, for single logout.
    participants: list[Participant] = field(default_factory=list)


@dataclass(frozen=True)
class SignedIn:
    """A browser's live session: its cookie value, the session, and the (active) account."""

    token: str
    session: IdpSession
    user: User


@dataclass(frozen=True)
class HeldSession:
    """A session found by one of its SP sessions: its key in the store, and the participant found."""

    key: str
    session: IdpSession
    participant: Participant


@dataclass(frozen=True)
class OpenSession:
    """One of a user's live sessions as they see it listed: `current` when it is the asking browser's."""

    key: str
    session: IdpSession
    current: bool


def sp_session_key(app_id: str, session_index: str) -> str:
    return f"{app_id}:{session_index}"


class Sessions:
    def __init__(self, store: Store, *, ttl: int) -> None:
        self.store = store
        self.ttl = ttl

    def _save(self, token: str, session: IdpSession) -> None:
        held = [sp_session_key(p.app_id, p.session_index) for p in session.participants]
        doc: dict[str, Any] = dataclasses.asdict(session)
        ttl = max(1, session.expires_at - time.time())
        self.store.save_session(token_hash(token), doc, ttl, held, user_id=session.user_id)

    def start(self, user: User, *, mfa: bool, now: float, participants: list[Participant] | None = None) -> SignedIn:
        """A new session; its token is the cookie value, shown once. `participants`: the SPs of the
        session it replaces (a step-up to MFA), so that single logout still reaches them."""
        session = IdpSession(user.id, mfa, now, now + self.ttl, list(participants or []))
        signed_in = SignedIn(new_token(), session, user)
        self._save(signed_in.token, signed_in.session)
        return signed_in

    def load(self, token: str | None) -> IdpSession | None:
        return self._load_by_key(token_hash(token)) if token else None

    def _load_by_key(self, key: str) -> IdpSession | None:
        doc = self.store.session_doc(key)
        if not doc:
            return None
        participants = [Participant(**p) for p in doc.get("participants", [])]
        return IdpSession(**{**doc, "participants": participants})

    def signed_in(self, token: str | None) -> SignedIn | None:
        """The live session this cookie names, when its user is still active."""
        session = self.load(token)
        user = self.store.user(session.user_id) if session else None
        if token is None or session is None or user is None or not user.is_active:
            return None
        if user.access_revoked_at is not None and session.authn_instant < user.access_revoked_at:
            return None  # begun before the account's access was revoked
        return SignedIn(token, session, user)

    def add_participant(self, signed_in: SignedIn, participant: Participant) -> None:
        session = signed_in.session
        others = [p for p in session.participants if p.app_id != participant.app_id]
        self._save(signed_in.token, dataclasses.replace(session, participants=[*others, participant]))

    def end(self, token: str | None) -> None:
        if token:
            self.store.drop_session(token_hash(token))

    def end_all_of(self, user_id: str, *, keep_token: str | None = None) -> int:
        """End every IdP session of the user, in every browser but the one holding `keep_token`."""
        kept = token_hash(keep_token) if keep_token else None
        keys = [key for key in self.store.sessions_of(user_id) if key != kept]
        for key in keys:
            self.store.drop_session(key)
        return len(keys)

    def of(self, user_id: str, *, current_token: str | None = None) -> list[OpenSession]:
        """The user's live sessions, the newest first; the one `current_token` names is marked."""
        current = token_hash(current_token) if current_token else None
        found = []
        for key in self.store.sessions_of(user_id):
            session = self._load_by_key(key)
            if session is not None and session.user_id == user_id:
                found.append(OpenSession(key, session, current=key == current))
        return sorted(found, key=lambda open_session: -open_session.session.authn_instant)

    def restart(self, signed_in: SignedIn, *, mfa: bool, now: float) -> SignedIn:
        """A fresh session (a new cookie) for the same browser, keeping the SPs it signed in to for single
        logout; the old one ends. After a step that changes what the session proves, or voids it."""
        fresh = self.start(signed_in.user, mfa=mfa, now=now, participants=signed_in.session.participants)
        self.end(signed_in.token)
        return fresh

    def holding(self, app_id: str, session_index: str) -> list[HeldSession]:
        """The live sessions that signed in to this app with this SessionIndex, with what was asserted
        there: a LogoutRequest is matched against them, since it may come without our cookie."""
        held = []
        for key in self.store.sessions_holding(sp_session_key(app_id, session_index)):
            session = self._load_by_key(key)
            for participant in session.participants if session else []:
                if session and participant.app_id == app_id and participant.session_index == session_index:
                    held.append(HeldSession(key, session, participant))
        return held

    def end_held(self, held: HeldSession) -> None:
        self.store.drop_session(held.key)
