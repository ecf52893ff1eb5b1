"""ObservedBackend tells its observer of every operation: its name, its time, what it raised."""

from __future__ import annotations

from pathlib import Path

import pytest

from idp.errors import Conflict, StoreUnavailable
from idp.store.observed import ObservedBackend
from idp.store.sqlite import SqliteBackend
from tests.support import write_lock_held


def test_each_operation_is_reported_with_its_time_and_error(tmp_path: Path):
    calls: list[tuple[str, float, BaseException | None]] = []
    backend = ObservedBackend(
        SqliteBackend(tmp_path / "db.sqlite3", busy_timeout=0.1), lambda *call: calls.append(call)
    )
    try:
        backend.put("user", "u1", {"email": "a@example.com"}, unique={"email": "a@example.com"})
        assert backend.claim_once("nonce", 60) is True
        assert backend.get("user", "u1") == {"email": "a@example.com"}
        with pytest.raises(Conflict):
            backend.put("user", "u2", {"email": "a@example.com"}, unique={"email": "a@example.com"})
        with write_lock_held(tmp_path / "db.sqlite3"), pytest.raises(StoreUnavailable):
            backend.claim_once("other", 60)
    finally:
        backend.close()
    assert [(name, type(error).__name__ if error else None) for name, _, error in calls] == [
        ("put", None),
        ("claim_once", None),
        ("get", None),
        ("put", "Conflict"),
        ("claim_once", "StoreUnavailable"),
    ]
    assert all(0 <= seconds < 5 for _, seconds, _ in calls)
    assert calls[-1][1] >= 0.05  # the busy timeout was waited out, and measured
