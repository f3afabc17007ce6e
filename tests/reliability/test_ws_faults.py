"""WebSocket drops and silent connections, per venue, against the collector as a process.

The simulator drops Binance spot and USDⓈ-M connections every N data frames (close frame),
silences Bybit after 50 frames until the collector's watchdog gives up on the socket, and
stalls Coinbase briefly before dropping it. Then every venue is silenced, and the records
that reached exchange.raw are reconciled with the simulator's own count of frames written:
exact for every frame kind that maps 1:1 to a record (after the parser's duplicate rejects,
which are the Coinbase `last_match` replays after each resubscription). Frames the simulator
suppressed (silence) were never sent, so nothing is expected for them. Every reconnect delay
the collector logged stays within WS_RECONNECT_CAP_S.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

import orjson
import pytest
import redis.asyncio as aredis

from microservices.common.redis_server import LocalRedis
from microservices.common.streams import build_streams, collector_key
from microservices.exchange_simulator.config import FaultConfig, MarketConfig, SimulatorConfig
from microservices.exchange_simulator.server import SimulatorHandle, start_simulator
from tests.reliability.helpers import (
    Services,
    eventually,
    measure,
    service_env,
    stream_fields,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]
SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")
CAP_S = 0.4
SILENCE_TIMEOUT_S = 1.5
FAULTS = {
    "binance": FaultConfig(drop_every=40),
    "binance_futures": FaultConfig(drop_every=70),
    "bybit": FaultConfig(silence_after=50),  # silent until the connection ends
    "coinbase": FaultConfig(drop_every=60, silence_after=20, silence_for_s=0.5),
}
DROPPING = tuple(venue for venue, faults in FAULTS.items() if faults.drop_every)
# the venues collected here: those whose faults and frame -> record counts this test knows
# (every other venue's faults are covered by its own simulator test)
VENUES = tuple(FAULTS)
# record type <- frame kind, where one data frame carries exactly one record
EXACT: dict[str, dict[str, str]] = {
    "binance": {"trade": "aggTrade", "ticker": "bookTicker", "kline": "kline_1m"},
    "binance_futures": {
        "trade": "aggTrade",
        "ticker": "bookTicker",
        "kline": "kline_1m",
        "funding": "markPrice@1s",
        "liquidation": "forceOrder",
    },
    "bybit": {"kline": "kline"},
    "coinbase": {"trade": "matches", "ticker": "ticker"},
}
# record type <- frame kind, where one frame carries one or more records (Bybit batches trades
# of one match into one message)
AT_LEAST = {"bybit": {"trade": "publicTrade", "liquidation": "allLiquidation"}}
# record type <- frame kind, where a frame carries at most one (a Bybit tickers delta yields a
# Ticker only when the best bid/ask changed)
AT_MOST = {"bybit": {"ticker": "tickers"}}


def frame_kind(key: str) -> str:
    """'btcusdt@markPrice@1s' -> 'markPrice@1s', 'kline.1.BTCUSDT' -> 'kline',
    'matches:BTC-USD' -> 'matches'."""
    if "@" in key:
        return key.split("@", 1)[1]
    return key.split(".", 1)[0].split(":", 1)[0]


def frames_by_kind(stats: dict[str, Any]) -> Counter[str]:
    kinds: Counter[str] = Counter()
    for key, count in stats["frames_by_stream"].items():
        kinds[frame_kind(key)] += count
    return kinds


def faults_done(sim: SimulatorHandle) -> bool:
    venues = sim.stats()["venues"]
    dropped = all(venues.get(v, {}).get("drops", 0) >= 3 for v in DROPPING)
    return dropped and venues.get("bybit", {}).get("ws_opened", 0) >= 4


def reconnect_gaps(events: list[dict[str, Any]]) -> list[float]:
    """Seconds from each `ws.closed`/`ws.silent` to the next `ws.connected` of that connection."""
    down: dict[str, float] = {}
    gaps = []
    for event in events:
        ts = datetime.fromisoformat(event["ts"].replace("Z", "+00:00")).timestamp()
        conn = event.get("conn")
        if event["event"] in ("ws.closed", "ws.silent") and conn not in down:
            down[conn] = ts
        elif event["event"] == "ws.connected" and conn in down:
            gaps.append(ts - down.pop(conn))
    return gaps


async def test_drops_and_silence_lose_no_frame_and_backoff_stays_capped(
    redis_server: LocalRedis, real_redis: aredis.Redis, stream_prefix: str, services: Services
) -> None:
    config = SimulatorConfig(
        port=0, market=MarketConfig(symbols=SYMBOLS, seed=11, rate=20.0), venue_faults=FAULTS
    )
    raw = build_streams(stream_prefix).raw.name
    async with start_simulator(config) as sim:
        env = service_env(
            redis_server.url,
            stream_prefix,
            sim_base=sim.base_url,
            venues=VENUES,
            symbols=SYMBOLS,
            rest_enabled="false",
            maxlen_raw=1_000_000,
            ws_reconnect_base_s=0.05,
            ws_reconnect_cap_s=CAP_S,
            ws_silence_timeout_s=SILENCE_TIMEOUT_S,
        )
        collector = services.start("collector", env)

        async def injected() -> bool:
            return faults_done(sim)

        await eventually(injected, 60, "3+ drops/silences on every venue")
        during = sim.stats()["venues"]  # what the faults did, before the final silence
        sim.set_faults(None, silence_after=0, silence_for_s=None, drop_every=0)  # all quiet now
        stats = await settle(real_redis, raw, stream_prefix)
        sim_stats = sim.stats()["venues"]
        assert await collector.terminate() == 0
    records = Counter((f["exchange"], f["type"]) for _, f in await stream_fields(real_redis, raw))
    for venue in VENUES:
        frames = frames_by_kind(sim_stats[venue])
        reasons = stats[venue]["rejected_by_reason"]
        duplicates = reasons.get("duplicate", 0)  # trades replayed after a resubscription
        assert "malformed" not in reasons, (venue, reasons)
        for record_type, kind in EXACT[venue].items():
            expected = frames[kind] - (duplicates if record_type == "trade" else 0)
            assert records[(venue, record_type)] == expected, (venue, record_type, frames)
        for record_type, kind in AT_LEAST.get(venue, {}).items():
            assert records[(venue, record_type)] >= frames[kind] - duplicates, (venue, record_type)
        for record_type, kind in AT_MOST.get(venue, {}).items():
            assert 0 < records[(venue, record_type)] <= frames[kind], (venue, record_type)
        if venue != "coinbase":
            assert set(reasons) <= {"ignored"}, (venue, reasons)
        # every dropped connection had been resubscribed and had delivered its N frames
        drop_every = FAULTS[venue].drop_every
        assert during[venue]["data_frames_sent"] >= drop_every * during[venue]["drops"]
    assert during["bybit"]["data_frames_sent"] >= 50 * during["bybit"]["ws_closed"]

    assert collector.events("collector.stopped"), "a graceful stop after SIGTERM"
    logs = collector.logs()
    scheduled = [e for e in logs if e["event"] == "ws.reconnect_scheduled"]
    assert scheduled and all(0 <= e["delay_s"] <= CAP_S for e in scheduled)
    causes = Counter((e["conn"].split("#")[0], e["cause"]) for e in scheduled)
    for venue in DROPPING:
        assert causes[(venue, "closed")] >= 3, causes
    assert causes[("bybit", "silence")] >= 3, causes
    gaps = reconnect_gaps(logs)
    total_drops = sum(during[v]["drops"] for v in VENUES)
    measure(
        "WS drops/silence",
        f"{total_drops} drops + {during['bybit']['ws_closed']} silent sockets across 4 venues",
        "0 frames",
        max(gaps),
        "test_ws_faults",
        frames=sum(sim_stats[v]["data_frames_sent"] for v in VENUES),
        max_delay_s=max(e["delay_s"] for e in scheduled),
    )


async def settle(redis: aredis.Redis, raw: str, prefix: str) -> dict[str, Any]:
    """Wait until exchange.raw stops growing and the collector's heartbeat shows per venue as
    many parsed records as exchange.raw holds; returns the heartbeat's venue entries."""
    previous = {"length": -1}

    async def quiet() -> dict[str, Any] | None:
        length = int(await redis.xlen(raw))
        stable, previous["length"] = length == previous["length"], length
        health: Any = await redis.hgetall(collector_key(prefix, "health"))
        venues = {k.decode(): orjson.loads(v) for k, v in health.items() if k != b"_producer"}
        per_venue = Counter(f["exchange"] for _, f in await stream_fields(redis, raw))
        synced = all(venues.get(v, {}).get("records") == per_venue[v] for v in VENUES)
        return venues if stable and synced else None

    result: dict[str, Any] = await eventually(quiet, 30, "exchange.raw to settle", every_s=1.2)
    return result
