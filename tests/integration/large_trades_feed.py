"""The raw records of the large-trade watcher's failover and restart tests, with hand-worked
values, the reference (one watcher fed every entry once) and the Redis backends they run on."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import fakeredis
import pytest

from microservices.ai_engine.large_trades.params import AlertParams
from microservices.ai_engine.large_trades.watch import MarketWatch
from microservices.common.records import Funding, Liquidation, OpenInterest, RawRecord, Trade
from microservices.common.redis_io import create_redis
from microservices.common.settings import Settings

NOW = 1_760_000_000_000
SHARDS = 4  # BTCUSDT and USDCUSDT live in shard 3, ETHUSDT in shard 0, USDTUSD in shard 2


def trade(venue: str, group: str, n: int, price: float, size: float, quote: str = "USDT",
          symbol: str = "") -> Trade:  # fmt: skip
    spot = venue == "coinbase" or group == "USDCUSDT"
    return Trade(exchange=venue, market="spot" if spot else "perp", symbol=symbol or group,
                 venue_symbol=symbol or group, group=group, quote=quote, ts_ms=NOW + n,
                 recv_ms=NOW + n, price=price, size=size, side="buy", trade_id=f"t{n}")  # fmt: skip


def liq(venue: str, n: int, size: float, side: str = "sell") -> Liquidation:
    return Liquidation(exchange=venue, market="perp", symbol="BTCUSDT", venue_symbol="BTCUSDT",
                       group="BTCUSDT", quote="USDT", ts_ms=NOW + n, recv_ms=NOW + n,
                       price=100_000.0, size=size, side=side)  # type: ignore[arg-type]  # fmt: skip


def funding(n: int, rate: float) -> Funding:
    return Funding(exchange="bybit", market="perp", symbol="BTCUSDT", venue_symbol="BTCUSDT",
                   group="BTCUSDT", quote="USDT", ts_ms=NOW + n, recv_ms=NOW + n,
                   funding_rate=rate, funding_interval_h=8.0)  # fmt: skip


def open_interest(n: int, contracts: float) -> OpenInterest:
    return OpenInterest(exchange="binance_futures", market="perp", symbol="BTCUSDT",
                        venue_symbol="BTCUSDT", group="BTCUSDT", quote="USDT", ts_ms=NOW + n,
                        recv_ms=NOW + n, open_interest=contracts)  # fmt: skip


# A handles and acknowledges these. USDT is worth 0.999 (Coinbase USDT-USD, every shard):
# 100000 x 1.5 x 0.999 = 149850 (large); ETH 3000 x 20 x 0.999 = 59940 (large, shard 0);
# USDC 1.0002 x 50000 x 0.999 = 49959.99 (large: other bases >= 20000; once, by shard 3);
# liquidations 19980 + 29970 + 119880 (large) = 169830: a cluster of 3; funding 0.02 then
# 0.15 %/8h: a spike (cooldown 300 s from NOW + 3000); open interest 10000
ACKED: list[RawRecord] = [
    trade("coinbase", "USDTUSD", 0, 0.999, 1_000.0, quote="USD", symbol="USDTUSD"),
    trade("bybit", "BTCUSDT", 100, 100_000.0, 1.5),
    trade("binance_futures", "ETHUSDT", 200, 3_000.0, 20.0),
    trade("binance", "USDCUSDT", 300, 1.0002, 50_000.0),
    liq("binance_futures", 1_000, 0.2), liq("bybit", 2_000, 0.3, "buy"),
    funding(2_500, 0.0002), funding(3_000, 0.0015), open_interest(3_000, 10_000.0),
    liq("bybit", 4_000, 1.2),
]  # fmt: skip
# A writes these outputs (Coinbase BTC-USD 100100 x 2 = 200200; open interest +6 %, its alert's
# timestamp rounded to the second in `alerts`) but dies before acknowledging them
WRITTEN = [trade("coinbase", "BTCUSDT", 5_000, 100_100.0, 2.0, "USD", "BTCUSD"),
           open_interest(5_300, 10_600.0)]  # fmt: skip
# A reads these and dies before handling them: 119880 (large), a liquidation of 14985
READ = [trade("bybit", "BTCUSDT", 6_000, 100_000.0, 1.2), liq("bybit", 6_500, 0.15)]
# nobody read this before B came: 0.25 %/8h within the cooldown A started: no alert
UNREAD = [funding(7_000, 0.0025)]
# after B took over: two liquidations make 3 with the one above, within the cluster cooldown
# (no alert); ETH 3000 x 30 x 0.999 = 89910 (large, shard 0)
LATER = [liq("binance_futures", 8_000, 0.2, "buy"), liq("bybit", 9_000, 0.25),
         trade("binance_futures", "ETHUSDT", 9_500, 3_000.0, 30.0)]  # fmt: skip
EVERY = [*ACKED, *WRITTEN, *READ, *UNREAD, *LATER]


@pytest.fixture(params=["fakeredis", "redis-server", "cluster"])
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    """fakeredis (it runs the lease and group scripts too), a redis-server, and a 3-master
    Redis Cluster (a shard, its lease and `alerts` on different nodes)."""
    if request.param == "cluster":
        client: Any = request.getfixturevalue("redis_cluster").client()
    elif request.param == "fakeredis":
        client = fakeredis.FakeAsyncRedis(server=fakeredis.FakeServer())
    else:
        client = create_redis(request.getfixturevalue("redis_server").url)
    yield client
    await client.aclose()


def single_watcher(records: list[RawRecord], settings: Settings) -> MarketWatch:
    watch = MarketWatch(AlertParams.from_settings(settings))
    for record in records:
        watch.update(record)
    return watch
