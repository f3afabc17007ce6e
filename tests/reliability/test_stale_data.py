"""Every venue goes silent: ExitBrain falls back to local mode, alerts once, /health says so,
and everything recovers when the data returns. Collector and engine run as processes.

The simulator silences every connection (sockets stay open, no data); the collector keeps
reconnecting, the aggregator stops emitting once no venue is fresh, and ExitBrain (stale
after 3 s, a cycle every 0.5 s) must go local for every symbol with exactly one
FALLBACK_TO_LOCAL and one DATA_STALE, repeated by none of the following cycles, and never
use data older than the threshold. Then the data returns: one RECOVERED per symbol and
/health back to ok.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import pytest
import redis.asyncio as aredis

from microservices.common.redis_server import LocalRedis, free_port
from microservices.common.streams import build_streams
from microservices.exchange_simulator.config import MarketConfig, SimulatorConfig
from microservices.exchange_simulator.server import start_simulator
from tests.reliability.helpers import (
    SIM_VENUES,
    Services,
    eventually,
    http_json,
    measure,
    service_env,
    stream_fields,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]
SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")
STALE_S = 3.0
INTERVAL_S = 0.5


async def alerts_after(redis: aredis.Redis, name: str, after_id: str) -> list[dict[str, str]]:
    return [f for i, f in await stream_fields(redis, name) if _newer(i, after_id)]


def _newer(entry_id: str, after_id: str) -> bool:
    a, b = (tuple(int(p) for p in x.split("-")) for x in (entry_id, after_id))
    return a > b


async def test_all_venues_silent_local_mode_once_then_recovery(
    redis_server: LocalRedis, real_redis: aredis.Redis, stream_prefix: str, services: Services
) -> None:
    streams = build_streams(stream_prefix)
    port = free_port()
    health_url = f"http://127.0.0.1:{port}/health"
    config = SimulatorConfig(port=0, market=MarketConfig(symbols=SYMBOLS, seed=9, rate=10.0))
    async with start_simulator(config) as sim:
        common = {
            "venues": SIM_VENUES,
            "symbols": SYMBOLS,
            "ws_silence_timeout_s": 1.5,
            "ws_reconnect_base_s": 0.1,
            "ws_reconnect_cap_s": 0.5,
            "aggregator_stale_after_s": 2.0,
            "exitbrain_stale_after_s": STALE_S,
            "exitbrain_interval_s": INTERVAL_S,
        }
        services.start(
            "collector",
            service_env(redis_server.url, stream_prefix, sim_base=sim.base_url, **common),
            "--no-rest",
        )
        engine = services.start(
            "engine", service_env(redis_server.url, stream_prefix, api_port=port, **common)
        )

        async def status_is(*wanted: str) -> dict[str, Any] | None:
            reply = await http_json(health_url)
            ok = reply is not None and reply[1].get("status") in wanted
            return reply[1] if ok else None  # type: ignore[index]

        await eventually(lambda: status_is("ok"), 60, "/health ok before the fault")
        before = await stream_fields(real_redis, streams.alerts.name)
        mark = before[-1][0] if before else "0-0"

        silenced = time.monotonic()
        sim.set_faults(None, silence_after=0, silence_for_s=None)

        async def local_everywhere() -> list[dict[str, str]] | None:
            alerts = await alerts_after(real_redis, streams.alerts.name, mark)
            fallen = {a["symbol"] for a in alerts if a["type"] == "FALLBACK_TO_LOCAL"}
            return alerts if fallen == set(SYMBOLS) else None

        await eventually(local_everywhere, 60, "FALLBACK_TO_LOCAL for every symbol")
        detected_s = time.monotonic() - silenced
        degraded = await eventually(lambda: status_is("degraded", "down"), 30, "/health degraded")
        assert degraded["cross_exchange_exitbrain_integration"]["adapter_stats"]["use_local_mode"]
        assert degraded["metrics"]["cross_exchange_intelligence"] is False
        statuses_then = await real_redis.xlen(streams.status.name)

        async def cycles_passed() -> bool:  # six more ExitBrain cycles for every symbol
            return int(await real_redis.xlen(streams.status.name)) >= statuses_then + 6 * 3

        await eventually(cycles_passed, 30, "six ExitBrain cycles in local mode")
        during = Counter(
            (a["symbol"], a["type"])
            for a in await alerts_after(real_redis, streams.alerts.name, mark)
        )
        restored = time.monotonic()
        sim.set_faults(None, silence_after=None)

        async def recovered() -> dict[str, Any] | None:
            alerts = await alerts_after(real_redis, streams.alerts.name, mark)
            back = {a["symbol"] for a in alerts if a["type"] == "RECOVERED"}
            return await status_is("ok") if back == set(SYMBOLS) else None

        await eventually(recovered, 60, "RECOVERED for every symbol and /health ok")
        recovery_s = time.monotonic() - restored
        assert await engine.terminate() == 0
    for symbol in SYMBOLS:
        assert during[(symbol, "FALLBACK_TO_LOCAL")] == 1, during
        assert during[(symbol, "DATA_STALE")] == 1, during
        assert during[(symbol, "RECOVERED")] == 0, during
    after = Counter(
        (a["symbol"], a["type"]) for a in await alerts_after(real_redis, streams.alerts.name, mark)
    )
    for symbol in SYMBOLS:
        assert after[(symbol, "FALLBACK_TO_LOCAL")] == 1 and after[(symbol, "RECOVERED")] == 1
    statuses = [f for _, f in await stream_fields(real_redis, streams.status.name)]
    used = [s for s in statuses if s["cross_exchange_active"] == "true"]
    assert used and all(float(s["data_age_seconds"]) <= STALE_S for s in used)
    assert any(s["cross_exchange_active"] == "false" for s in statuses)
    measure(
        "Stale data",
        "all 4 venues silenced (sockets open, no data) for 6+ ExitBrain cycles",
        "nothing used: local mode (multipliers 1.0), 1 FALLBACK_TO_LOCAL + 1 DATA_STALE per symbol",
        recovery_s,
        "test_stale_data",
        detected_s=round(detected_s, 2),
    )
