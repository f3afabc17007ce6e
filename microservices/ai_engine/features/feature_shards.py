"""One owned shard of the feature adapter: its engine, its watermark and its rebuild.

A snapshot's vector carries the snapshot's time (`FeatureVector.ts_ms == snap.ts_ms`), and
the aggregator emits a symbol's snapshots in time order. So a shard keeps, per symbol, the
time of the newest snapshot it folded, and folds only newer ones: an entry delivered again
(a retried batch, a claim after failover) changes neither the state nor the output.

Taking a shard (at start, or on gaining its lease) rebuilds the engine from the entries the
shard of exchange.normalized still holds. It first reads the newest vector per symbol in the
same shard of exchange.features. Snapshots up to that time are folded without publishing
(their vectors exist). Newer ones are folded and published: the old owner read them, but its
vectors never reached the stream. The consumer group then delivers what is left, and the
watermark skips what the rebuild folded. The state equals that of one adapter fed every
retained entry once, and every vector is published once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from microservices.ai_engine.features.engine import FeatureEngine
from microservices.ai_engine.features.params import FeatureParams
from microservices.common.errors import SchemaError
from microservices.common.records import FeatureVector, NormalizedSnapshot
from microservices.common.shard_read import decoded_oldest
from microservices.common.streams import Stream

PAGE: Final = 2_000
Publish = Callable[[NormalizedSnapshot, FeatureVector], None]


class FeatureShard:
    def __init__(self, index: int, params: FeatureParams) -> None:
        self.index = index
        self.engine = FeatureEngine(params)
        self.applied: dict[str, int] = {}  # symbol -> newest snapshot time folded

    def fold(self, snap: NormalizedSnapshot) -> FeatureVector | None:
        """The vector of a snapshot newer than its symbol's watermark; None for one folded
        already."""
        if snap.ts_ms <= self.applied.get(snap.symbol, -1):
            return None
        self.applied[snap.symbol] = snap.ts_ms
        return self.engine.update(snap)

    async def rebuild(
        self, redis: Any, normalized: Stream[Any], features: Stream[Any], publish: Publish
    ) -> tuple[int, int]:
        """Fold the shard's retained snapshots; publish the ones whose vector is missing.
        (folded, published)."""
        done = await newest_vectors(redis, features)
        folded = published = 0
        async for batch in decoded_oldest(redis, normalized, PAGE):
            for _, snap in batch:
                vector = self.fold(snap)
                if vector is None:
                    continue
                folded += 1
                if snap.ts_ms > done.get(snap.symbol, -1):
                    publish(snap, vector)
                    published += 1
        return folded, published


async def newest_vectors(redis: Any, features: Stream[Any]) -> dict[str, int]:
    """symbol -> time of its newest vector in `features` (one shard), read newest first."""
    newest: dict[str, int] = {}
    upper = "+"
    while True:
        rows: Any = await redis.xrevrange(features.name, upper, "-", count=PAGE)
        for _, fields in rows:
            try:
                vector = features.schema.decode(fields)
            except SchemaError:
                continue
            newest.setdefault(vector.symbol, vector.ts_ms)
        if len(rows) < PAGE:
            return newest
        last = rows[-1][0]
        upper = "(" + (last.decode() if isinstance(last, bytes) else str(last))
