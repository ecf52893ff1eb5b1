"""What only the embedded backend has: a file on disk that only its owner may read, and a lock it may wait for."""

from __future__ import annotations

import os
import sqlite3
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from idp.errors import StoreUnavailable
from idp.store.sqlite import SqliteBackend
from tests.support import wait_until, write_lock_held


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    """Nothing masked off, so the modes seen are the ones the backend asked for."""
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.mark.usefixtures("permissive_umask")
def test_a_new_database_gets_an_owner_only_folder_and_owner_only_files(tmp_path: Path) -> None:
    path = tmp_path / "var" / "idp.sqlite3"

    backend = SqliteBackend(path)
    try:
        backend.put("thing", "k1", {"secret": "hash"})

        assert mode(path.parent) == 0o700
        for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            assert name.exists(), name
            assert mode(name) == 0o600, name
    finally:
        backend.close()


@pytest.mark.usefixtures("permissive_umask")
def test_a_world_readable_database_from_before_is_made_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "idp.sqlite3"
    first = SqliteBackend(path)
    first.put("thing", "k1", {"secret": "hash"})
    files = [path, Path(f"{path}-wal"), Path(f"{path}-shm")]
    for name in files:
        name.chmod(0o644)

    second = SqliteBackend(path)
    try:
        assert [mode(name) for name in files] == [0o600] * 3
        assert second.get("thing", "k1") == {"secret": "hash"}
    finally:
        second.close()
        first.close()


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


def _in_database_file_alone(path: Path, scratch: Path, key: str) -> bool:
    """Whether the document is in the database file itself, not only in its -wal file: a copy of the
    file without its -wal shows only what a checkpoint has copied into it."""
    copy = scratch / "alone.sqlite3"
    copy.write_bytes(path.read_bytes())
    conn = sqlite3.connect(copy)
    try:
        return conn.execute("SELECT 1 FROM documents WHERE kind = 'thing' AND key = ?", (key,)).fetchone() is not None
    except sqlite3.DatabaseError:  # not yet a table in the file, or a copy torn by a checkpoint under way
        return False
    finally:
        conn.close()
        copy.unlink()


def _checkpointers() -> int:
    return sum(thread.name == "sqlite-checkpoint" for thread in threading.enumerate())


def test_a_commit_leaves_the_checkpoint_to_the_thread_that_makes_one_within_about_a_second(tmp_path: Path) -> None:
    path, scratch = tmp_path / "idp.sqlite3", tmp_path / "scratch"
    scratch.mkdir()
    backend = SqliteBackend(path)
    try:
        backend.put("thing", "k1", {"n": 1})
        committed = time.monotonic()

        assert not _in_database_file_alone(path, scratch, "k1")  # the commit did not wait for a checkpoint
        wait_until(lambda: _in_database_file_alone(path, scratch, "k1"), timeout=10, what="checkpoint")
        assert time.monotonic() - committed < 5
        assert backend.get("thing", "k1") == {"n": 1}
    finally:
        backend.close()


def test_close_ends_the_checkpointing_thread(tmp_path: Path) -> None:
    before = _checkpointers()
    backend = SqliteBackend(tmp_path / "idp.sqlite3")
    backend.put("thing", "k1", {"n": 1})
    assert _checkpointers() == before + 1

    backend.close()

    wait_until(lambda: _checkpointers() == before, timeout=10, what="the thread's end")


def test_an_in_memory_database_has_no_checkpointing_thread() -> None:
    before = _checkpointers()
    backend = SqliteBackend(":memory:")
    try:
        backend.put("thing", "k1", {"n": 1})
        assert _checkpointers() == before
    finally:
        backend.close()


def open_files() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_threads_that_come_and_go_leave_no_connection_open(tmp_path: Path) -> None:
    """A worker starts a short-lived thread for each key report; each opens a connection of its own,
    which must be closed once its thread has ended, not kept until the process exits."""
    backend = SqliteBackend(tmp_path / "idp.sqlite3")
    try:
        backend.put("k", "warm", {"n": 0})
        before = open_files()
        for n in range(30):
            thread = threading.Thread(target=backend.put, args=("k", f"key{n}", {"n": n}))
            thread.start()
            thread.join()
        backend.get("k", "key0")
        assert open_files() <= before + 3, "connections of ended threads are still open"
        assert backend.get("k", "key29") == {"n": 29}
    finally:
        backend.close()


def test_closing_while_another_thread_writes_does_not_pull_its_connection_away(tmp_path: Path) -> None:
    """close() (a test's teardown, a shutdown) while a background thread is in a statement: closing
    that thread's connection under it would crash the process; its writes go on and land."""
    for attempt in range(20):
        backend = SqliteBackend(tmp_path / f"idp{attempt}.sqlite3")
        started, stop = threading.Event(), threading.Event()
        written: list[int] = []

        def write(
            backend: SqliteBackend = backend,
            started: threading.Event = started,
            stop: threading.Event = stop,
            written: list[int] = written,
        ) -> None:
            n = 0
            while not stop.is_set():
                backend.put("k", f"key{n}", {"n": n})
                written.append(n)
                started.set()
                n += 1

        writer = threading.Thread(target=write)
        writer.start()
        assert started.wait(10)
        backend.close()
        stop.set()
        writer.join(10)
        assert not writer.is_alive() and written
        reopened = SqliteBackend(tmp_path / f"idp{attempt}.sqlite3")
        assert reopened.get("k", f"key{written[-1]}") == {"n": written[-1]}
        reopened.close()
