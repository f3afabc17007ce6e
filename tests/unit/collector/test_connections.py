"""The connection pool keeps each venue's WebSocket connections equal to its plans: unchanged
plans keep their connection, changed ones are replaced, unplanned ones closed and forgotten."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from microservices.data_collector.connections import ConnectionPool
from microservices.data_collector.exchanges import EXCHANGES
from microservices.data_collector.exchanges.base import Exchange, ParseStats, WsConnectionPlan
from microservices.data_collector.venue_status import VenueStatus


@dataclass
class Params:
    silence_timeout_s: float = 30.0


@dataclass
class Parser:
    stats: ParseStats = field(default_factory=ParseStats)


class FakeRunner:
    """Stands in for WsConnectionRunner: runs until cancelled or stopped."""

    def __init__(self, exchange: Exchange, plan: WsConnectionPlan) -> None:
        self.exchange, self.plan = exchange, plan
        self.params, self.parser = Params(), Parser()
        self.parser.stats.emitted = {"trade": 7}
        self.started = self.cancelled = False

    async def run(self, stop: asyncio.Event) -> None:
        self.started = True
        try:
            await stop.wait()
        except asyncio.CancelledError:
            self.cancelled = True
            raise

    def sync_stats(self) -> None:
        pass


async def settle() -> None:
    """Let the tasks just created run up to their first wait."""
    for _ in range(20):
        await asyncio.sleep(0)


class SmallBinance(EXCHANGES["binance"]):  # type: ignore[misc,valid-type]
    max_streams_per_connection = 6  # two symbols (3 streams each) per connection


async def test_apply_replaces_only_connections_whose_plan_changed() -> None:
    listed = SmallBinance([], "wss://x", "https://x").rule_catalog(
        ["BTCUSDT", "ETHUSDT", "SOLUSDT", "DOGEUSDT"]
    )
    binance = SmallBinance(["BTCUSDT", "ETHUSDT", "SOLUSDT"], "wss://x", "https://x", listed)
    status = VenueStatus()
    pool = ConnectionPool({"binance": binance}, FakeRunner, status)  # type: ignore[arg-type]
    stop = asyncio.Event()
    task = asyncio.create_task(pool.run(stop))
    await settle()
    first, second = pool.runners
    assert [r.plan.symbols for r in pool.runners] == [("BTCUSDT", "ETHUSDT"), ("SOLUSDT",)]
    assert first.started and second.started  # type: ignore[attr-defined]

    binance.follow(["BTCUSDT", "ETHUSDT", "SOLUSDT", "DOGEUSDT"])  # the last connection grows
    await pool.apply(["binance"])
    await settle()
    assert pool.runners[0] is first and not first.cancelled  # type: ignore[attr-defined]
    assert second.cancelled and second not in pool.runners  # type: ignore[attr-defined]
    assert [r.plan.symbols for r in pool.runners] == [
        ("BTCUSDT", "ETHUSDT"),
        ("SOLUSDT", "DOGEUSDT"),
    ]
    assert pool.runners[1].started  # type: ignore[attr-defined]
    assert pool.retired_records == 7  # the replaced connection's records still count

    binance.follow(["BTCUSDT"])  # one connection left: #0 changes, #1 goes away
    await pool.apply(["binance"])
    assert [r.plan.label for r in pool.runners] == ["binance#0"]
    assert status.summary()["binance"]["connections"] == 1  # binance#1 forgotten
    stop.set()
    await asyncio.wait_for(task, timeout=5)


def test_runners_are_built_before_the_pool_runs() -> None:
    binance = SmallBinance(["BTCUSDT"], "wss://x", "https://x")
    pool = ConnectionPool({"binance": binance}, FakeRunner, VenueStatus())  # type: ignore[arg-type]
    assert [r.plan.label for r in pool.runners] == ["binance#0"]
    assert not pool.runners[0].started  # type: ignore[attr-defined]
    assert isinstance(pool.runners[0].plan, WsConnectionPlan)
    _: Any = pool
