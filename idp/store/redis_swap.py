"""`swap` on Redis: one Lua script, so the check and every write happen as one step on the server.

A script is atomic, but the client cannot tell a script that ran and whose answer was lost from one
that never ran: a frozen server (SIGSTOP) runs what it had received when it wakes up, long after the
client gave up and answered 503.  For a refresh-token rotation that would be the worst outcome (the
client keeps the old token, which is now rotated, and its retry revokes the whole family).  So every
swap carries a deadline on the server's own clock, taken from TIME just before, and a script that
starts after it does nothing.  The deadline is well inside the client's socket timeout, so whenever
the client stops waiting, a script that has not started yet can no longer write.

The script keeps the layout `RedisBackend` documents: it removes the index and unique entries each
rewritten document held (`e:KIND:KEY`), then writes the document, its index sets and its entry set.
The client works out every key name (`entry_bases` starts the name of an index or unique entry of the
write's kind), so the script knows no layout of its own and the same script serves Redis Cluster,
where every key it touches is in the one slot of the kind.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# Numbers travel as strings: cjson would round them to 14 digits, and Redis might print a Lua number
# in exponent form.  '\31' is the entry separator (0x1f) in Lua's decimal escapes.
SWAP_SCRIPT = r"""
local request = cjson.decode(ARGV[1])
local clock = redis.call('TIME')
if tonumber(clock[1]) * 1000000 + tonumber(clock[2]) > tonumber(request.deadline_us) then
  return -1
end
local body = redis.call('GET', KEYS[1])
if not body then
  return 0
end
local current = cjson.decode(body)
for field, value in pairs(request.expect) do
  local actual = current[field]
  if actual == nil then
    actual = cjson.null  -- a field the document lacks is null, as on SQLite
  end
  if actual ~= value then
    return 0
  end
end
for _, w in ipairs(request.writes) do
  for _, target in ipairs(w.unique_keys) do
    local holder = redis.call('GET', target)
    if holder and holder ~= w.key then
      return 0
    end
  end
end
for _, w in ipairs(request.writes) do
  for _, entry in ipairs(redis.call('SMEMBERS', w.entries_key)) do
    local tag, name, value = string.match(entry, '^([iu])\31([^\31]*)\31(.*)$')
    local target = w.entry_bases[tag] .. name .. ':' .. value
    if tag == 'i' then
      redis.call('ZREM', target, w.key)
    elseif redis.call('GET', target) == w.key then
      redis.call('DEL', target)
    end
  end
  redis.call('DEL', w.entries_key)
  if w.ttl_ms then
    redis.call('SET', w.doc_key, w.body, 'PX', w.ttl_ms)
  else
    redis.call('SET', w.doc_key, w.body)
  end
  for _, target in ipairs(w.unique_keys) do
    if w.ttl_ms then
      redis.call('SET', target, w.key, 'PX', w.ttl_ms)
    else
      redis.call('SET', target, w.key)
    end
  end
  for _, target in ipairs(w.index_keys) do
    local latest = redis.call('ZREVRANGE', target, 0, 0, 'WITHSCORES')[2]
    redis.call('ZADD', target, w.score, w.key)
    redis.call('ZREMRANGEBYSCORE', target, '-inf', request.now)
    -- An index set lives as long as its longest-lived member.
    if not w.ttl_ms or latest == 'inf' then
      redis.call('PERSIST', target)
    else
      local horizon = math.max(tonumber(latest or '0'), tonumber(w.score))
      redis.call('PEXPIREAT', target, string.format('%.0f', math.ceil(horizon * 1000)))
    end
  end
  if #w.entries > 0 then
    redis.call('SADD', w.entries_key, unpack(w.entries))
    if w.ttl_ms then
      redis.call('PEXPIRE', w.entries_key, w.ttl_ms)
    end
  end
end
return 1
"""

SWAPPED, NOT_AS_EXPECTED, TOO_LATE = 1, 0, -1


@dataclass(frozen=True)
class StagedWrite:
    """One document write, with every key name worked out, as the script takes it."""

    kind: str
    key: str
    doc_key: str
    entries_key: str
    # The start of an index entry's and a unique entry's key name, before "NAME:VALUE".
    index_base: str
    unique_base: str
    body: str
    ttl_ms: int | None
    expires_at: float
    entries: list[str]
    index_keys: list[str]
    unique_keys: list[str]

    def as_argument(self) -> dict[str, Any]:
        staged: dict[str, Any] = {
            "kind": self.kind,
            "key": self.key,
            "doc_key": self.doc_key,
            "entries_key": self.entries_key,
            "entry_bases": {"i": self.index_base, "u": self.unique_base},
            "body": self.body,
            "score": "+inf" if math.isinf(self.expires_at) else repr(self.expires_at),
            "entries": self.entries,
            "index_keys": self.index_keys,
            "unique_keys": self.unique_keys,
        }
        if self.ttl_ms is not None:
            staged["ttl_ms"] = str(self.ttl_ms)
        return staged


def swap_argument(*, expect: Mapping[str, Any], writes: Sequence[StagedWrite], now: float, deadline_us: int) -> str:
    """The script's one argument, as JSON."""
    return json.dumps(
        {
            "expect": dict(expect),
            "writes": [write.as_argument() for write in writes],
            "now": repr(now),
            "deadline_us": str(deadline_us),
        },
        separators=(",", ":"),
    )
