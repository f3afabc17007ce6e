"""Batch XADD: many entries of one stream in one command (a Lua script), written by hand.

A redis-py pipeline costs ~20 µs of client CPU per 10-field XADD: packing each argument in
Python and parsing one reply per command (research: redis-streams.md, section 3). Here a
whole batch is one `EVALSHA` per stream, its RESP text built by `resp`/`schemas.pack`, with
one reply (the number of entries added). The entries in Redis are the same as from
`XADD <stream> MAXLEN ~ <n> * field value ...` per record, in the same order.

The script runs atomically: a batch is either written whole or not at all (its one key, the
stream, also makes it valid on a Redis Cluster: see `cluster_xadd`). NOSCRIPT (a
restarted server has an empty script cache) loads the script and sends again; nothing was
written by a NOSCRIPT reply, so the retry cannot duplicate entries.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
from dataclasses import dataclass, field
from typing import Any, Final

import redis.asyncio as aredis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import NoScriptError, ResponseError

from microservices.common.cluster_xadd import write_cluster
from microservices.common.resp import command

# ARGV[1] = MAXLEN; then per entry: 2 x field count, field, value, ...
SCRIPT: Final = """
local key, maxlen = KEYS[1], ARGV[1]
local i, n, added = 2, #ARGV, 0
while i <= n do
  local count = tonumber(ARGV[i])
  redis.call('XADD', key, 'MAXLEN', '~', maxlen, '*', unpack(ARGV, i + 1, i + count))
  i = i + 1 + count
  added = added + 1
end
return added
"""
SHA: Final = hashlib.sha1(SCRIPT.encode()).hexdigest()


@dataclass(slots=True)
class StreamBatch:
    """Packed entries for one stream (consecutive in the producer's buffer)."""

    name: str
    maxlen: int
    entries: list[str] = field(default_factory=list)
    args: int = 0  # RESP arguments the entries hold

    def add(self, packed: tuple[int, str]) -> None:
        self.args += packed[0]
        self.entries.append(packed[1])

    def encode(self) -> bytes:
        head = ["EVALSHA", SHA, "1", self.name, str(self.maxlen)]
        return command(head, self.entries, self.args)


async def write_batches(
    redis: aredis.Redis | RedisCluster, batches: list[StreamBatch], timeout_s: float | None
) -> None:
    """Send every batch in one write and read the replies; raise on any error reply.

    A connection or timeout error closes the connection (redis-py's own rule), so a
    half-read reply never goes back to the pool. On a cluster client, one write per node
    (`cluster_xadd`).
    """
    if isinstance(redis, RedisCluster):
        await write_cluster(redis, batches, timeout_s, SCRIPT)
        return
    missing = await _send(redis, batches, timeout_s)
    if missing:
        await redis.script_load(SCRIPT)
        missing = await _send(redis, missing, timeout_s)
        if missing:
            raise ResponseError("NOSCRIPT after SCRIPT LOAD")


async def _send(
    redis: aredis.Redis, batches: list[StreamBatch], timeout_s: float | None
) -> list[StreamBatch]:
    """Batches answered NOSCRIPT (not written); other error replies raise after all reads."""
    pool = redis.connection_pool
    conn: Any = await pool.get_connection()  # type: ignore[no-untyped-call]
    missing: list[StreamBatch] = []
    error: ResponseError | None = None
    try:
        await conn.send_packed_command(b"".join([b.encode() for b in batches]))
        async with asyncio.timeout(timeout_s):  # one deadline for all replies of the write
            for batch in batches:
                try:
                    await conn.read_response(timeout=math.inf)
                except NoScriptError:
                    missing.append(batch)
                except ResponseError as exc:
                    error = exc
    except BaseException:
        await conn.disconnect(nowait=True)
        raise
    finally:
        await pool.release(conn)
    if error is not None:
        raise error
    return missing


def group_by_stream(items: list[tuple[str, int, tuple[int, str]]]) -> list[StreamBatch]:
    """One batch per stream (and MAXLEN), streams in order of first appearance, each
    stream's entries in their order. Entries of different streams need no order between
    them, and interleaved shards (`<stream>:{i}`) would otherwise make one-entry batches."""
    batches: dict[tuple[str, int], StreamBatch] = {}
    for name, maxlen, packed in items:
        batch = batches.get((name, maxlen))
        if batch is None:
            batch = batches[name, maxlen] = StreamBatch(name, maxlen)
        batch.add(packed)
    return list(batches.values())
