"""A 429 storm on every venue, then a 418 ban on both Binance venues, against the collector
as a process (REST polling every 0.2 s plus history sync, so all four venues see REST
traffic from two concurrent loops).

The simulator answers 429 (Retry-After 1 s) to two requests after every three it accepts,
then bans (418, Retry-After 3 s). It counts every request that arrives inside a Retry-After
or ban window: that count must stay 0 on every venue (an IP ban must never be earned), and
after the ban the collector is served again. The in-process variant of the 429 case is
tests/integration/test_collector_simulator.py::test_drops_and_rate_limits_are_survived.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from microservices.common.redis_server import LocalRedis
from microservices.data_collector import exchanges
from microservices.exchange_simulator.config import FaultConfig, MarketConfig, SimulatorConfig
from microservices.exchange_simulator.server import SimulatorHandle, start_simulator
from microservices.exchange_simulator.venues.registry import sim_venues
from tests.reliability.helpers import SIM_VENUES, Services, eventually, measure, service_env

pytestmark = [pytest.mark.integration, pytest.mark.slow]
# venues whose simulated REST escalates 429s into 418 bans (Binance's)
BANNED = tuple(v for v, served in sim_venues().items() if served.rest.bans)
BAN_S = 3
STORM = FaultConfig(
    rate_limit_burst=2, rate_limit_every=3, retry_after_s=1, ban_s=BAN_S, latency_ms=150
)
SYMBOLS = ("BTCUSDT", "ETHUSDT")
# the history sync visits venues in this order; the spot venues (no polling) come first
HISTORY_ORDER = tuple(sorted(SIM_VENUES, key=lambda v: exchanges.venue_specs()[v].has["funding"]))
PERPS = tuple(v for v in SIM_VENUES if exchanges.venue_specs()[v].has["funding"])


def venue_stats(sim: SimulatorHandle) -> dict[str, dict[str, Any]]:
    venues = sim.stats()["venues"]
    return {v: venues.get(v, {}) for v in SIM_VENUES}


def accepted(stats: dict[str, Any]) -> int:
    refused = stats.get("rest_429", 0) + stats.get("rest_418", 0) + stats.get("rest_5xx", 0)
    return int(stats.get("rest_total", 0)) - refused


async def test_429_storm_and_418_ban_get_no_request_inside_a_window(
    redis_server: LocalRedis, stream_prefix: str, services: Services, tmp_path: Path
) -> None:
    config = SimulatorConfig(port=0, market=MarketConfig(symbols=SYMBOLS, seed=3), faults=STORM)
    async with start_simulator(config) as sim:
        collector = services.start(
            "collector",
            service_env(
                redis_server.url,
                stream_prefix,
                sim_base=sim.base_url,
                venues=HISTORY_ORDER,
                symbols=SYMBOLS,
                rest_poll_interval_s=0.2,
                rest_history_dir=str(tmp_path / "history"),
                rest_history_lookback_h=0.1,
            ),
        )

        async def stormed() -> dict[str, Any] | None:
            stats = venue_stats(sim)
            every = all(s.get("rest_429", 0) >= 1 for s in stats.values())
            perps = all(stats[v].get("rest_429", 0) >= 5 for v in PERPS)
            return stats if every and perps else None

        storm = await eventually(stormed, 60, "a 429 on every venue, 5 on each perp venue")
        sim.reset_faults()
        for venue in BANNED:
            sim.set_faults(venue, ban_burst=1, ban_s=BAN_S)

        async def banned() -> dict[str, Any] | None:
            stats = venue_stats(sim)
            return stats if all(stats[v].get("rest_418", 0) >= 1 for v in BANNED) else None

        at_ban = await eventually(banned, 30, "a 418 on both Binance venues")
        banned_at = time.monotonic()

        async def served_again() -> dict[str, Any] | None:
            stats = venue_stats(sim)
            return stats if all(accepted(stats[v]) > accepted(at_ban[v]) for v in BANNED) else None

        after = await eventually(served_again, 30, "accepted requests after the ban")
        recovery_s = time.monotonic() - banned_at
        assert await collector.terminate() == 0
        final = venue_stats(sim)
    inside = {
        v: (s["rest_inside_retry_after"], s["rest_429"], s["rest_418"], s["rest_total"])
        for v, s in final.items()
    }
    assert all(v[0] == 0 for v in inside.values()), str(inside)
    assert all(final[v]["rest_418"] == 1 for v in BANNED)  # the injected ban, nothing earned
    limited = collector.events("rest.rate_limited")
    bans = [e for e in limited if e["status"] == 418]
    assert {e["exchange"] for e in bans} == set(BANNED)
    assert all(e["retry_after_s"] == BAN_S for e in bans)
    measure(
        "REST 429 storm + 418 ban",
        f"{sum(s['rest_429'] for s in final.values())} x 429 "
        f"(storm on 4 venues) + 2 x 418 ({BAN_S} s)",
        "0 requests inside a window",
        recovery_s,
        "test_rate_limits",
        requests=sum(s["rest_total"] for s in final.values()),
        storm_429=sum(s["rest_429"] for s in storm.values()),
        served_after=sum(accepted(after[v]) for v in BANNED),
    )
