"""The aggregator's exchange.orderbook consumer on fakeredis: entries are folded and acked,
a bad entry goes to the dead letter, and the next snapshot carries the book."""

from __future__ import annotations

from typing import Any

import pytest
import redis.asyncio as aredis

from microservices.ai_engine.aggregator_service import AggregatorService
from microservices.common.producer import StreamProducer
from microservices.common.redis_io import xadd_record
from microservices.common.settings import Settings
from tests.unit.aggregator.builders import SYMBOL, T0, book_top, ticker

BIDS = [(99.99, 2.0), (99.95, 1.0)]  # within 10 bps of 100.0: 299.93
ASKS = [(100.01, 1.0), (100.04, 3.0)]  # 400.13


async def test_books_are_folded_acked_and_bad_entries_dead_lettered(
    fake_redis: aredis.Redis, settings_factory: Any
) -> None:
    settings: Settings = settings_factory(aggregator_min_exchanges=1)
    streams = settings.streams()
    service = AggregatorService(settings, fake_redis, StreamProducer(fake_redis))
    assert service.book_consumer is not None
    await xadd_record(fake_redis, streams.raw, ticker("bybit", 100.0, 100.03, 0, bid_size=0.5))
    await xadd_record(fake_redis, streams.orderbook, book_top("binance", BIDS, ASKS, 10))
    await fake_redis.xadd(streams.orderbook.name, {"symbol": "BTCUSDT", "bids": "[[1"})
    assert await service.consumer.run_until_idle() == 1
    assert await service.book_consumer.run_until_idle() == 2  # both acknowledged
    assert await fake_redis.xlen(streams.orderbook.dead_letter) == 1
    pending: Any = await fake_redis.xpending(streams.orderbook.name, "aggregator")
    assert pending["pending"] == 0
    [snap] = service.emit(T0 + 20)
    assert snap.symbol == SYMBOL
    assert snap.venues["binance"].bid_depth_10bps == pytest.approx(299.93)
    assert (snap.best_ask, snap.best_ask_exchange, snap.best_ask_size) == (100.01, "binance", 1.0)


def test_no_book_consumer_when_books_are_off(settings_factory: Any) -> None:
    settings: Settings = settings_factory(orderbook_enabled=False)
    redis = aredis.Redis()
    service = AggregatorService(settings, redis, StreamProducer(redis))
    assert service.book_consumer is None
