"""Redis client construction and the low-rate publish helper.

The high-rate paths live in `producer.py` (batched XADD) and `consumer.py` (consumer groups).
redis-py's own retries are off for our clients: retrying a pipeline of `XADD *` duplicates
entries, and our loops already retry with capped, jittered backoff.

With `cluster=True` the client is redis-py's `RedisCluster` (REDIS_URL names any node). It has
the same command methods, so callers keep the `aredis.Redis` type; the few places that must
tell the two apart (a hand-built batch write, multi-stream XREAD, INFO) use `is_cluster`. The
cluster client still follows MOVED/ASK redirects (nothing was run by such a reply).
"""

from __future__ import annotations

from typing import Any, Final, TypeAlias, TypeGuard, TypeVar, cast

import redis.asyncio as aredis
import redis.exceptions as rex
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from microservices.common.streams import Stream

R = TypeVar("R")
RedisClient: TypeAlias = aredis.Redis | RedisCluster
TRANSIENT_REDIS_ERRORS: Final = (
    aredis.ConnectionError,
    aredis.TimeoutError,
    ConnectionError,
    OSError,
    TimeoutError,
    # a Redis Cluster during a failover: the next command uses the refreshed slot table
    rex.ClusterDownError,
    rex.TryAgainError,
    rex.SlotNotCoveredError,
    rex.RedisClusterUnreachableError,
)


def create_redis(url: str, *, socket_timeout_s: float = 5.0, cluster: bool = False) -> aredis.Redis:
    """A client that fails fast (no hidden retries) and never decodes responses.

    `cluster=True`: a `RedisCluster` (typed as `aredis.Redis`, whose commands it shares) that
    discovers the other nodes from `url`; a connection error refreshes its slot table for the
    next command instead of retrying this one.
    """
    options: dict[str, Any] = {
        "retry": Retry(NoBackoff(), 0),
        "health_check_interval": 30,
        "decode_responses": False,
    }
    connect_s = min(socket_timeout_s, 5.0)
    if cluster:
        return cast(aredis.Redis, RedisCluster.from_url(
            url, socket_timeout=socket_timeout_s, socket_connect_timeout=connect_s, **options
        ))  # fmt: skip
    return aredis.Redis.from_url(
        url, socket_timeout=socket_timeout_s, socket_connect_timeout=connect_s, **options
    )


def is_cluster(redis: RedisClient) -> TypeGuard[RedisCluster]:
    """Whether `redis` is a cluster client (its keys live on several nodes)."""
    return isinstance(redis, RedisCluster)


def socket_timeout(redis: RedisClient) -> float | None:
    """The client's socket timeout (its replies' deadline), on one node or a cluster."""
    if isinstance(redis, RedisCluster):
        kwargs = redis.connection_kwargs
    else:
        kwargs = redis.connection_pool.connection_kwargs
    value: Any = kwargs.get("socket_timeout")
    return None if value is None else float(value)


# DEL + HSET of one key as one script: atomic on any node of a cluster
REPLACE_HASH: Final = "redis.call('DEL', KEYS[1]) return redis.call('HSET', KEYS[1], unpack(ARGV))"


async def replace_hash(redis: RedisClient, key: str, fields: dict[str, bytes]) -> None:
    """Replace hash `key` by `fields` atomically (readers see the old or the new hash).

    One node: a MULTI/EXEC pipeline. A cluster: a one-key script instead, because redis-py's
    cluster transactions queue each command through a worker thread, which blocks the loop.
    """
    if isinstance(redis, RedisCluster):
        flat = [item for pair in fields.items() for item in pair]
        await redis.eval(REPLACE_HASH, 1, key, *flat)
        return
    pipe = redis.pipeline(transaction=True)
    pipe.delete(key)
    pipe.hset(key, mapping=fields)  # type: ignore[arg-type]
    await pipe.execute()


async def xadd_record(redis: aredis.Redis, stream: Stream[R], record: R) -> bytes:
    """Encode `record` with the stream's schema and XADD it with `MAXLEN ~` (the id of the
    last write when a context record goes to every shard)."""
    fields: dict[Any, Any] = stream.schema.encode(record)
    entry_id: Any = None
    for name in stream.route(record):  # its shard; every shard for a context record
        entry_id = await redis.xadd(name, fields, maxlen=stream.maxlen, approximate=True)
    return entry_id if isinstance(entry_id, bytes) else str(entry_id).encode()
