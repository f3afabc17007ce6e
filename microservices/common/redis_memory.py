"""Redis memory as Prometheus gauges: `used_memory` and `maxmemory` of `INFO memory`.

`memory_values` is the pure part (an INFO reply -> the two numbers, None when a field is
missing or not a number, as on servers that do not report it); `sample_redis_memory` is what
the engine's /metrics handler calls before every scrape. On a Redis Cluster the gauges are
the sums over the masters (`cluster_memory_values`; maxmemory 0 when any master has no limit).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import redis.asyncio as aredis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import ResponseError

from microservices.common import metrics
from microservices.common.redis_io import TRANSIENT_REDIS_ERRORS

logger = logging.getLogger(__name__)


def _count(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, bytes | str):
        text = value.decode() if isinstance(value, bytes) else value
        return int(text) if text.isdigit() else None
    return None


def memory_values(info: Mapping[Any, Any]) -> tuple[int, int] | None:
    """(used_memory, maxmemory) in bytes from an `INFO memory` reply; maxmemory 0 = no limit."""
    fields = {k.decode() if isinstance(k, bytes) else str(k): v for k, v in info.items()}
    used = _count(fields.get("used_memory"))
    limit = _count(fields.get("maxmemory", 0))
    if used is None or limit is None:
        return None
    return used, limit


def cluster_memory_values(infos: Mapping[Any, Mapping[Any, Any]]) -> tuple[int, int] | None:
    """The sums over a cluster's masters (`INFO memory` of each); None when any is unusable."""
    values = [memory_values(info) for info in infos.values()]
    if not values or any(v is None for v in values):
        return None
    pairs = [v for v in values if v is not None]
    limits = [limit for _, limit in pairs]
    return sum(used for used, _ in pairs), 0 if 0 in limits else sum(limits)


async def sample_redis_memory(redis: aredis.Redis) -> bool:
    """Set the Redis memory gauges from `INFO memory`; False (gauges unchanged) when Redis is
    unreachable, refuses INFO (managed servers may rename or disable it) or does not report
    the fields."""
    try:
        if isinstance(redis, RedisCluster):
            infos: Any = await redis.info("memory", target_nodes=RedisCluster.PRIMARIES)
        else:
            info: Any = await redis.info("memory")
    except TRANSIENT_REDIS_ERRORS:
        return False
    except ResponseError as exc:
        logger.debug("redis.info_refused", extra={"cause": str(exc)[:120]})
        return False
    if isinstance(redis, RedisCluster):
        values = cluster_memory_values(infos or {})
    else:
        values = memory_values(info or {})
    if values is None:
        return False
    metrics.REDIS_USED_MEMORY.set(values[0])
    metrics.REDIS_MAXMEMORY.set(values[1])
    return True
