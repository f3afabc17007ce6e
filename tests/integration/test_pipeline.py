"""The intelligence pipeline on a real redis-server: raw -> normalized -> features -> status.

Synthetic raw records for 3 venues x 3 symbols go in; every derived stream is checked field by
field against values computed by hand. Then an aggregator "crashes" after reading a batch and
before acknowledging it, and its restart processes those pending entries and the rest.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
import redis.asyncio as aredis

from backend.domains.exits.exit_brain_v3.cross_exchange_adapter import CrossExchangeAdapter
from microservices.ai_engine.aggregator_service import AggregatorService
from microservices.ai_engine.engine import exit_params
from microservices.ai_engine.features.exchange_feature_adapter import FeatureAdapter
from microservices.common.producer import StreamProducer
from microservices.common.records import Funding, Trade
from microservices.common.settings import Settings

pytestmark = pytest.mark.integration
NOW = 1_760_000_000_000
PRICES = {
    "BTCUSDT": {"binance_futures": 100.0, "bybit": 101.0, "coinbase": 102.0},
    "ETHUSDT": {"binance_futures": 20.0, "bybit": 20.2, "coinbase": 20.1},
    "SOLUSDT": {"binance_futures": 5.0, "bybit": 5.0, "coinbase": 5.0},
}
MARKET = {"binance_futures": "perp", "bybit": "perp", "coinbase": "spot"}
# Raw rates are fractions per interval; derived fields are percent per 8 h: binance_futures
# 0.0003 per 8 h -> 0.03; bybit 0.00005 per 1 h -> 0.0004 per 8 h -> 0.04.
FUNDING = {"binance_futures": (0.0003, 8.0), "bybit": (0.00005, 1.0)}


def trade(venue: str, symbol: str, price: float, n: int, ts: int) -> Trade:
    """Coinbase trades its USD book: symbol BTCUSD, quote USD, in the BTCUSDT group."""
    coinbase = venue == "coinbase"
    vsym, own = (
        (symbol.replace("USDT", "-USD"), symbol.removesuffix("T")) if coinbase else (symbol, symbol)
    )
    return Trade(exchange=venue, market=MARKET[venue], symbol=own, venue_symbol=vsym,  # type: ignore[arg-type]
                 group=symbol, quote="USD" if coinbase else "USDT", ts_ms=ts, recv_ms=ts,
                 price=price, size=0.5, side="buy", trade_id=f"{venue}-{n}")  # fmt: skip


def raw_records(ts: int) -> list[Any]:
    records: list[Any] = []
    for symbol, venues in PRICES.items():
        for venue, px in venues.items():
            records.append(trade(venue, symbol, px, len(records), ts))
        for venue, (rate, hours) in FUNDING.items():
            records.append(Funding(exchange=venue, market="perp", symbol=symbol, venue_symbol=symbol,
                                   group=symbol, quote="USDT", ts_ms=ts, recv_ms=ts,
                                   funding_rate=rate, funding_interval_h=hours))  # fmt: skip
    return records


@pytest.fixture
def settings(redis_server: Any, settings_factory: Any) -> Settings:
    return settings_factory(redis_url=redis_server.url, venues="binance_futures,bybit,coinbase")  # type: ignore[no-any-return]


async def publish(redis: aredis.Redis, stream: Any, records: list[Any]) -> None:
    producer = StreamProducer(redis)
    for record in records:
        producer.publish(stream, record)
    await producer.flush()


async def test_raw_to_normalized_features_and_status(
    real_redis: aredis.Redis, settings: Settings
) -> None:
    streams = settings.streams()
    await publish(real_redis, streams.raw, raw_records(NOW))
    producer = StreamProducer(real_redis)
    aggregator = AggregatorService(settings, real_redis, producer)
    assert await aggregator.consumer.run_until_idle() == 15
    assert len(aggregator.emit(NOW + 100)) == 3
    await producer.flush()

    entries = {
        f[b"symbol"].decode(): f for _, f in await real_redis.xrange(streams.normalized.name)
    }
    btc = {k.decode(): v.decode() for k, v in entries[b"BTCUSDT".decode()].items()}
    assert btc["avg_price"] == "101.0" and btc["median_price"] == "101.0"
    assert float(btc["price_divergence"]) == pytest.approx(math.sqrt(2 / 3))
    assert float(btc["exchange_divergence"]) == pytest.approx(2 / 101)
    assert float(btc["binance_futures_funding_8h"]) == pytest.approx(0.03)
    assert float(btc["bybit_funding_8h"]) == pytest.approx(0.04)
    assert float(btc["funding_delta"]) == pytest.approx(0.01)  # mean > 0: +(0.04 - 0.03)
    assert float(btc["avg_funding_rate"]) == pytest.approx(0.035)
    assert btc["num_exchanges"] == "3"
    assert (btc["binance_futures_price"], btc["bybit_price"], btc["coinbase_price"]) == (
        "100.0",
        "101.0",
        "102.0",
    )
    assert btc["volatility_factor"] == "1.0" and btc["excluded"] == ""
    sol = {k.decode(): v.decode() for k, v in entries["SOLUSDT"].items()}
    assert sol["price_divergence"] == "0.0" and sol["exchange_divergence"] == "0.0"

    features = FeatureAdapter(settings, real_redis, producer)
    assert await features.consumer.run_until_idle() == 3
    await producer.flush()
    vectors = {v.symbol: v for v in (streams.features.schema.decode(f)
                                     for _, f in await real_redis.xrange(streams.features.name))}  # fmt: skip
    assert set(vectors) == set(PRICES)
    btc_features = vectors["BTCUSDT"].values
    assert btc_features["avg_price"] == 101.0 and btc_features["num_exchanges"] == 3.0
    assert btc_features["binance_bybit_ratio"] == pytest.approx(100 / 101)
    assert btc_features["funding_delta"] == pytest.approx(0.01)
    assert btc_features["avg_funding_rate"] == pytest.approx(0.035)
    assert btc_features["max_price_spread_bps"] == pytest.approx(2 / 101 * 1e4)

    adapter = CrossExchangeAdapter(
        real_redis, streams, exit_params(settings), clock=lambda: NOW + 2_000
    )
    adjustments = await adapter.refresh("BTCUSDT")
    assert adjustments.atr_multiplier == pytest.approx(1.6)
    assert adjustments.tp_multiplier == pytest.approx(1.008)  # 1 + 0.8 * 0.01
    assert adjustments.sl_multiplier == pytest.approx(1 + 0.4 * 2 / 101)
    status = streams.status.schema.decode(
        (await real_redis.xrevrange(streams.status.name, count=1))[0][1]
    )
    assert status.symbol == "BTCUSDT" and status.cross_exchange_active is True
    assert status.data_age_seconds == pytest.approx(1.9)
    assert status.funding_delta == pytest.approx(0.01)
    assert status.tp_multiplier == pytest.approx(1.008)
    assert status.total_reads == 1 and status.fail_count == 0
    assert await real_redis.xlen(streams.alerts.name) == 0


async def test_aggregator_crash_and_restart_loses_nothing(
    real_redis: aredis.Redis, settings: Settings
) -> None:
    streams = settings.streams()
    records = [trade("bybit", "BTCUSDT", 100.0 + (i % 7), i, NOW + i) for i in range(300)]
    await publish(real_redis, streams.raw, records)
    first = AggregatorService(settings, real_redis, StreamProducer(real_redis))
    await first.consumer.ensure_group()
    # The first aggregator reads 120 entries and dies before acknowledging them.
    await real_redis.xreadgroup("aggregator", "aggregator-1", {streams.raw.name: ">"}, count=120)
    seen: list[str] = []
    restarted = AggregatorService(settings, real_redis, StreamProducer(real_redis))
    original = restarted.handle

    async def counting(batch: list[tuple[str, Any]]) -> None:
        seen.extend(entry_id for entry_id, _ in batch)
        await original(batch)

    restarted.consumer._handler = counting  # type: ignore[assignment]
    assert await restarted.consumer.run_until_idle() == 300
    all_ids = [entry_id.decode() for entry_id, _ in await real_redis.xrange(streams.raw.name)]
    assert sorted(seen) == sorted(all_ids)  # every entry handled, the 120 pending ones included
    assert (await real_redis.xpending(streams.raw.name, "aggregator"))["pending"] == 0
    snap = restarted.state.snapshot("BTCUSDT", NOW + 400)
    assert snap is None  # one venue only: no normalized entry, not a crash
