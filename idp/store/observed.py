"""A backend that reports each operation to an observer: its name, how long it took, what it raised.

The one place store latency and errors are measured, at the Backend seam, for every backend. The
observer is a plain function, so the store knows nothing of how it is reported.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, ParamSpec, TypeVar

from idp.store.backend import Backend, Document, IndexValues, Write

P = ParamSpec("P")
R = TypeVar("R")

# (operation, seconds, the exception it raised or None)
Observer = Callable[[str, float, BaseException | None], None]


class ObservedBackend(Backend):
    def __init__(self, inner: Backend, observe: Observer) -> None:
        self.inner = inner
        self._observe = observe

    def _timed(self, operation: str, call: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        started = time.perf_counter()
        try:
            result = call(*args, **kwargs)
        except BaseException as error:
            self._observe(operation, time.perf_counter() - started, error)
            raise
        self._observe(operation, time.perf_counter() - started, None)
        return result

    def get(self, kind: str, key: str) -> Document | None:
        return self._timed("get", self.inner.get, kind, key)

    def get_many(self, kind: str, keys: Iterable[str]) -> list[Document]:
        return self._timed("get_many", self.inner.get_many, kind, keys)

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
        self._timed("put", self.inner.put, kind, key, doc, ttl=ttl, index=index, unique=unique)

    def swap(self, kind: str, key: str, expect: Mapping[str, Any], writes: Sequence[Write]) -> bool:
        return self._timed("swap", self.inner.swap, kind, key, expect, writes)

    def delete(self, kind: str, key: str) -> bool:
        return self._timed("delete", self.inner.delete, kind, key)

    def find(self, kind: str, index: str, value: str) -> list[str]:
        return self._timed("find", self.inner.find, kind, index, value)

    def find_unique(self, kind: str, name: str, value: str) -> str | None:
        return self._timed("find_unique", self.inner.find_unique, kind, name, value)

    def claim_once(self, key: str, ttl: float) -> bool:
        return self._timed("claim_once", self.inner.claim_once, key, ttl)

    def record_event(self, key: str, at: float, window: float) -> None:
        self._timed("record_event", self.inner.record_event, key, at, window)

    def events_since(self, key: str, since: float) -> list[float]:
        return self._timed("events_since", self.inner.events_since, key, since)

    def clear_events(self, key: str) -> None:
        self._timed("clear_events", self.inner.clear_events, key)

    def close(self) -> None:
        self.inner.close()
