"""One owned shard of the aggregator: its state, its consumers, and its rebuild.

A `ShardUnit` folds the entries of one shard of exchange.raw (and exchange.orderbook) into a
`CrossExchangeState` of its own. Taking a shard (at start, or on gaining its lease from a
dead owner) rebuilds that state from the entries the shard still holds (XRANGE from the
oldest), then points the shard's consumer group at the last entry it folded (the old owner's
pending entries are dropped: they are folded already) so the group delivers only what came
after. Every entry is folded at most once per unit: a unit remembers the last entry id it
folded per stream and skips older ones, so a re-delivered entry (a retried batch, a claim
after failover) leaves the state as if it had been processed once. A state rebuilt this way
equals that of an aggregator that has been fed every retained entry of the shard once.
"""

from __future__ import annotations

import logging
from typing import Any

import redis.asyncio as aredis

from microservices.ai_engine.aggregation.usd_rates import UsdRates
from microservices.ai_engine.cross_exchange_aggregator import AggregatorParams, CrossExchangeState
from microservices.common.book_schema import BookTop
from microservices.common.consumer import StreamConsumer, consumer_from_settings
from microservices.common.records import RawRecord
from microservices.common.settings import Settings
from microservices.common.shard_read import id_order
from microservices.common.shard_rebuild import (
    ORIGIN,
    EntryId,
    fresh_entries,
    replay,
    restart_group,
)
from microservices.common.streams import Stream, Streams

logger = logging.getLogger(__name__)


class ShardUnit:
    def __init__(
        self,
        index: int,
        settings: Settings,
        redis: aredis.Redis,
        state: CrossExchangeState,
        consumer_name: str,
    ) -> None:
        streams: Streams = settings.streams()
        self.index = index
        self.redis = redis
        self.state = state
        self.rebuilding = False  # set by the owner while `rebuild` folds the shard
        self.raw: Stream[RawRecord] = streams.raw.shard(index)
        self.applied: dict[str, EntryId] = {self.raw.name: ORIGIN}
        self.consumer: StreamConsumer[RawRecord] = consumer_from_settings(
            redis, self.raw, self.handle, settings, consumer_name
        )
        self.book: Stream[BookTop] | None = None
        self.book_consumer: StreamConsumer[BookTop] | None = None
        if settings.orderbook_enabled:
            self.book = streams.orderbook.shard(index)
            self.applied[self.book.name] = ORIGIN
            self.book_consumer = consumer_from_settings(
                redis, self.book, self.handle_books, settings, consumer_name
            )

    def consumers(self) -> list[StreamConsumer[Any]]:
        return [c for c in (self.consumer, self.book_consumer) if c is not None]

    async def handle(self, batch: list[tuple[str, RawRecord]]) -> None:
        fresh = fresh_entries(batch, self.applied[self.raw.name])
        update = self.state.update
        for _, record in fresh:
            update(record)
        if fresh:
            self.applied[self.raw.name] = id_order(fresh[-1][0])

    async def handle_books(self, batch: list[tuple[str, BookTop]]) -> None:
        assert self.book is not None
        fresh = fresh_entries(batch, self.applied[self.book.name])
        update = self.state.update_book
        for _, top in fresh:
            update(top)
        if fresh:
            self.applied[self.book.name] = id_order(fresh[-1][0])

    async def rebuild(self) -> int:
        """Fold every entry the shard holds, then start its groups after them; returns the
        entries folded."""
        folded = await self._replay(self.raw, self.handle)
        if self.book is not None:
            folded += await self._replay(self.book, self.handle_books)
        logger.info("aggregator.shard_rebuilt", extra={"shard": self.index, "entries": folded})
        return folded

    async def _replay(self, stream: Stream[Any], handler: Any) -> int:
        """Fold the shard's entries, then restart its group after the last one folded."""
        folded = await replay(self.redis, stream, handler)
        await restart_group(self.redis, stream, self.applied[stream.name])
        return folded


def aggregator_params(settings: Settings) -> AggregatorParams:
    return AggregatorParams(
        min_exchanges=settings.aggregator_min_exchanges,
        stale_after_ms=int(settings.aggregator_stale_after_s * 1000),
        outlier_pct=settings.aggregator_outlier_pct,
        min_emit_interval_ms=settings.aggregator_min_emit_interval_ms,
        max_emit_interval_ms=settings.aggregator_max_emit_interval_ms,
        vol_short_window_ms=int(settings.aggregator_vol_short_window_s * 1000),
        vol_long_window_ms=int(settings.aggregator_vol_long_window_s * 1000),
        vol_cap=settings.aggregator_vol_cap,
        volume_window_ms=int(settings.aggregator_volume_window_s * 1000),
    )


def new_state(settings: Settings, rates: UsdRates | None = None) -> CrossExchangeState:
    """A unit's state; the units of one process share `rates` (USD prices of quotes)."""
    return CrossExchangeState(
        aggregator_params(settings), settings.usd_equivalents,
        settings.depeg_threshold_pct / 100.0, rates=rates,
    )  # fmt: skip
