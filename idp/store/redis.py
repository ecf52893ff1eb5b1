"""The shared backend: documents and indexes in Redis, so many workers and hosts see one state.

Layout, under a prefix: `d:KIND:KEY` the document (JSON, with PX for a ttl); `i:KIND:NAME:VALUE` a
sorted set of keys scored by their expiry (inf for none), so expired members are never found and
are pruned on the next write; `u:KIND:NAME:VALUE` the key holding a unique value; `e:KIND:KEY` the
set of index and unique entries a document holds, so a rewrite or delete can remove them;
`c:KEY` a claim; `t:KEY` the events of a sliding window.
Writes run under WATCH/MULTI, and retry when another client touched the same keys; `swap` is one
Lua script (see redis_swap.py).

On Redis Cluster a transaction or script may only touch keys of one slot.  Every write of a document
touches its kind's index and unique entries, which other documents of the kind share, so a kind is
the unit kept together: its keys start with the hash tag `{PREFIXKIND}` (`{idp:user}:d:KEY`,
`{idp:user}:u:email:VALUE`), one slot per kind, and the kinds spread over the masters.  Claims and
event windows touch one key each and keep their own names, so they spread over every slot.  A
single server and a Sentinel master keep the plain layout above.

Replication is asynchronous: a master that fails can take with it writes it had acknowledged.  For a
claim (and a swap, which rotates refresh tokens) that would make a used value usable again on the
promoted replica, so with `claim_replicas` set each is followed, on the same connection, by
`WAIT claim_replicas timeout`, and one no replica acknowledged in time is answered StoreUnavailable
instead of granted.

A request must never wait long on Redis: commands time out after a fraction of a second and are
never retried by the client library (a write retried after a lost answer could land twice), and any
outage is raised as StoreUnavailable.  A restarted server is picked up by itself: the pool replaces
a connection the server closed when it next hands it out, and one that timed out is dropped.

The client decodes responses, so every value read back is a str; redis-py types them as
`bytes | str`, hence the casts.
"""

from __future__ import annotations

import json
import logging
import math
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar, cast

import redis
from redis.backoff import NoBackoff
from redis.client import Pipeline
from redis.cluster import ClusterNode, RedisCluster
from redis.retry import Retry
from redis.sentinel import Sentinel

from idp.config import RedisAddress, parse_redis_url
from idp.errors import Conflict, StoreUnavailable
from idp.store.backend import Backend, Document, IndexValues, Write, writes_of_one_kind
from idp.store.outage import outages_as_unavailable
from idp.store.redis_swap import SWAP_SCRIPT, SWAPPED, TOO_LATE, StagedWrite, swap_argument

log = logging.getLogger(__name__)

_SEP = "\x1f"  # separates the parts of an entry name; never appears in ids or emails


R = TypeVar("R")

# A server that is down, restarting, frozen, out of memory, or a replica after a failover.  Wrong
# credentials (AuthenticationError) are left out on purpose: that is a configuration error to be loud about.
_OUTAGES = (
    redis.exceptions.TimeoutError,
    redis.exceptions.ReadOnlyError,
    redis.exceptions.ClusterDownError,  # and MasterDownError: a replica that lost its primary
    redis.exceptions.OutOfMemoryError,
)


def _is_outage(error: BaseException | None) -> bool:
    if isinstance(error, redis.exceptions.MovedError | redis.exceptions.AskError):
        # A cluster slot that moved (a failover, a resharding) under a node's own connection: not run there.
        return True
    if isinstance(error, redis.exceptions.WatchError):
        # redis-py turns a connection lost while WATCHing into a WatchError: the cause tells it from a conflict.
        return _is_outage(error.__context__)
    if isinstance(error, redis.exceptions.ConnectionError):
        return not isinstance(error, redis.exceptions.AuthenticationError | redis.exceptions.AuthorizationError)
    if isinstance(error, _OUTAGES):
        return True
    # A script running past its time limit answers BUSY to everyone else; a master short of the replicas
    # its min-replicas-to-write asks for refuses every write, before making it, with NOREPLICAS.
    return isinstance(error, redis.exceptions.ResponseError) and _server_reply(error).startswith(("BUSY", "NOREPLICAS"))


def _server_reply(error: redis.exceptions.ResponseError) -> str:
    """The server's own error reply, without the note redis-py puts before one a pipeline met."""
    message = str(error)
    if message.startswith("Command # "):
        return message.partition(" of pipeline caused error: ")[2]
    return message


_guarded = outages_as_unavailable(_is_outage)


def _watch(pipe: Pipeline, *names: str) -> None:
    # redis-py leaves Pipeline.watch unannotated.
    cast(Callable[..., object], pipe.watch)(*names)


def _ttl_ms(ttl: float) -> int:
    return max(1, math.ceil(ttl * 1000))


Client = redis.Redis | RedisCluster


def _connect(address: RedisAddress, socket_timeout: float, connect_timeout: float) -> tuple[Client, list[redis.Redis]]:
    """A client of the master(s) `address` names, every command bound by the timeouts, and the clients
    of the Sentinels it asks (to close with it)."""
    timeouts = {"socket_timeout": socket_timeout, "socket_connect_timeout": connect_timeout}
    # Never retried by the library: a write retried after a lost answer could land twice.
    options: dict[str, Any] = {"decode_responses": True, "retry": Retry(NoBackoff(), 0), **timeouts}
    if address.mode == "single":
        return redis.Redis.from_url(address.url, **options), []
    options |= {"username": address.username, "password": address.password}
    if address.mode == "sentinel":
        sentinels = cast(Callable[..., Sentinel], Sentinel)(
            list(address.nodes), sentinel_kwargs={**timeouts, "password": address.sentinel_password}
        )
        # Each new connection asks the Sentinels where the master is; after a failover, the old
        # master's ReadOnlyError drops the connection, so the next one goes to the new master.
        master_for = cast(Callable[..., redis.Redis], sentinels.master_for)
        return master_for(address.master_set, db=address.db, **options), list(sentinels.sentinels)
    node = cast(Callable[[str, int], ClusterNode], ClusterNode)
    try:
        # Unlike the others, a cluster client asks a node for the slot map as it is made.
        cluster = RedisCluster(startup_nodes=[node(host, port) for host, port in address.nodes], **options)
    except redis.exceptions.RedisClusterException as error:
        raise redis.exceptions.ConnectionError(str(error)) from error
    return cluster, []


class RedisBackend(Backend):
    def __init__(
        self,
        url: str,
        prefix: str = "idp:",
        *,
        socket_timeout: float = 0.5,
        connect_timeout: float = 0.5,
        claim_replicas: int = 0,
    ) -> None:
        address = parse_redis_url(url)
        self._address = address
        self._timeouts = (socket_timeout, connect_timeout)
        self._client: Client | None = None
        self._sentinels: list[redis.Redis] = []
        self._connecting = threading.Lock()
        # Set when a node's own connection met a moved slot or a lost node: the slot map is read again.
        self._stale_slot_map = False
        self._cluster = address.mode == "cluster"
        self._prefix = prefix
        # Half the socket timeout: a swap the client stopped waiting for has missed its deadline by then.
        self._swap_budget_us = math.floor(socket_timeout * 1_000_000 / 2)
        self._claim_replicas = claim_replicas
        # WAIT gives up after half the socket timeout, so its answer arrives before the client stops listening.
        self._wait_ms = max(1, math.floor(socket_timeout * 1000 / 2))

    @property
    def _redis(self) -> Client:
        """The client, made on first use: a cluster down when the service starts costs 503s, not a crash."""
        if self._client is None:
            with self._connecting:
                if self._client is None:
                    client, self._sentinels = _connect(self._address, *self._timeouts)
                    self._swap = client.register_script(SWAP_SCRIPT)
                    self._client = client
        return self._client

    def _key(self, *parts: str) -> str:
        """A key of its own slot: a claim, an event window."""
        return self._prefix + ":".join(parts)

    def _kind_key(self, tag: str, kind: str, *rest: str) -> str:
        """A key of a kind's documents and entries, all in the kind's one slot on a cluster."""
        if self._cluster:
            return "{" + self._prefix + kind + "}:" + ":".join((tag, *rest))
        return self._key(tag, kind, *rest)

    def _doc_key(self, kind: str, key: str) -> str:
        return self._kind_key("d", kind, key)

    def _entries_key(self, kind: str, key: str) -> str:
        return self._kind_key("e", kind, key)

    def _entry_target(self, kind: str, entry: str) -> tuple[str, str]:
        """An entry is 'i|name|value' (an index member) or 'u|name|value' (a unique claim)."""
        tag, name, value = entry.split(_SEP, 2)
        return tag, self._kind_key(tag, kind, name, value)

    def _master_of(self, key: str) -> redis.Redis:
        """A client of the one server that holds `key`, for what must run there on one connection."""
        client = self._redis
        if isinstance(client, RedisCluster):
            if self._stale_slot_map:
                self._stale_slot_map = False
                client.nodes_manager.initialize()
            node = cast(Callable[[str], ClusterNode], client.get_node_from_key)(key)
            return client.get_redis_connection(node)
        return client

    def _then_wait(self, key: str, queue: Callable[[Pipeline], object]) -> tuple[Any, int]:
        """Run what `queue` puts in a pipeline on the master of `key`, then WAIT for the replicas on the
        same connection (WAIT counts the acknowledgements of that connection's own writes).

        The answer of the queued command and how many replicas acknowledged it."""
        master = self._master_of(key)
        try:
            with master.pipeline(transaction=False) as pipe:
                queue(pipe)
                cast(Callable[..., object], pipe.execute_command)("WAIT", self._claim_replicas, self._wait_ms)
                answer, replicas = pipe.execute(raise_on_error=False)
        except redis.exceptions.ConnectionError:
            self._stale_slot_map = self._cluster  # the node may be gone, its slots served by another
            raise
        if isinstance(answer, redis.exceptions.MovedError | redis.exceptions.AskError):
            self._stale_slot_map = True
        if isinstance(answer, Exception):
            raise answer
        if isinstance(replicas, Exception):
            raise replicas
        return answer, int(replicas)

    def _unacknowledged(self, what: str, replicas: int) -> StoreUnavailable:
        log.warning(
            "store unavailable: %s acknowledged by %d of the %d replicas it needs (IDP_REDIS_CLAIM_REPLICAS)",
            what,
            replicas,
            self._claim_replicas,
        )
        return StoreUnavailable()

    @_guarded
    def get(self, kind: str, key: str) -> Document | None:
        body = self._redis.get(self._doc_key(kind, key))
        return json.loads(body) if body is not None else None

    @_guarded
    def get_many(self, kind: str, keys: Iterable[str]) -> list[Document]:
        keys = list(keys)
        if not keys:
            return []
        bodies = self._redis.mget([self._doc_key(kind, key) for key in keys])
        return [json.loads(body) for body in bodies if body is not None]

    def _watch_old_entries(self, pipe: Pipeline, kind: str, key: str) -> tuple[list[str], list[str]]:
        """The index sets this document is in, and the unique keys it still holds (watched)."""
        members = cast(set[str], pipe.smembers(self._entries_key(kind, key)))
        old = [self._entry_target(kind, entry) for entry in members]
        uniques = [target for tag, target in old if tag == "u"]
        if uniques:
            _watch(pipe, *uniques)
        held = [target for target in uniques if pipe.get(target) == key]
        return [target for tag, target in old if tag == "i"], held

    def _unlink(self, pipe: Pipeline, kind: str, key: str, index_keys: list[str], held_uniques: list[str]) -> None:
        for target in index_keys:
            pipe.zrem(target, key)
        for target in held_uniques:
            pipe.delete(target)
        pipe.delete(self._entries_key(kind, key))

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
        ttl_ms = _ttl_ms(ttl) if ttl is not None else None
        expires_at = now + ttl if ttl is not None else math.inf
        unique = dict(unique or {})
        index_values = [(name, value) for name, values in (index or {}).items() for value in values]
        entries = [_SEP.join(("u", n, v)) for n, v in unique.items()] + [
            _SEP.join(("i", n, v)) for n, v in index_values
        ]
        entries_key = self._entries_key(kind, key)
        unique_keys = {name: self._kind_key("u", kind, name, value) for name, value in unique.items()}
        index_keys = sorted({self._kind_key("i", kind, name, value) for name, value in index_values})

        def attempt(pipe: Pipeline) -> None:
            _watch(pipe, entries_key, *unique_keys.values(), *index_keys)
            for name, unique_key in unique_keys.items():
                holder = cast(str | None, pipe.get(unique_key))
                if holder not in (None, key) and pipe.exists(self._doc_key(kind, holder)):
                    raise Conflict(f"{name} is already taken", field=name)
            old_index, held_uniques = self._watch_old_entries(pipe, kind, key)
            horizons = {target: self._latest_expiry(pipe, target) for target in index_keys}
            pipe.multi()
            self._unlink(pipe, kind, key, old_index, held_uniques)
            pipe.set(self._doc_key(kind, key), json.dumps(doc, separators=(",", ":")), px=ttl_ms)
            for unique_key in unique_keys.values():
                pipe.set(unique_key, key, px=ttl_ms)
            for target in index_keys:
                pipe.zadd(target, {key: expires_at})
                pipe.zremrangebyscore(target, "-inf", now)
                horizon = max(horizons[target], expires_at)
                # An index set lives as long as its longest-lived member.
                if math.isinf(horizon):
                    pipe.persist(target)
                else:
                    pipe.pexpireat(target, math.ceil(horizon * 1000))
            if entries:
                pipe.sadd(entries_key, *entries)
                if ttl_ms is not None:
                    pipe.pexpire(entries_key, ttl_ms)
            pipe.execute()

        self._optimistically(attempt)

    def _optimistically(self, attempt: Callable[[Pipeline], R]) -> R:
        """Run `attempt` (WATCH, read, MULTI, queue, EXEC) again until no other client touched what it watched."""
        with self._redis.pipeline(transaction=True) as pipe:
            while True:
                try:
                    return attempt(pipe)
                except Exception as error:
                    if isinstance(error, redis.WatchError) and not _is_outage(error):
                        continue  # another client changed a watched key: read again
                    if _is_outage(error):
                        # The WATCH died with the connection.  Told so, the pipeline does not reconnect
                        # to a server that may be frozen only to send UNWATCH as it closes.
                        pipe.watching = False
                    raise

    @staticmethod
    def _latest_expiry(pipe: Pipeline, target: str) -> float:
        latest = pipe.zrevrange(target, 0, 0, withscores=True)
        return float(latest[0][1]) if latest else 0.0

    @_guarded
    def delete(self, kind: str, key: str) -> bool:
        entries_key = self._entries_key(kind, key)

        def attempt(pipe: Pipeline) -> bool:
            _watch(pipe, entries_key)
            old_index, held_uniques = self._watch_old_entries(pipe, kind, key)
            pipe.multi()
            self._unlink(pipe, kind, key, old_index, held_uniques)
            pipe.delete(self._doc_key(kind, key))
            return bool(pipe.execute()[-1])

        return self._optimistically(attempt)

    @_guarded
    def swap(self, kind: str, key: str, expect: Mapping[str, Any], writes: Sequence[Write]) -> bool:
        writes_of_one_kind(kind, writes)
        doc_key = self._doc_key(kind, key)
        master = self._master_of(doc_key)  # the deadline is on the clock of the server that runs the script
        seconds, micros = master.time()
        now = time.time()
        argument = swap_argument(
            expect=expect,
            writes=[self._staged(write, now) for write in writes],
            now=now,
            deadline_us=seconds * 1_000_000 + micros + self._swap_budget_us,
        )
        if self._claim_replicas:
            outcome = self._swap_then_wait(doc_key, argument)
        else:
            outcome = int(cast(int, self._swap(keys=[doc_key], args=[argument])))
        if outcome == TOO_LATE:
            # The server took too long to get to it, so nothing was written: the caller may try again.
            raise StoreUnavailable()
        return outcome == SWAPPED

    def _swap_then_wait(self, doc_key: str, argument: str) -> int:
        def queue(pipe: Pipeline) -> None:
            # EVAL with the script itself, not EVALSHA: a promoted replica's script cache is empty, and a
            # NOSCRIPT answer would cost the WAIT behind it and a second try, past the swap's deadline.
            cast(Callable[..., object], pipe.eval)(SWAP_SCRIPT, 1, doc_key, argument)

        answer, replicas = self._then_wait(doc_key, queue)
        outcome = int(answer)
        if outcome == SWAPPED and replicas < self._claim_replicas:
            raise self._unacknowledged("a swap", replicas)
        return outcome

    def _staged(self, write: Write, now: float) -> StagedWrite:
        index_values = [(name, value) for name, values in (write.index or {}).items() for value in values]
        unique = dict(write.unique or {})
        return StagedWrite(
            kind=write.kind,
            key=write.key,
            doc_key=self._doc_key(write.kind, write.key),
            entries_key=self._entries_key(write.kind, write.key),
            index_base=self._kind_key("i", write.kind, ""),
            unique_base=self._kind_key("u", write.kind, ""),
            body=json.dumps(write.doc, separators=(",", ":")),
            ttl_ms=_ttl_ms(write.ttl) if write.ttl is not None else None,
            expires_at=now + write.ttl if write.ttl is not None else math.inf,
            entries=[_SEP.join(("u", name, value)) for name, value in unique.items()]
            + [_SEP.join(("i", name, value)) for name, value in index_values],
            index_keys=sorted({self._kind_key("i", write.kind, name, value) for name, value in index_values}),
            unique_keys=[self._kind_key("u", write.kind, name, value) for name, value in unique.items()],
        )

    @_guarded
    def find(self, kind: str, index: str, value: str) -> list[str]:
        members = self._redis.zrangebyscore(self._kind_key("i", kind, index, value), f"({time.time()}", "+inf")
        keys = sorted(cast(list[str], members))
        if not keys:
            return []
        alive = self._redis.mget([self._doc_key(kind, key) for key in keys])
        return [key for key, body in zip(keys, alive, strict=True) if body is not None]

    @_guarded
    def find_unique(self, kind: str, name: str, value: str) -> str | None:
        holder = cast(str | None, self._redis.get(self._kind_key("u", kind, name, value)))
        return holder if holder is not None and self._redis.exists(self._doc_key(kind, holder)) else None

    @_guarded
    def claim_once(self, key: str, ttl: float) -> bool:
        name = self._key("c", key)
        if not self._claim_replicas:
            return bool(self._redis.set(name, "1", nx=True, px=_ttl_ms(ttl)))
        claimed, replicas = self._then_wait(name, lambda pipe: pipe.set(name, "1", nx=True, px=_ttl_ms(ttl)))
        if claimed and replicas < self._claim_replicas:
            # Granted now, the claim could vanish in a failover and the value be used again: refuse it instead.
            raise self._unacknowledged("a claim", replicas)
        return bool(claimed)

    @_guarded
    def record_event(self, key: str, at: float, window: float) -> None:
        events = self._key("t", key)
        with self._redis.pipeline(transaction=True) as pipe:
            pipe.zadd(events, {f"{at}:{secrets.token_hex(4)}": at})
            pipe.zremrangebyscore(events, "-inf", f"({at - window}")
            pipe.pexpire(events, _ttl_ms(window))
            pipe.execute()

    @_guarded
    def events_since(self, key: str, since: float) -> list[float]:
        scored = self._redis.zrangebyscore(self._key("t", key), f"({since}", "+inf", withscores=True)
        return [score for _, score in cast(list[tuple[str, float]], scored)]

    @_guarded
    def clear_events(self, key: str) -> None:
        self._redis.delete(self._key("t", key))

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
        for sentinel in self._sentinels:
            sentinel.close()
