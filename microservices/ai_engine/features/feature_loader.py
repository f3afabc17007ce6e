"""Async interface for ML consumers: the latest feature vector, or a DataFrame over a lookback.

Reads exchange.features directly (no consumer group: reading does not take entries from
anyone). The stream interleaves symbols, so lookups filter by symbol while walking back; with
STREAM_SHARDS > 1 a symbol's vectors are all in its shard, the only key read for it.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import redis.asyncio as aredis

from microservices.common import shard_read
from microservices.common.clock import now_ms
from microservices.common.derived_schemas import FEATURE_NAMES
from microservices.common.errors import SchemaError
from microservices.common.records import FeatureVector
from microservices.common.streams import Stream, Streams

PAGE = 500


class FeatureLoader:
    def __init__(self, redis: aredis.Redis, streams: Streams) -> None:
        self.redis = redis
        self.stream: Stream[FeatureVector] = streams.features

    async def latest(self, symbol: str, max_scan: int = 20_000) -> FeatureVector | None:
        """Newest vector for `symbol`, scanning back at most `max_scan` entries."""
        name = self.stream.shard_for(symbol).name
        upper = "+"
        scanned = 0
        while scanned < max_scan:
            rows: Any = await self.redis.xrevrange(name, upper, "-", count=PAGE)
            if not rows:
                return None
            for _entry_id, fields in rows:
                if fields.get(b"symbol", b"").decode() == symbol:
                    try:
                        return self.stream.schema.decode(fields)
                    except SchemaError:
                        continue
            scanned += len(rows)
            upper = "(" + rows[-1][0].decode()
        return None

    async def oldest_ms(self, symbol: str | None = None) -> int | None:
        """Time in ms (from its entry id) of the oldest entry the stream still holds (every
        shard; `symbol`: that symbol's shard), None when it is empty. MAXLEN trims older ones
        (per shard), so no lookback reaches past it."""
        stream = self.stream if symbol is None else self.stream.shard_for(symbol)
        return await shard_read.oldest_ms(self.redis, stream)

    async def frame(self, symbol: str, lookback_s: float, now: int | None = None) -> pd.DataFrame:
        """Vectors for `symbol` whose stream ids fall within the last `lookback_s` seconds.

        Columns: timestamp (UTC) and every feature of FEATURE_NAMES, oldest first.
        """
        start = (now_ms() if now is None else now) - int(lookback_s * 1000)
        rows: list[dict[str, Any]] = []
        lower = f"{max(start, 0)}-0"
        name = self.stream.shard_for(symbol).name
        while True:
            page: Any = await self.redis.xrange(name, lower, "+", count=PAGE)
            for _, fields in page:
                if fields.get(b"symbol", b"").decode() != symbol:
                    continue
                try:
                    vector = self.stream.schema.decode(fields)
                except SchemaError:
                    continue
                rows.append({"timestamp": vector.ts_ms, **vector.values})
            if len(page) < PAGE:
                break
            lower = "(" + page[-1][0].decode()
        frame = pd.DataFrame(rows, columns=["timestamp", *FEATURE_NAMES])
        frame["timestamp"] = pd.to_datetime(frame["timestamp"], unit="ms", utc=True)
        return frame
