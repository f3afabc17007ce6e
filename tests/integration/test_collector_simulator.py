"""The collector against the exchange simulator, with a real redis-server (issue: connectivity).

1. Synthetic markets for all four venues and three symbols: exchange.raw holds trades and
   tickers for every (venue, symbol), funding and open interest for the perps, sane prices.
2. Injected faults: connections dropped every N frames and a 429 burst on REST: the collector
   reconnects and keeps delivering, and sends no request inside a Retry-After window.
3. Replay of real captures: records parsed from the replayed frames reach exchange.raw.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aredis

from microservices.common.records import RawRecord
from microservices.common.settings import Settings
from microservices.common.streams import collector_key
from microservices.data_collector import exchanges
from microservices.data_collector.service import Collector
from microservices.exchange_simulator.config import FaultConfig, MarketConfig, SimulatorConfig
from microservices.exchange_simulator.server import SimulatorHandle, start_simulator
from microservices.runner import simulator_settings
from tests.fixture_paths import shared_fixture

pytestmark = pytest.mark.integration
VENUES = tuple(exchanges.default_venues())
SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")
PERPS = tuple(v for v in exchanges.venues_with("funding") if v in VENUES)


async def raw_records(redis: aredis.Redis, settings: Settings) -> list[RawRecord]:
    stream = settings.streams().raw
    rows: Any = await redis.xrange(stream.name)
    return [stream.schema.decode(fields) for _, fields in rows]


async def eventually(check: Callable[[], Any], timeout_s: float = 45.0) -> Any:
    async def loop() -> Any:
        while True:
            result = await check()
            if result:
                return result
            await asyncio.sleep(0.25)

    return await asyncio.wait_for(loop(), timeout=timeout_s)


@pytest.fixture
def base_settings(redis_server: Any, settings_factory: Any, tmp_path: Path) -> Settings:
    settings: Settings = settings_factory(
        redis_url=redis_server.url, venues=",".join(VENUES), symbols=",".join(SYMBOLS),
        ws_reconnect_base_s=0.05, ws_reconnect_cap_s=0.5, ws_silence_timeout_s=5.0,
        rest_poll_interval_s=1.0, rest_history_dir=str(tmp_path / "history"),
        rest_history_lookback_h=0.5,
    )  # fmt: skip
    return settings


@contextlib.asynccontextmanager
async def running(
    settings: Settings, config: SimulatorConfig, redis: aredis.Redis
) -> AsyncIterator[tuple[SimulatorHandle, Collector, Settings]]:
    async with start_simulator(config) as sim:
        wired = simulator_settings(settings, sim.base_url, sim.ws_base)
        collector = Collector(wired, redis)
        stop = asyncio.Event()
        task = asyncio.create_task(collector.run(stop))
        try:
            yield sim, collector, wired
        finally:
            stop.set()
            await asyncio.wait_for(task, timeout=20)


def market(**overrides: Any) -> MarketConfig:
    base = MarketConfig(symbols=SYMBOLS, seed=7, rate=40.0, liquidations_per_min=120.0)
    return dataclasses.replace(base, **overrides)


async def test_synthetic_markets_reach_exchange_raw(
    real_redis: aredis.Redis, base_settings: Settings
) -> None:
    config = SimulatorConfig(port=0, market=market())
    async with running(base_settings, config, real_redis) as (sim, collector, settings):

        def by_key(records: list[RawRecord]) -> Counter[tuple[str, str, str]]:
            return Counter((r.exchange, r.group, r.type) for r in records)

        async def complete() -> Any:
            seen = by_key(await raw_records(real_redis, settings))
            need = [(v, s, t) for v in VENUES for s in SYMBOLS for t in ("trade", "ticker")]
            need += [
                (v, s, t) for v in PERPS for s in SYMBOLS for t in ("funding", "open_interest")
            ]
            return seen if all(seen[k] > 0 for k in need) else None

        seen = await eventually(complete)
        health: Any = await real_redis.hgetall(collector_key(settings.stream_prefix, "health"))
        assert {k.decode() for k in health} >= set(VENUES) | {"_producer"}
    records = await raw_records(real_redis, settings)
    btc = [r for r in records if r.symbol == "BTCUSDT" and r.type == "trade"]
    assert all(40_000 < r.price < 100_000 for r in btc)  # synthetic BTC starts near 65,000
    coinbase = [r for r in records if r.exchange == "coinbase"]
    assert {r.venue_symbol for r in coinbase} == {"BTC-USD", "ETH-USD", "SOL-USD"}
    assert {(r.symbol, r.group, r.quote) for r in coinbase if r.venue_symbol == "BTC-USD"} == {
        ("BTCUSD", "BTCUSDT", "USD")
    }
    assert all(r.market == "perp" for r in records if r.exchange in PERPS)
    assert sum(seen[(v, s, "liquidation")] for v in PERPS for s in SYMBOLS) > 0
    assert collector.producer.dropped == 0


async def test_per_symbol_funding_intervals_are_honoured(
    real_redis: aredis.Redis, base_settings: Settings
) -> None:
    """Binance lists its non-8 h symbols only in /fapi/v1/fundingInfo; Bybit says the interval
    in every ticker. A 4 h symbol's rate is per 4 h: rate / interval must be the 8 h rate / 8."""
    intervals = {"binance_futures:SOLUSDT": 4, "bybit:ETHUSDT": 1}
    config = SimulatorConfig(port=0, market=market(funding_intervals_h=intervals))
    settings = base_settings.model_copy(update={"venues": list(PERPS)})
    expected = {  # (venue, symbol) -> (interval h, rate per interval), 8 h rates 1e-4 / 3e-4
        ("binance_futures", "SOLUSDT"): (4.0, 0.00005),
        ("binance_futures", "BTCUSDT"): (8.0, 0.0001),
        ("bybit", "ETHUSDT"): (1.0, 0.0000375),
        ("bybit", "BTCUSDT"): (8.0, 0.0003),
    }
    async with running(settings, config, real_redis) as (sim, collector, wired):

        async def latest_funding() -> Any:
            records = [r for r in await raw_records(real_redis, wired) if r.type == "funding"]
            latest = {(r.exchange, r.symbol): r for r in records}  # oldest first: newest wins
            got = {k: (r.funding_interval_h, r.funding_rate) for k, r in latest.items()}
            done = all(k in got and got[k][0] == v[0] for k, v in expected.items())
            return got if done else None

        got = await eventually(latest_funding)
        assert collector.exchanges["binance_futures"].funding_intervals == {"SOLUSDT": 4.0}
    for key, (hours, rate) in expected.items():
        assert got[key][0] == hours, key
        assert got[key][1] == pytest.approx(rate, rel=1e-6), key


async def test_drops_and_rate_limits_are_survived(
    real_redis: aredis.Redis, base_settings: Settings
) -> None:
    faults = FaultConfig(drop_every=150, rate_limit_burst=4, retry_after_s=1)
    config = SimulatorConfig(port=0, market=market(), faults=faults)
    async with running(base_settings, config, real_redis) as (sim, collector, settings):

        async def recovered() -> Any:
            stats = {v: sim.stats()["venues"].get(v, {}) for v in VENUES}
            reconnected = all(stats[v].get("ws_opened", 0) >= 3 for v in VENUES)
            limited = sum(stats[v].get("rest_429", 0) for v in VENUES) >= 4
            polled = sum(stats[v].get("rest_total", 0) for v in PERPS) >= 12
            return stats if reconnected and limited and polled else None

        stats = await eventually(recovered, timeout_s=60)
        count_before = await real_redis.xlen(settings.streams().raw.name)
        await eventually(lambda: _grew(real_redis, settings, count_before))
    for venue in VENUES:
        assert stats[venue]["drops"] >= 2
        assert stats[venue]["rest_inside_retry_after"] == 0, venue
        assert stats[venue]["rest_418"] == 0  # never escalated to a ban
    records = await raw_records(real_redis, settings)
    types = Counter((r.exchange, r.type) for r in records)
    assert all(types[(v, "trade")] > 0 for v in VENUES)
    summary = collector.status.summary()
    assert all(summary[v]["reconnects"] >= 2 for v in VENUES)


async def _grew(redis: aredis.Redis, settings: Settings, before: int) -> bool:
    return int(await redis.xlen(settings.streams().raw.name)) > before + 100


async def test_replayed_real_frames_are_parsed(
    real_redis: aredis.Redis, base_settings: Settings
) -> None:
    captures = (
        shared_fixture("bybit/ws/tardis-node_mappers-test_samples.jsonl"),
        shared_fixture("binance-futures/ws/tardis-node_mappers-test_samples.jsonl"),
    )
    config = SimulatorConfig(port=0, market=market(), synthetic=False, replay=captures,
                             venues=("binance_futures", "bybit"), after_replay="idle")  # fmt: skip
    settings = base_settings.model_copy(  # the captures' linear trades are LTCUSDT's
        update={"venues": ["binance_futures", "bybit"], "rest_enabled": False,
                "symbols": [*SYMBOLS, "LTCUSDT"]}
    )  # fmt: skip
    async with running(settings, config, real_redis) as (sim, collector, wired):

        async def replayed() -> Any:
            records = await raw_records(real_redis, wired)
            venues = {r.exchange for r in records}
            return records if venues >= {"binance_futures", "bybit"} else None

        records = await eventually(replayed)
    assert all(r.symbol in ("BTCUSDT", "ETHUSDT", "SOLUSDT") or r.symbol for r in records)
    bybit_trades = [r for r in records if r.exchange == "bybit" and r.type == "trade"]
    assert bybit_trades, "the tardis v5 publicTrade frames should replay as trades"
    assert all(r.ts_ms < 1_800_000_000_000 for r in bybit_trades)  # real capture times, not now
