"""The shared backend: documents and indexes in Redis, so many workers and hosts see one state."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping

import redis

from idp.errors import Conflict
from idp.store.backend import Backend, Document, IndexValues

_SEP = "\x1f"  # separates the parts of an entry name; never appears in ids or emails


class RedisBackend(Backend):
    def __init__(self, url: str, prefix: str = "idp:") -> None:
        self._redis = redis.Redis.from_url(url, decode_responses=True)
        self._prefix = prefix

    def _key(self, *parts: str) -> str:
        return self._prefix + ":".join(parts)

    def _doc_key(self, kind: str, key: str) -> str:
        return self._key("d", kind, key)

    def _entries_key(self, kind: str, key: str) -> str:
        return self._key("e", kind, key)

    def _entry_target(self, kind: str, entry: str) -> tuple[str, str]:
        """An entry is 'i|name|value' (a set member) or 'u|name|value' (a unique claim)."""
        tag, name, value = entry.split(_SEP, 2)
        return tag, self._key(tag, kind, name, value)

    def get(self, kind: str, key: str) -> Document | None:
        body = self._redis.get(self._doc_key(kind, key))
        return json.loads(body) if body is not None else None

    def get_many(self, kind: str, keys: Iterable[str]) -> list[Document]:
        keys = list(keys)
        if not keys:
            return []
        bodies = self._redis.mget([self._doc_key(kind, key) for key in keys])
        return [json.loads(body) for body in bodies if body is not None]

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
        ttl_ms = int(ttl * 1000) if ttl is not None else None
        unique = dict(unique or {})
        entries = [_SEP.join(("u", name, value)) for name, value in unique.items()]
        entries += [_SEP.join(("i", name, value)) for name, values in (index or {}).items() for value in values]
        entries_key = self._entries_key(kind, key)
        unique_keys = {name: self._key("u", kind, name, value) for name, value in unique.items()}
        with self._redis.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(entries_key, *unique_keys.values())
                    for name, unique_key in unique_keys.items():
                        holder = pipe.get(unique_key)
                        if holder not in (None, key) and pipe.exists(self._doc_key(kind, holder)):
                            raise Conflict(f"{name} is already taken", field=name)
                    old_entries = pipe.smembers(entries_key)
                    pipe.multi()
                    self._unlink_entries(pipe, kind, key, old_entries)
                    pipe.set(self._doc_key(kind, key), json.dumps(doc, separators=(",", ":")), px=ttl_ms)
                    for entry in entries:
                        tag, target = self._entry_target(kind, entry)
                        if tag == "u":
                            pipe.set(target, key, px=ttl_ms)
                        else:
                            pipe.sadd(target, key)
                    if entries:
                        pipe.sadd(entries_key, *entries)
                        if ttl_ms is not None:
                            pipe.pexpire(entries_key, ttl_ms)
                    pipe.execute()
                    return
                except redis.WatchError:
                    continue

    def _unlink_entries(self, pipe, kind: str, key: str, entries: Iterable[str]) -> None:
        for entry in entries:
            tag, target = self._entry_target(kind, entry)
            if tag == "u":
                pipe.delete(target)
            else:
                pipe.srem(target, key)
        pipe.delete(self._entries_key(kind, key))

    def delete(self, kind: str, key: str) -> bool:
        entries_key = self._entries_key(kind, key)
        with self._redis.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(entries_key)
                    old_entries = pipe.smembers(entries_key)
                    pipe.multi()
                    self._unlink_entries(pipe, kind, key, old_entries)
                    pipe.delete(self._doc_key(kind, key))
                    return bool(pipe.execute()[-1])
                except redis.WatchError:
                    continue

    def find(self, kind: str, index: str, value: str) -> list[str]:
        keys = sorted(self._redis.smembers(self._key("i", kind, index, value)))
        if not keys:
            return []
        alive = self._redis.mget([self._doc_key(kind, key) for key in keys])
        return [key for key, body in zip(keys, alive, strict=True) if body is not None]

    def find_unique(self, kind: str, name: str, value: str) -> str | None:
        holder = self._redis.get(self._key("u", kind, name, value))
        return holder if holder is not None and self._redis.exists(self._doc_key(kind, holder)) else None

    def claim_once(self, key: str, ttl: float) -> bool:
        return bool(self._redis.set(self._key("c", key), "1", nx=True, px=max(1, int(ttl * 1000))))

    def close(self) -> None:
        self._redis.close()
