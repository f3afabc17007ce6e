"""Latency and clock skew end to end, against the exchange simulator on loopback.

1. Every simulated venue's server-time endpoint, measured NTP style through the collector's
   REST client: with a configured skew (+1500 ms on Bybit, changed at run time on Coinbase)
   the estimate is within half the measured round trip (plus the 1 ms resolution of ms
   timestamps) of the truth, and near 0 elsewhere.
2. The collector (real redis-server) and the engine's HTTP API: /health shows per venue
   `latency_ms` {p50, p95, samples} from the records that reached exchange.raw and
   `clock_skew_ms`/`rtt_ms`; /metrics carries `ce_ws_latency_seconds` and
   `ce_clock_skew_seconds`. The only timing bounds are those derived from the measured RTT.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import httpx
import pytest
import redis.asyncio as aredis

from microservices.ai_engine.engine import Engine
from microservices.common.redis_server import free_port
from microservices.common.settings import Settings
from microservices.data_collector import exchanges
from microservices.data_collector.clock_poller import measure_skew, server_time_targets
from microservices.data_collector.clock_skew import SkewSample
from microservices.data_collector.registry import build_exchanges
from microservices.data_collector.rest_client import RestClient
from microservices.data_collector.service import Collector
from microservices.exchange_simulator.config import FaultConfig, MarketConfig, SimulatorConfig
from microservices.exchange_simulator.server import start_simulator
from microservices.runner import simulator_settings

pytestmark = pytest.mark.integration
VENUES = tuple(exchanges.default_venues())
SKEWED, SKEW_MS = "bybit", 1_500.0
RESOLUTION_MS = 1.0  # Binance and the envelope times are whole ms; the bound allows for it


def truth_ms(venue: str) -> float:
    """The skew the simulator was told for the venue's URL venue (Bybit spot shares Bybit's)."""
    return SKEW_MS if exchanges.venue_specs()[venue].url_venue == SKEWED else 0.0


def within_bound(sample: SkewSample, truth: float, slack_ms: float = 0.0) -> bool:
    """NTP: the true skew lies within +-rtt/2 of the estimate (plus timestamp resolution)."""
    return abs(sample.skew_ms - truth) <= sample.rtt_ms / 2 + RESOLUTION_MS + slack_ms


async def eventually(check: Callable[[], Any], timeout_s: float = 45.0) -> Any:
    async def loop() -> Any:
        while True:
            result = await check()
            if result:
                return result
            await asyncio.sleep(0.25)

    return await asyncio.wait_for(loop(), timeout=timeout_s)


def skewed_config(**overrides: Any) -> SimulatorConfig:
    market = MarketConfig(symbols=("BTCUSDT", "ETHUSDT"), seed=3, rate=30.0)
    faults = {SKEWED: FaultConfig(clock_skew_ms=SKEW_MS)}
    return SimulatorConfig(port=0, market=market, venue_faults=faults, **overrides)


@pytest.fixture
def base_settings(settings_factory: Any) -> Settings:
    settings: Settings = settings_factory(
        venues=",".join(VENUES), symbols="BTCUSDT,ETHUSDT", rest_history_dir="",
        rest_poll_interval_s=5.0, clock_skew_poll_s=0.5, api_port=free_port(),
    )  # fmt: skip
    return settings


async def test_server_time_of_every_venue_gives_the_configured_skew(
    base_settings: Settings,
) -> None:
    async with (
        start_simulator(skewed_config()) as sim,
        aiohttp.ClientSession() as session,
    ):
        wired = simulator_settings(base_settings, sim.base_url, sim.ws_base)
        client = RestClient(session, timeout_s=5.0)
        targets = server_time_targets(build_exchanges(wired))
        assert {exchange.name for exchange, _ in targets} == set(VENUES)
        for exchange, spec in targets:
            sample = await measure_skew(client, exchange, spec)
            assert within_bound(sample, truth_ms(exchange.name)), (exchange.name, sample)
        sim.set_faults("coinbase", clock_skew_ms=-700.25)  # at run time, like any fault
        coinbase = next(t for t in targets if t[0].name == "coinbase")
        sample = await measure_skew(client, *coinbase)
        assert within_bound(sample, -700.25), sample


@contextlib.asynccontextmanager
async def collecting(
    settings: Settings, redis: aredis.Redis
) -> AsyncIterator[tuple[Settings, httpx.AsyncClient]]:
    """Simulator, collector and the engine's HTTP API, all on loopback."""
    async with start_simulator(skewed_config()) as sim:
        wired = simulator_settings(settings, sim.base_url, sim.ws_base)
        stop = asyncio.Event()
        tasks = [
            asyncio.create_task(Collector(wired, redis).run(stop)),
            asyncio.create_task(Engine(wired, redis)._serve(stop)),
        ]
        try:
            base = f"http://127.0.0.1:{wired.api_port}"
            async with httpx.AsyncClient(base_url=base, timeout=10) as client:
                yield wired, client
        finally:
            stop.set()
            await asyncio.wait_for(asyncio.gather(*tasks), timeout=20)


async def raw_latencies(redis: aredis.Redis, settings: Settings, venue: str) -> list[int]:
    """recv_ms - ts_ms of the venue's measured records in exchange.raw."""
    stream = settings.streams().raw
    kinds = exchanges.venue_specs()[venue].latency_types
    rows: Any = await redis.xrange(stream.name)
    records = [stream.schema.decode(fields) for _, fields in rows]
    return [r.recv_ms - r.ts_ms for r in records if r.exchange == venue and r.type in kinds]


def metric(text: str, name: str, **labels: str) -> list[float]:
    """Values of the exposition lines of `name` carrying all `labels`."""
    out = []
    for line in text.splitlines():
        head, _, value = line.rpartition(" ")
        if head.startswith(name + "{") and all(f'{k}="{v}"' in head for k, v in labels.items()):
            out.append(float(value))
    return out


async def test_health_and_metrics_carry_latency_and_skew(
    real_redis: aredis.Redis, redis_server: Any, base_settings: Settings
) -> None:
    settings = base_settings.model_copy(update={"redis_url": redis_server.url})
    async with collecting(settings, real_redis) as (wired, client):

        async def measured() -> Any:
            try:
                body = (await client.get("/health")).json()
            except (httpx.TransportError, ValueError):
                return None
            venues = body.get("venues", {})
            done = all(
                venues.get(v, {}).get("clock_skew_ms") is not None
                and venues[v].get("latency_ms", {}).get("samples", 0) >= 20
                for v in VENUES
            )
            return venues if done else None

        venues = await eventually(measured)
        exposition = (await client.get("/metrics")).text
        latencies = {v: await raw_latencies(real_redis, wired, v) for v in VENUES}
    for venue in VENUES:
        item = venues[venue]
        skew = SkewSample(item["clock_skew_ms"], item["rtt_ms"], 0.0)
        assert within_bound(skew, truth_ms(venue), slack_ms=0.1), (
            venue,
            item,
        )  # /health rounds to 0.1
        latency = item["latency_ms"]
        real = latencies[venue]
        assert real, venue
        # the percentiles are latencies of records that reached exchange.raw
        assert min(real) <= latency["p50"] <= latency["p95"] <= max(real), (venue, latency)
        (gauge,) = metric(exposition, "ce_clock_skew_seconds", exchange=venue)
        assert abs(gauge * 1000 - item["clock_skew_ms"]) <= item["rtt_ms"] + RESOLUTION_MS
        (count,) = metric(exposition, "ce_ws_latency_seconds_count", exchange=venue, type="trade")
        assert count >= 1
        assert metric(exposition, "ce_ws_latency_recent_seconds", exchange=venue, quantile="0.95")
    buckets = re.findall(r'ce_ws_latency_seconds_bucket\{[^}]*le="([^"]+)"', exposition)
    assert {"0.0", "0.05", "+Inf"} <= set(buckets)
