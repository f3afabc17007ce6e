"""A symbol's newest `exchange.normalized` snapshot, read back from its home shard.

ExitBrain reads the newest entry per symbol rather than consuming the stream: it pages back
with XREVRANGE (PAGE_SIZES, then whatever is left of the stream's MAXLEN) until it finds the
symbol. Redis and schema errors propagate to the caller, which turns them into fail-safe
outcomes (`cross_exchange_adapter`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from microservices.common.records import NormalizedSnapshot
from microservices.common.shard_read import newest_pages
from microservices.common.streams import Stream

# XREVRANGE page sizes while looking back for a symbol's newest entry; the last page is
# whatever is left of the stream's MAXLEN.
PAGE_SIZES: Final = (50, 500)


def symbol_of(fields: Mapping[Any, Any]) -> str | None:
    value = fields.get(b"symbol", fields.get("symbol"))
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return value if isinstance(value, str) else None


async def latest_snapshot(
    redis: Any, normalized: Stream[Any], symbol: str
) -> NormalizedSnapshot | None:
    """Newest entry for `symbol` in its home shard, paging back through at most the shard's
    MAXLEN; None when the shard holds none."""
    stream: Stream[Any] = normalized.shard_for(symbol)
    async for rows in newest_pages(redis, stream.name, page_sizes(stream.maxlen)):
        for _entry, fields in rows:
            if symbol_of(fields) == symbol:
                snapshot: NormalizedSnapshot = stream.schema.decode(fields)
                return snapshot
    return None


def page_sizes(maxlen: int) -> list[int]:
    """PAGE_SIZES cut to `maxlen`, then what is left of it."""
    sizes: list[int] = []
    total = 0
    for size in PAGE_SIZES:
        size = min(size, maxlen - total)
        if size <= 0:
            break
        sizes.append(size)
        total += size
    if maxlen > total:
        sizes.append(maxlen - total)
    return sizes
