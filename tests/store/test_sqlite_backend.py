"""What only the embedded backend has: a lock on its file that a write may wait for, but not for long."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from idp.errors import StoreUnavailable
from idp.store.sqlite import SqliteBackend


@contextlib.contextmanager
def write_lock_held(path: Path) -> Iterator[None]:
    """Another process's connection, holding the write lock until the block ends."""
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        yield
        holder.execute("ROLLBACK")
    finally:
        holder.close()


def test_a_write_to_a_file_locked_past_the_busy_timeout_raises_store_unavailable(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "idp.sqlite3"
    backend = SqliteBackend(path, busy_timeout=0.2)
    try:
        backend.put("thing", "k1", {"n": 1})

        with write_lock_held(path):
            started = time.monotonic()
            with pytest.raises(StoreUnavailable):
                backend.put("thing", "k1", {"n": 2})
            assert time.monotonic() - started < 2
            assert "database is locked" in caplog.text  # the operator learns what the caller does not
            assert backend.get("thing", "k1") == {"n": 1}  # WAL readers are not held up by a writer

        backend.put("thing", "k1", {"n": 3})
        assert backend.get("thing", "k1") == {"n": 3}
    finally:
        backend.close()
