"""A venue whose socket stays open but stops sending market data, while its pings keep flowing
(Binance's server pings, Bybit's JSON pongs, Coinbase's protocol pongs), is reconnected within
its own silence timeout and /health turns degraded with the venue `silent`: for every venue.

The collector runs in-process against the simulator with a real redis-server; the venue's
timeout comes from WS_SILENCE_TIMEOUT_OVERRIDES (the global default stays long), and pings
are sent every 0.2 s so that many of them pass during each silent period.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import redis.asyncio as aredis

from microservices.ai_engine.health import gather_health
from microservices.common.clock import now_ms
from microservices.common.redis_io import xadd_record
from microservices.common.settings import Settings
from microservices.data_collector.exchanges import EXCHANGES, venue_specs
from microservices.data_collector.service import Collector
from microservices.exchange_simulator.config import MarketConfig, SimulatorConfig
from microservices.exchange_simulator.server import start_simulator
from microservices.runner import simulator_settings
from tests.factories import snapshot
from tests.reliability.helpers import eventually as poll_until

pytestmark = pytest.mark.integration
TIMEOUT_S = 1.0
PING_S = 0.2


async def eventually(check: Callable[[], Awaitable[Any]], what: str) -> Any:
    """The suite's poller, every 50 ms, for at most 30 s."""
    return await poll_until(check, 30.0, what, every_s=0.05)


@pytest.mark.parametrize("venue", sorted(EXCHANGES))
async def test_silent_venue_is_reconnected_and_reported_degraded(
    venue: str, real_redis: aredis.Redis, redis_server: Any, settings_factory: Any
) -> None:
    sim_venue = venue_specs()[venue].url_venue  # the simulator serves bybit_spot under bybit
    config = SimulatorConfig(
        port=0, venues=(sim_venue,), market=MarketConfig(symbols=("BTCUSDT",), seed=5, rate=20.0),
        binance_ping_interval_s=PING_S, futures_ping_interval_s=PING_S,
    )  # fmt: skip
    settings: Settings = settings_factory(
        redis_url=redis_server.url, venues=venue, symbols="BTCUSDT", rest_enabled=False,
        ws_silence_timeout_s=300.0, ws_silence_timeout_overrides={venue: TIMEOUT_S},
        ws_ping_interval_s=PING_S, ws_reconnect_base_s=0.05, ws_reconnect_cap_s=0.2,
    )  # fmt: skip
    # fresh cross-venue data, so that /health is `ok` exactly while the venue is healthy
    await xadd_record(real_redis, settings.streams().normalized, snapshot(ts_ms=now_ms()))

    async def health(state: str, status: str) -> dict[str, Any] | None:
        _, body = await gather_health(real_redis, settings, {})
        ok = body["status"] == status and body["venues"][venue]["state"] == state
        return body if ok else None

    async with start_simulator(config) as sim:
        collector = Collector(simulator_settings(settings, sim.base_url, sim.ws_base), real_redis)
        stop = asyncio.Event()
        task = asyncio.create_task(collector.run(stop))
        try:
            await eventually(lambda: health("connected", "ok"), "the venue live, /health ok")
            before = sim.stats()["venues"][sim_venue]
            sim.set_faults(sim_venue, silence_after=0, silence_for_s=None)
            await eventually(lambda: health("silent", "degraded"), "/health degraded, venue silent")

            async def reconnected_twice() -> dict[str, Any] | None:
                item = collector.status.summary()[venue]
                return item if item["reconnects"] >= 2 else None

            item = await eventually(reconnected_twice, "two reconnects of the silent socket")
            during = sim.stats()["venues"][sim_venue]
        finally:
            stop.set()
            await asyncio.wait_for(task, timeout=20)
    assert item["last_cause"] == "silent 1s"
    assert item["silence_timeout_s"] == TIMEOUT_S
    assert item["live"] == 0
    # the pings kept flowing while no data did: the socket was open, only the feed was dead
    assert during["data_frames_sent"] == before["data_frames_sent"]
    assert during["frames_suppressed"] > before["frames_suppressed"]
    pings = (
        during["pings_sent"] + during["pongs_sent"] - before["pings_sent"] - before["pongs_sent"]
    )
    assert pings >= 3
    assert during["ws_opened"] > before["ws_opened"]  # the silent socket was replaced
