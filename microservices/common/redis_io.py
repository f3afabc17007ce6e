"""Redis client construction and the low-rate publish helper.

The high-rate paths live in `producer.py` (batched XADD) and `consumer.py` (consumer groups).
redis-py's own retries are off for our clients: retrying a pipeline of `XADD *` duplicates
entries, and our loops already retry with capped, jittered backoff.
"""

from __future__ import annotations

from typing import Any, Final, TypeVar

import redis.asyncio as aredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from microservices.common.streams import Stream

R = TypeVar("R")
TRANSIENT_REDIS_ERRORS: Final = (
    aredis.ConnectionError,
    aredis.TimeoutError,
    ConnectionError,
    OSError,
    TimeoutError,
)


def create_redis(url: str, *, socket_timeout_s: float = 5.0) -> aredis.Redis:
    """A client that fails fast (no hidden retries) and never decodes responses."""
    return aredis.Redis.from_url(
        url,
        socket_timeout=socket_timeout_s,
        socket_connect_timeout=min(socket_timeout_s, 5.0),
        retry=Retry(NoBackoff(), 0),
        health_check_interval=30,
        decode_responses=False,
    )


async def xadd_record(redis: aredis.Redis, stream: Stream[R], record: R) -> bytes:
    """Encode `record` with the stream's schema and XADD it with `MAXLEN ~`."""
    fields: dict[Any, Any] = stream.schema.encode(record)
    entry_id: Any = await redis.xadd(stream.name, fields, maxlen=stream.maxlen, approximate=True)
    return entry_id if isinstance(entry_id, bytes) else str(entry_id).encode()


async def latest_entries(
    redis: aredis.Redis, stream: Stream[R], count: int
) -> list[tuple[str, dict[bytes, bytes]]]:
    """The newest `count` raw entries (newest first) as (id, fields)."""
    rows: Any = await redis.xrevrange(stream.name, "+", "-", count=count)
    return [(bytes(entry_id).decode(), dict(fields)) for entry_id, fields in rows or []]
