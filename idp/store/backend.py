"""The few primitives a storage backend provides; `Store` builds everything else on them."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Document = dict[str, Any]
IndexValues = Mapping[str, Iterable[str]]


@dataclass(frozen=True)
class Write:
    """One document to create or replace as part of a `swap`, as `put` would. Its `unique` values must
    be free or its own already: a swap that would take one from another document writes nothing."""

    kind: str
    key: str
    doc: Document
    ttl: float | None = None
    index: Mapping[str, Sequence[str]] | None = None
    unique: Mapping[str, str] | None = None


def writes_of_one_kind(kind: str, writes: Sequence[Write]) -> None:
    """Refuse a swap that would write a kind other than its own (the same on every backend)."""
    strangers = sorted({write.kind for write in writes} - {kind})
    if strangers:
        raise ValueError(f"a swap of {kind!r} documents may write only {kind!r} documents, not {strangers[0]!r}")


class Backend(ABC):
    """Documents by (kind, key), with secondary indexes, unique values, TTLs and claims.

    Every method is atomic on its own, and safe to call from many processes and
    hosts at once: that is the contract the store test suite holds each backend to.
    A backend that cannot answer promptly (a timeout, a lost connection, a locked file)
    raises `idp.errors.StoreUnavailable`.
    """

    @abstractmethod
    def get(self, kind: str, key: str) -> Document | None:
        """The document, or None when absent or expired."""

    def get_many(self, kind: str, keys: Iterable[str]) -> list[Document]:
        """The documents that exist among `keys`, in the order given."""
        found = (self.get(kind, key) for key in keys)
        return [doc for doc in found if doc is not None]

    @abstractmethod
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
        """Create or replace a document and its index entries.

        Raises `idp.errors.Conflict` (naming the field) when a `unique` value is
        already held by another key of the same kind; then nothing is written.
        """

    @abstractmethod
    def swap(self, kind: str, key: str, expect: Mapping[str, Any], writes: Sequence[Write]) -> bool:
        """If the live document under (kind, key) has each field of `expect` at the value given (a
        string, number, boolean or None), make every write at once and return True; otherwise (or
        when a write's unique value is held by another key) write nothing and return False.

        Every write is of the swap's own `kind` (ValueError otherwise, see `writes_of_one_kind`): a
        kind is what a backend keeps together, so that Redis Cluster can hold it in one slot.

        All or nothing, so a state change (a refresh token becoming rotated) and what it brings
        (the new pair) exist together or not at all.  A swap that raises StoreUnavailable has
        not been applied and never will be: one the store had not started when the caller gave
        up does nothing when the store gets to it.  Only a store that applied a swap and then
        lost its answer (crashing or freezing in that instant) leaves the caller unsure, which
        no backend can rule out.
        """

    @abstractmethod
    def delete(self, kind: str, key: str) -> bool:
        """Remove a document and its index entries; True when it existed."""

    @abstractmethod
    def find(self, kind: str, index: str, value: str) -> list[str]:
        """Keys of the live documents whose `index` includes `value`."""

    @abstractmethod
    def find_unique(self, kind: str, name: str, value: str) -> str | None:
        """The key of the live document holding the unique `value` of `name`, if any."""

    @abstractmethod
    def claim_once(self, key: str, ttl: float) -> bool:
        """True for the first caller to claim `key` within `ttl` seconds, False for every later one."""

    @abstractmethod
    def record_event(self, key: str, at: float, window: float) -> None:
        """Note that an event of `key` happened at `at`; events older than `window` seconds may go."""

    @abstractmethod
    def events_since(self, key: str, since: float) -> list[float]:
        """When the events of `key` after `since` happened, oldest first."""

    @abstractmethod
    def clear_events(self, key: str) -> None:
        """Forget every event of `key`."""

    @abstractmethod
    def close(self) -> None:
        """Release connections."""
