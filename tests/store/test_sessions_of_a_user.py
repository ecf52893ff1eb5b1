"""A user's IdP sessions found through the store's per-user index, on every backend: what the account
page lists, and what "sign out the other sessions" ends."""

from __future__ import annotations

import time

from idp.accounts.secrets import token_hash
from idp.accounts.sessions import Sessions
from idp.store import Store
from tests.support import Factory, wait_until


def test_a_users_sessions_are_listed_newest_first_with_the_asking_one_marked(store: Store, make: Factory):
    sessions = Sessions(store, ttl=3600)
    ann, bob = make.user(), make.user()
    now = time.time()
    older = sessions.start(ann, mfa=False, now=now - 60)
    newer = sessions.start(ann, mfa=True, now=now)
    sessions.start(bob, mfa=False, now=now)
    listed = sessions.of(ann.id, current_token=older.token)
    assert [entry.key for entry in listed] == [token_hash(newer.token), token_hash(older.token)]
    assert [(entry.session.mfa, entry.current) for entry in listed] == [(True, False), (False, True)]


def test_ending_the_others_keeps_the_asking_session_and_touches_no_other_user(store: Store, make: Factory):
    sessions = Sessions(store, ttl=3600)
    ann, bob = make.user(), make.user()
    now = time.time()
    mine = sessions.start(ann, mfa=False, now=now)
    others = [sessions.start(ann, mfa=False, now=now) for _ in range(3)]
    bobs = sessions.start(bob, mfa=False, now=now)
    assert sessions.end_all_of(ann.id, keep_token=mine.token) == 3
    assert [entry.key for entry in sessions.of(ann.id)] == [token_hash(mine.token)]
    assert all(sessions.load(other.token) is None for other in others)
    assert sessions.load(bobs.token) is not None


def test_an_expired_session_is_not_listed(store: Store, make: Factory):
    sessions = Sessions(store, ttl=1)
    ann = make.user()
    sessions.start(ann, mfa=False, now=time.time())
    assert len(sessions.of(ann.id)) == 1
    wait_until(lambda: sessions.of(ann.id) == [], timeout=5, what="the session to expire")
