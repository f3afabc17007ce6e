"""The large-trade watcher on a real redis-server: exchange.raw entries in, exchange.large_trades
and `alerts` entries out (hand-worked values), acknowledged only after they were written, and
a redelivered batch publishes nothing twice."""

from __future__ import annotations

from typing import Any

import pytest
import redis.asyncio as aredis

from microservices.ai_engine.large_trades.service import GROUP, LargeTradeService
from microservices.common.producer import StreamProducer
from microservices.common.records import Funding, Liquidation, RawRecord, Trade
from microservices.common.redis_io import TRANSIENT_REDIS_ERRORS, create_redis
from microservices.common.settings import Settings
from tests.integration.test_pipeline import publish

pytestmark = pytest.mark.integration
NOW = 1_760_000_000_000


def records() -> list[RawRecord]:
    def trade(n: int, price: float, size: float) -> Trade:
        return Trade(exchange="coinbase", market="spot", symbol="BTCUSD", venue_symbol="BTC-USD",
                     group="BTCUSDT", quote="USD", ts_ms=NOW + n, recv_ms=NOW + n, price=price,
                     size=size, side="sell", trade_id=f"t{n}")  # fmt: skip

    def liq(n: int, size: float) -> Liquidation:
        return Liquidation(exchange="binance_futures", market="perp", symbol="ETHUSDT",
                           venue_symbol="ETHUSDT", group="ETHUSDT", quote="USDT",
                           ts_ms=NOW + n * 1000, recv_ms=NOW + n * 1000, price=2500.0, size=size,
                           side="sell")  # fmt: skip

    funding = [
        Funding(exchange="bybit", market="perp", symbol="BTCUSDT", venue_symbol="BTCUSDT",
                group="BTCUSDT", quote="USDT", ts_ms=NOW + n, recv_ms=NOW + n,
                funding_rate=rate, funding_interval_h=8.0)
        for n, rate in ((1, 0.0001), (2, 0.0015))
    ]  # fmt: skip
    # 2 x 60000 = 120000 (large); 1 x 60000 = 60000 (not); liquidations of 2500 x 5/8/30 ETH
    # = 12500 / 20000 / 75000: the third is large (>= 50k), the three make a cluster (>= 10k)
    return [trade(0, 60_000.0, 2.0), trade(1, 60_000.0, 1.0), liq(1, 5.0), liq(2, 8.0),
            liq(3, 30.0), *funding]  # fmt: skip


async def test_watcher_publishes_large_trades_and_alerts(
    real_redis: aredis.Redis, redis_server: Any, settings_factory: Any
) -> None:
    settings: Settings = settings_factory(
        redis_url=redis_server.url, liquidation_cluster_count=3, consumer_claim_idle_ms=1
    )
    streams = settings.streams()
    await publish(real_redis, streams.raw, records())
    producer = StreamProducer(real_redis)
    service = LargeTradeService(settings, real_redis, producer)
    assert await service.consumer.run_until_idle() == 7
    rows: Any = await real_redis.xrange(streams.large_trades.name)
    trades = [streams.large_trades.schema.decode(fields) for _, fields in rows]
    assert [(t.row_id, t.value_usd, t.is_liquidation) for t in trades] == [
        ("coinbase_BTC-USD_t0", 120_000.0, False),
        (f"binance_futures_ETHUSDT_liq-{NOW + 3000}-sell-2500.0-30.0", 75_000.0, True),
    ]
    alert_rows: Any = await real_redis.xrange(streams.market_alerts.name)
    alerts = [streams.market_alerts.schema.decode(fields) for _, fields in alert_rows]
    assert [(a.type, a.symbol) for a in alerts] == [
        ("LARGE_TRADE", "BTCUSD"), ("LARGE_TRADE", "ETHUSDT"),
        ("LIQUIDATION_CLUSTER", "ETHUSDT"), ("FUNDING_SPIKE", "BTCUSDT"),
    ]  # fmt: skip
    assert alerts[2].data["total_usd"] == 107_500.0
    assert alerts[3].data["funding_8h_pct"] == pytest.approx(0.15)
    pending: Any = await real_redis.xpending(streams.raw.name, GROUP)
    assert pending["pending"] == 0

    # the same entries delivered again (a restart before XACK): nothing published twice
    await real_redis.xgroup_setid(streams.raw.name, GROUP, "0")
    assert await service.consumer.run_until_idle() == 7
    assert await real_redis.xlen(streams.large_trades.name) == 2
    assert await real_redis.xlen(streams.market_alerts.name) == 4
    health = service.health()  # the /health `large_trades` block: the replay counted, not sent
    assert health["published"] == {"large_trades": 2, "alerts": 4}
    assert health["duplicates"] >= 2 and health["rabbitmq"] is None


async def test_redis_outage_during_the_write_keeps_the_batch_and_writes_once(
    local_redis: Any, settings_factory: Any
) -> None:
    server = local_redis()
    settings: Settings = settings_factory(redis_url=server.url, liquidation_cluster_count=3)
    streams = settings.streams()
    redis = create_redis(server.url, socket_timeout_s=1.0)
    try:
        service = LargeTradeService(settings, redis)
        batch = list(enumerate(records()))
        server.stop()  # Redis goes away between the read and the write
        with pytest.raises(TRANSIENT_REDIS_ERRORS):
            await service.handle([(f"{n + 1}-0", rec) for n, rec in batch])
        assert service.producer.pending == 6  # 2 trades, 4 alerts held, nothing acknowledged
        server.start()  # same port
        await service.handle([(f"{n + 1}-0", rec) for n, rec in batch])  # the redelivery
        assert await redis.xlen(streams.large_trades.name) == 2
        assert await redis.xlen(streams.market_alerts.name) == 4
    finally:
        await redis.aclose()
