"""The embedded backend: one SQLite file in WAL mode, shared safely by every worker on a host.

The file holds token hashes, sessions and sealed secrets, so only its owner may read it: its
folder is created 0700, and the file (and the -wal and -shm files SQLite gives the same mode) 0600.
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from idp.errors import Conflict
from idp.store.backend import Backend, Document, IndexValues, Write, writes_of_one_kind
from idp.store.outage import outages_as_unavailable

_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    kind TEXT NOT NULL, key TEXT NOT NULL, body TEXT NOT NULL, expires_at REAL,
    PRIMARY KEY (kind, key)
);
CREATE TABLE IF NOT EXISTS entries (
    kind TEXT NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL, key TEXT NOT NULL,
    PRIMARY KEY (kind, name, value, key)
);
CREATE INDEX IF NOT EXISTS entries_by_key ON entries (kind, key);
CREATE TABLE IF NOT EXISTS uniques (
    kind TEXT NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL, key TEXT NOT NULL,
    PRIMARY KEY (kind, name, value)
);
CREATE INDEX IF NOT EXISTS uniques_by_key ON uniques (kind, key);
CREATE TABLE IF NOT EXISTS claims (key TEXT PRIMARY KEY, expires_at REAL NOT NULL);
-- What the sweep of expired rows looks up: without them, each sweep reads every document and claim.
CREATE INDEX IF NOT EXISTS documents_by_expiry ON documents (expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS claims_by_expiry ON claims (expires_at);
CREATE TABLE IF NOT EXISTS events (key TEXT NOT NULL, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS events_by_key ON events (key, at);
"""


# Contention (busy, locked) and a failing disk (I/O error, full): the store cannot answer now.
_OUTAGE_CODES = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL})


def _is_outage(error: Exception) -> bool:
    # Extended result codes (SQLITE_BUSY_SNAPSHOT, SQLITE_IOERR_WRITE, ...) keep the primary code in the low byte.
    return isinstance(error, sqlite3.OperationalError) and (error.sqlite_errorcode & 0xFF) in _OUTAGE_CODES


_guarded = outages_as_unavailable(_is_outage)

# A commit in WAL mode appends the pages it changed to the -wal file; a checkpoint copies them back
# into the database file and waits for the disk (fsync) twice. SQLite's own checkpoint runs inside
# the commit that crosses its threshold (1,000 pages, about every hundred launches), so that request
# waited for the disk, and every version of a page written since the last one was copied. Here a
# thread of each process checkpoints instead, once a second: no request waits for the disk, a page
# written many times in that second is copied once, and the -wal file is on disk (synchronous=NORMAL
# writes it there at a checkpoint) at most about a second after a commit. SQLite's own stays as a net,
# at a threshold only reached if the thread could not keep up.
CHECKPOINT_INTERVAL = 1.0
_AUTOCHECKPOINT_PAGES = 10_000

_OWNER_ONLY_FOLDER = 0o700
_OWNER_ONLY_FILE = 0o600


def _prepare_private_file(path: Path) -> None:
    """Create the database's folder and file readable by their owner alone, and tighten older files."""
    if not path.parent.exists():
        path.parent.mkdir(mode=_OWNER_ONLY_FOLDER, parents=True, exist_ok=True)
    # Created here, before SQLite does, so it is never world-readable; the -wal and -shm files
    # SQLite creates later copy its mode.
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, _OWNER_ONLY_FILE))
    for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        if name.exists():
            name.chmod(_OWNER_ONLY_FILE)


class SqliteBackend(Backend):
    def __init__(self, path: Path | str, *, busy_timeout: float = 5.0) -> None:
        self._path = str(path)
        self._busy_timeout = busy_timeout
        if self._path != ":memory:":
            _prepare_private_file(Path(self._path))
        self._local = threading.local()
        self._opened: list[tuple[int, threading.Thread, sqlite3.Connection]] = []
        self._opened_lock = threading.Lock()
        self._checkpointer: tuple[int, threading.Event] | None = None  # (pid, the event that stops it)
        self._connection().executescript(_SCHEMA)

    def _connection(self) -> sqlite3.Connection:
        # One connection per thread and per process: a forked gunicorn worker
        # must never reuse its parent's handle.
        conn = getattr(self._local, "conn", None)
        if conn is None or self._local.pid != os.getpid():
            # Each connection stays on its thread; check_same_thread is off only so close() can end those
            # of threads that have finished.
            conn = sqlite3.connect(
                self._path, timeout=self._busy_timeout, isolation_level=None, check_same_thread=False
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(f"PRAGMA busy_timeout={round(self._busy_timeout * 1000)}")
            if self._path != ":memory:":
                conn.execute(f"PRAGMA wal_autocheckpoint={_AUTOCHECKPOINT_PAGES}")
            self._local.conn, self._local.pid = conn, os.getpid()
            with self._opened_lock:
                self._opened = [*self._still_used(), (os.getpid(), threading.current_thread(), conn)]
                if self._path != ":memory:" and (self._checkpointer is None or self._checkpointer[0] != os.getpid()):
                    self._checkpointer = (os.getpid(), self._start_checkpointer())
        return conn

    def _still_used(self) -> list[tuple[int, threading.Thread, sqlite3.Connection]]:
        """The opened connections whose thread still runs; those of threads that ended are closed here, so
        short-lived threads (one per key report) never pile up open files. Called under `_opened_lock`."""
        kept = []
        for pid, thread, conn in self._opened:
            if pid == os.getpid() and not thread.is_alive():
                conn.close()
            else:
                kept.append((pid, thread, conn))
        return kept

    def _start_checkpointer(self) -> threading.Event:
        """The thread that checkpoints this process's writes (see CHECKPOINT_INTERVAL); it ends with
        close(), or once the backend is gone. It holds no connection between two checkpoints."""
        stop, backend = threading.Event(), weakref.ref(self)
        path, busy_ms = self._path, round(self._busy_timeout * 1000)

        def checkpoint_now_and_then() -> None:
            while not stop.wait(CHECKPOINT_INTERVAL) and backend() is not None:
                try:
                    conn = sqlite3.connect(path, timeout=0, isolation_level=None)
                    try:
                        conn.execute(f"PRAGMA busy_timeout={busy_ms}")
                        # PASSIVE: copies what no reader still needs, and never blocks a writer or a reader.
                        conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    finally:
                        conn.close()
                except sqlite3.Error:
                    pass  # the file busy or failing: the next turn (or SQLite's own checkpoint) catches up

        threading.Thread(target=checkpoint_now_and_then, name="sqlite-checkpoint", daemon=True).start()
        return stop

    class _Tx:
        def __init__(self, conn: sqlite3.Connection) -> None:
            self.conn = conn

        def __enter__(self) -> sqlite3.Connection:
            self.conn.execute("BEGIN IMMEDIATE")
            return self.conn

        def __exit__(
            self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
        ) -> None:
            if not exc_type:
                self.conn.execute("COMMIT")
            elif self.conn.in_transaction:
                # SQLite may have rolled back by itself (a full disk, an I/O error): then there is nothing to undo.
                self.conn.execute("ROLLBACK")

    def _transaction(self) -> _Tx:
        return self._Tx(self._connection())

    @_guarded
    def get(self, kind: str, key: str) -> Document | None:
        row = (
            self._connection()
            .execute(
                "SELECT body FROM documents WHERE kind = ? AND key = ? AND (expires_at IS NULL OR expires_at > ?)",
                (kind, key, time.time()),
            )
            .fetchone()
        )
        return json.loads(row[0]) if row else None

    @_guarded
    def get_many(self, kind: str, keys: Iterable[str]) -> list[Document]:
        keys = list(keys)
        if not keys:
            return []
        marks = ",".join("?" * len(keys))
        rows = (
            self._connection()
            .execute(
                f"SELECT key, body FROM documents WHERE kind = ? AND key IN ({marks})"  # noqa: S608 - placeholders only
                " AND (expires_at IS NULL OR expires_at > ?)",
                (kind, *keys, time.time()),
            )
            .fetchall()
        )
        bodies = dict(rows)
        return [json.loads(bodies[key]) for key in keys if key in bodies]

    @_guarded
    def put(
        self,
        kind: str,
        key: str,
        doc: Document,
        *,
        ttl: float | None = None,
        index: IndexValues | None = None,
        unique: Mapping[str, str] | None = None,
    ) -> None:
        now = time.time()
        with self._transaction() as db:
            for name, value in (unique or {}).items():
                holder = self.find_unique(kind, name, value)
                if holder not in (None, key):
                    raise Conflict(f"{name} is already taken", field=name)
            self._write(db, kind, key, doc, now=now, ttl=ttl, index=index, unique=unique)

    @_guarded
    def swap(self, kind: str, key: str, expect: Mapping[str, Any], writes: Sequence[Write]) -> bool:
        writes_of_one_kind(kind, writes)
        now = time.time()
        with self._transaction() as db:
            current = self.get(kind, key)
            if current is None or any(current.get(field) != value for field, value in expect.items()):
                return False
            for write in writes:
                for name, value in (write.unique or {}).items():
                    holder = db.execute(
                        "SELECT key FROM uniques WHERE kind = ? AND name = ? AND value = ?", (write.kind, name, value)
                    ).fetchone()
                    if holder is not None and holder[0] != write.key:
                        return False
            for write in writes:
                self._write(
                    db, write.kind, write.key, write.doc, now=now, ttl=write.ttl, index=write.index, unique=write.unique
                )
            return True

    def _write(
        self,
        db: sqlite3.Connection,
        kind: str,
        key: str,
        doc: Document,
        *,
        now: float,
        ttl: float | None,
        index: IndexValues | None,
        unique: Mapping[str, str] | None = None,
    ) -> None:
        """Replace one document and its entries, inside the caller's transaction."""
        body, expires_at = json.dumps(doc, separators=(",", ":")), now + ttl if ttl is not None else None
        # A key's entries and uniques live only as long as its document row (delete and the sweep drop
        # them together), so a document that is new has none to drop: most writes (audit events,
        # sessions, grants) are new, and skip two statements.
        new = db.execute(
            "INSERT INTO documents (kind, key, body, expires_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (kind, key) DO NOTHING",
            (kind, key, body, expires_at),
        )
        if new.rowcount == 0:
            self._drop_entries(db, kind, key)
            db.execute(
                "UPDATE documents SET body = ?, expires_at = ? WHERE kind = ? AND key = ?",
                (body, expires_at, kind, key),
            )
        uniques = [(kind, name, value, key) for name, value in (unique or {}).items()]
        if uniques:
            db.executemany("INSERT OR REPLACE INTO uniques (kind, name, value, key) VALUES (?, ?, ?, ?)", uniques)
        entries = [(kind, name, value, key) for name, values in (index or {}).items() for value in values]
        if entries:
            db.executemany("INSERT OR IGNORE INTO entries (kind, name, value, key) VALUES (?, ?, ?, ?)", entries)
        if ttl is not None:
            self._sweep_now_and_then(db, now)

    @staticmethod
    def _drop_entries(db: sqlite3.Connection, kind: str, key: str) -> None:
        db.execute("DELETE FROM entries WHERE kind = ? AND key = ?", (kind, key))
        db.execute("DELETE FROM uniques WHERE kind = ? AND key = ?", (kind, key))

    @_guarded
    def delete(self, kind: str, key: str) -> bool:
        with self._transaction() as db:
            self._drop_entries(db, kind, key)
            gone = db.execute(
                "DELETE FROM documents WHERE kind = ? AND key = ? RETURNING expires_at", (kind, key)
            ).fetchone()
        return gone is not None and (gone[0] is None or gone[0] > time.time())

    @_guarded
    def find(self, kind: str, index: str, value: str) -> list[str]:
        rows = (
            self._connection()
            .execute(
                "SELECT e.key FROM entries e JOIN documents d ON d.kind = e.kind AND d.key = e.key"
                " WHERE e.kind = ? AND e.name = ? AND e.value = ? AND (d.expires_at IS NULL OR d.expires_at > ?)"
                " ORDER BY e.key",
                (kind, index, value, time.time()),
            )
            .fetchall()
        )
        return [row[0] for row in rows]

    @_guarded
    def find_unique(self, kind: str, name: str, value: str) -> str | None:
        row = (
            self._connection()
            .execute(
                "SELECT u.key FROM uniques u JOIN documents d ON d.kind = u.kind AND d.key = u.key"
                " WHERE u.kind = ? AND u.name = ? AND u.value = ? AND (d.expires_at IS NULL OR d.expires_at > ?)",
                (kind, name, value, time.time()),
            )
            .fetchone()
        )
        return row[0] if row else None

    @_guarded
    def claim_once(self, key: str, ttl: float) -> bool:
        now = time.time()
        claim = (
            "INSERT INTO claims (key, expires_at) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at WHERE claims.expires_at <= ?"
        )
        if not self._sweep_due():
            # One statement: SQLite makes it a transaction of its own, with no BEGIN and COMMIT sent around it.
            return self._connection().execute(claim, (key, now + ttl, now)).rowcount == 1
        with self._transaction() as db:
            cursor = db.execute(claim, (key, now + ttl, now))
            self._sweep(db, now)
            return cursor.rowcount == 1

    @_guarded
    def record_event(self, key: str, at: float, window: float) -> None:
        with self._transaction() as db:
            db.execute("INSERT INTO events (key, at) VALUES (?, ?)", (key, at))
            db.execute("DELETE FROM events WHERE key = ? AND at < ?", (key, at - window))

    @_guarded
    def events_since(self, key: str, since: float) -> list[float]:
        rows = (
            self._connection()
            .execute("SELECT at FROM events WHERE key = ? AND at > ? ORDER BY at", (key, since))
            .fetchall()
        )
        return [row[0] for row in rows]

    @_guarded
    def clear_events(self, key: str) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM events WHERE key = ?", (key,))

    @staticmethod
    def _sweep_now_and_then(db: sqlite3.Connection, now: float) -> None:
        """Drop expired rows on about one write in a hundred, so short-lived state does not pile up."""
        if SqliteBackend._sweep_due():
            SqliteBackend._sweep(db, now)

    @staticmethod
    def _sweep_due() -> bool:
        return random.random() < 0.01  # noqa: S311 - not a secret, just a sampling rate

    @staticmethod
    def _sweep(db: sqlite3.Connection, now: float) -> None:
        db.execute("DELETE FROM claims WHERE expires_at <= ?", (now,))
        expired = db.execute(
            "SELECT kind, key FROM documents WHERE expires_at IS NOT NULL AND expires_at <= ?", (now,)
        ).fetchall()
        for kind, key in expired:
            db.execute("DELETE FROM entries WHERE kind = ? AND key = ?", (kind, key))
            db.execute("DELETE FROM uniques WHERE kind = ? AND key = ?", (kind, key))
        db.execute("DELETE FROM documents WHERE expires_at IS NOT NULL AND expires_at <= ?", (now,))

    def close(self) -> None:
        """Close the connections this process opened: this thread's, and those of threads that have ended.

        A connection another live thread holds (a worker's key report, say) is left to that thread:
        closing a connection while another thread runs a statement on it crashes the process. It is
        closed when the thread ends and its thread-local goes.
        """
        with self._opened_lock:
            opened, self._opened = self._opened, []
            if self._checkpointer is not None and self._checkpointer[0] == os.getpid():
                self._checkpointer[1].set()
            self._checkpointer = None
        for pid, thread, conn in opened:
            # A connection inherited through fork belongs to the parent: leave it alone.
            if pid == os.getpid() and (thread is threading.current_thread() or not thread.is_alive()):
                conn.close()
        self._local = threading.local()
