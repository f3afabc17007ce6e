"""Bitget (USDT-FUTURES `bitget`, SPOT `bitget_spot`) against the exchange simulator, with a
real redis-server: every record type the venues serve reaches exchange.raw, books reach
exchange.orderbook with Bitget's checksum verified on every update, the gap fault (a skipped
book update) is caught by the checksum and resynced by resubscribing, and a REST 429 burst
is waited out without a request inside its Retry-After window.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aredis

from microservices.common.records import Funding, Trade
from microservices.common.settings import Settings
from microservices.exchange_simulator.config import FaultConfig, MarketConfig, SimulatorConfig
from tests.integration.collector_harness import (
    book_entries,
    book_health,
    eventually,
    raw_records,
    rest_burst_survived,
    running,
)

pytestmark = pytest.mark.integration
VENUES = ("bitget", "bitget_spot")
SYMBOLS = ("BTCUSDT", "ETHUSDT")


@pytest.fixture
def settings(redis_server: Any, settings_factory: Any, tmp_path: Path) -> Settings:
    made: Settings = settings_factory(
        redis_url=redis_server.url, venues=",".join(VENUES), symbols=",".join(SYMBOLS),
        ws_reconnect_base_s=0.05, ws_reconnect_cap_s=0.5, ws_silence_timeout_s=5.0,
        rest_poll_interval_s=1.0, rest_history_dir=str(tmp_path / "history"),
        rest_history_lookback_h=0.5, orderbook_full_interval_ms=200,
    )  # fmt: skip
    return made


def market() -> MarketConfig:
    return MarketConfig(symbols=SYMBOLS, seed=5, rate=30.0)


WANTED: dict[str, tuple[str, ...]] = {
    "bitget": ("trade", "ticker", "kline", "funding", "open_interest"),
    "bitget_spot": ("trade", "ticker", "kline"),
}


async def test_every_record_type_and_the_books_arrive(
    real_redis: aredis.Redis, settings: Settings
) -> None:
    async with running(settings, SimulatorConfig(port=0, market=market()), real_redis) as (
        sim, wired):  # fmt: skip

        async def complete() -> Any:
            seen: Counter[tuple[str, str, str]] = Counter(
                (r.exchange, r.symbol, r.type) for r in await raw_records(real_redis, wired)
            )
            books = {(e.exchange, e.symbol) for e in await book_entries(real_redis, wired)}
            need = [(v, s, t) for v, types in WANTED.items() for s in SYMBOLS for t in types]
            done = all(seen[k] for k in need) and books >= {(v, s) for v in VENUES
                                                             for s in SYMBOLS}  # fmt: skip
            return seen if done else None

        await eventually(complete)
        health = await book_health(real_redis, wired)
        stats = sim.stats()["venues"]["bitget"]
    records = await raw_records(real_redis, wired)
    assert all(r.market == ("spot" if r.exchange == "bitget_spot" else "perp") for r in records)
    btc = [r for r in records if r.symbol == "BTCUSDT" and isinstance(r, Trade)]
    assert all(40_000 < r.price < 100_000 for r in btc)  # synthetic BTC starts near 65,000
    funding = [r for r in records if isinstance(r, Funding)]
    assert {r.funding_interval_h for r in funding} == {8.0}  # fundInterval of the contracts
    assert all(r.next_funding_time_ms for r in funding)
    assert any(r.mark_price for r in funding)  # the ticker's; REST current funding has none
    for venue in VENUES:  # every update's checksum matched: no checksum resync
        assert health[venue]["resyncs"].get("checksum", 0) == 0, health[venue]
    assert stats["rest_inside_retry_after"] == 0


async def test_a_skipped_book_update_fails_the_checksum_and_resubscribes(
    real_redis: aredis.Redis, settings: Settings
) -> None:
    config = SimulatorConfig(port=0, market=market(), faults=FaultConfig(depth_gap_every=30))
    settings = settings.model_copy(update={"rest_enabled": False})
    async with running(settings, config, real_redis) as (sim, wired):

        async def resynced() -> Any:
            health = await book_health(real_redis, wired)
            counts = [health.get(v, {}).get("resyncs", {}).get("checksum", 0) for v in VENUES]
            return health if all(c >= 2 for c in counts) else None

        await eventually(resynced, timeout_s=60)
        before = len(await book_entries(real_redis, wired))
        await eventually(lambda: _more_books(real_redis, wired, before + 20))
        skipped = sim.stats()["venues"]["bitget"]["book_diffs_skipped"]
    assert skipped >= 4


async def _more_books(redis: aredis.Redis, settings: Settings, count: int) -> bool:
    return len(await book_entries(redis, settings)) >= count


async def test_a_429_burst_is_waited_out(real_redis: aredis.Redis, settings: Settings) -> None:
    """Perpetuals and spot share Bitget's (and the simulator's) REST host: one Retry-After
    window covers both, so neither sends inside it."""
    faults = FaultConfig(rate_limit_burst=4, retry_after_s=1)
    config = SimulatorConfig(port=0, market=market(), faults=faults)
    stats = await rest_burst_survived(
        real_redis, settings, config, "bitget",
        lambda r: isinstance(r, Funding) and r.mark_price is None,
    )  # fmt: skip
    assert stats["rest_inside_retry_after"] == 0
    assert stats["rest_418"] == 0
