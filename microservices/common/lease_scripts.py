"""The Lua scripts of shard leases and the fenced write, run with EVALSHA.

A lease is the string key `<prefix>lease.<role>:{<shard>}` holding `"<token> <owner>"` with a
PX expiry; its fencing counter `<prefix>lease.<role>.token:{<shard>}` sits in the same Redis
Cluster slot (the `{<shard>}` hash tag, also the tag of the shard's streams `<stream>:{<shard>}`),
so every script touches one slot. Scripts run with redis-py's `evalsha` (a cluster client
routes it by its first key) and are loaded again after a NOSCRIPT (a restarted or failed-over
node has an empty script cache).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any, Final

from prometheus_client import Counter
from redis.exceptions import NoScriptError, ResponseError

# KEYS: lease, counter. ARGV: owner, ttl_ms. The new token, or 0 when another owner holds it
# (a lease of this owner is taken again with a new token: it may have been given up locally).
ACQUIRE: Final = """
local cur = redis.call('GET', KEYS[1])
if cur and string.sub(cur, string.find(cur, ' ', 1, true) + 1) ~= ARGV[1] then return 0 end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], token .. ' ' .. ARGV[1], 'PX', ARGV[2])
return token
"""
# KEYS: lease. ARGV: value, ttl_ms. 1 when still mine (expiry pushed back), else 0.
RENEW: Final = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
# KEYS: lease. ARGV: value. 1 when it was mine and is gone, else 0.
RELEASE: Final = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
# KEYS: lease, stream. ARGV: token, maxlen, then per entry its field count and field/value pairs.
FENCED_XADD: Final = """
local cur = redis.call('GET', KEYS[1])
if not cur or string.match(cur, '^(%d+)') ~= ARGV[1] then
  return redis.error_reply('FENCED ' .. KEYS[1] .. ' is not held with token ' .. ARGV[1])
end
local i, n = 3, 0
while i <= #ARGV do
  local k = tonumber(ARGV[i])
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', unpack(ARGV, i + 1, i + 2 * k))
  i = i + 1 + 2 * k
  n = n + 1
end
return n
"""
# KEYS: lease, stream. ARGV: token, group, then the entry ids to acknowledge. XACK's count, or
# FENCED: a former owner that lost the shard never acknowledges what it read after losing it.
FENCED_XACK: Final = """
local cur = redis.call('GET', KEYS[1])
if not cur or string.match(cur, '^(%d+)') ~= ARGV[1] then
  return redis.error_reply('FENCED ' .. KEYS[1] .. ' is not held with token ' .. ARGV[1])
end
return redis.call('XACK', KEYS[2], ARGV[2], unpack(ARGV, 3))
"""

FENCED_WRITES: Final = Counter(
    "ce_fenced_writes_total", "Writes refused because the writer's shard lease token is stale"
)


class Fenced(Exception):
    """The lease is gone or held with another token: nothing was written."""


class Script:
    """One Lua script run by SHA; loaded (again) on NOSCRIPT."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()

    async def __call__(self, redis: Any, keys: Sequence[str], args: Sequence[Any]) -> Any:
        try:
            return await redis.evalsha(self.sha, len(keys), *keys, *args)
        except NoScriptError:
            await redis.script_load(self.source)
            return await redis.evalsha(self.sha, len(keys), *keys, *args)


ACQUIRE_SCRIPT: Final = Script(ACQUIRE)
RENEW_SCRIPT: Final = Script(RENEW)
RELEASE_SCRIPT: Final = Script(RELEASE)
FENCED_XADD_SCRIPT: Final = Script(FENCED_XADD)
FENCED_XACK_SCRIPT: Final = Script(FENCED_XACK)

Field = bytes | str


def xadd_args(token: int, maxlen: int, entries: Sequence[Mapping[Any, Field]]) -> list[Field]:
    """ARGV of FENCED_XADD: token, maxlen, then `n, f1, v1, ... fn, vn` per entry."""
    args: list[Field] = [str(token), str(maxlen)]
    for fields in entries:
        if not fields:
            raise ValueError("a stream entry needs at least one field")
        args.append(str(len(fields)))
        for name, value in fields.items():
            args += (name, value)
    return args


async def fenced_xadd(
    redis: Any,
    lease_key: str,
    token: int,
    stream_name: str,
    maxlen: int,
    entries: Sequence[Mapping[Any, Field]],
) -> int:
    """XADD (MAXLEN ~ `maxlen`) every entry to `stream_name` in one script, only while
    `lease_key` holds `token`; the number written, or `Fenced` with nothing written.
    The stream must share the lease's slot (`<stream>:{<shard>}`) on a cluster."""
    if not entries:
        return 0
    args = xadd_args(token, maxlen, entries)
    try:
        written = await FENCED_XADD_SCRIPT(redis, [lease_key, stream_name], args)
    except ResponseError as exc:
        if "FENCED" not in str(exc):
            raise
        FENCED_WRITES.inc()
        raise Fenced(str(exc)) from None
    return int(written)


async def fenced_xack(
    redis: Any, lease_key: str, token: int, stream_name: str, group: str, ids: Sequence[str]
) -> int:
    """XACK `ids` in `group` only while `lease_key` holds `token`; else `Fenced`, nothing
    acknowledged (the entries stay pending for the shard's new owner)."""
    if not ids:
        return 0
    try:
        acked = await FENCED_XACK_SCRIPT(redis, [lease_key, stream_name], [str(token), group, *ids])
    except ResponseError as exc:
        if "FENCED" not in str(exc):
            raise
        FENCED_WRITES.inc()
        raise Fenced(str(exc)) from None
    return int(acked)
