"""DEPEG on a real redis-server: a Coinbase USDT-USD price of 0.99 (threshold 0.5 %) reaches
the `alerts` stream once, the reference pair is not emitted to exchange.normalized once the
collector's published set is read, and the USDT leg of BTCUSDT is priced in USD."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
import redis.asyncio as aredis

from microservices.ai_engine.aggregator_service import AggregatorService
from microservices.common.producer import StreamProducer
from microservices.common.records import Trade
from microservices.common.settings import Settings
from microservices.common.streams import collector_key
from tests.integration.test_pipeline import publish

pytestmark = pytest.mark.integration
NOW = 1_760_000_000_000


def trade(venue: str, symbol: str, group: str, quote: str, price: float, n: int) -> Trade:
    market = "perp" if venue == "binance_futures" else "spot"
    return Trade(exchange=venue, market=market, symbol=symbol, venue_symbol=symbol, group=group,
                 quote=quote, ts_ms=NOW + n, recv_ms=NOW + n, price=price, size=1.0,
                 side="buy", trade_id=f"{venue}-{n}")  # fmt: skip


async def test_depeg_alert_reaches_the_alerts_stream_once(
    real_redis: aredis.Redis, redis_server: Any, settings_factory: Any
) -> None:
    settings: Settings = settings_factory(redis_url=redis_server.url, depeg_threshold_pct=0.5)
    streams = settings.streams()
    contract = {"symbol": "BTCUSDT", "contract_size": 1.0, "inverse": False}
    await real_redis.hset(collector_key(settings.stream_prefix, "symbols"),
                          mapping={"BTCUSDT": orjson.dumps({"binance_futures": contract})})  # fmt: skip
    await publish(real_redis, streams.raw, [
        trade("coinbase", "USDTUSD", "USDTUSD", "USD", 0.99, 0),
        trade("bybit_spot", "USDTUSD", "USDTUSD", "USD", 0.99, 1),
        trade("binance_futures", "BTCUSDT", "BTCUSDT", "USDT", 100_000.0, 2),
        trade("coinbase", "BTCUSD", "BTCUSDT", "USD", 99_000.0, 3),
    ])  # fmt: skip
    producer = StreamProducer(real_redis)
    aggregator = AggregatorService(settings, real_redis, producer)
    await aggregator.load_instruments()
    assert await aggregator.consumer.run_until_idle() == 4
    [snap] = aggregator.emit(NOW + 100)  # BTCUSDT only: USDTUSD is a reference
    assert snap.venues["binance_futures"].price == pytest.approx(99_000.0)
    aggregator.emit(NOW + 2_000)  # rates refreshed again, USDT still at 0.99: no second alert
    await producer.flush()
    rows: Any = await real_redis.xrange(streams.market_alerts.name)
    assert streams.market_alerts.name == f"{settings.stream_prefix}alerts"
    [alert] = [streams.market_alerts.schema.decode(fields) for _, fields in rows]
    assert (alert.type, alert.severity, alert.source) == ("DEPEG", "warning", "aggregator")
    assert (alert.symbol, alert.venue) == ("USDTUSD", "bybit_spot,coinbase")
    assert alert.data["usd_price"] == 0.99 and alert.data["state"] == "depegged"
    emitted: Any = await real_redis.xrange(streams.normalized.name)
    normalized = [fields[b"symbol"] for _, fields in emitted]
    assert b"USDTUSD" not in normalized
