"""The engine's API over real HTTP (uvicorn on a free port, a real redis-server) with
STREAM_SHARDS=4 and five symbols spread over all four shards: each symbol's normalized state,
features and signal come from its own shard (a stray newer BTCUSDT entry in another shard is
never read), the ExitBrain status is the newest of all shards, /health sums lengths and lags
(and lists the shards), the dashboard's live stream delivers events of every shard, its
history and alerts read across shards, and the terminal view shows every symbol's status."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
import redis.asyncio as aredis
import uvicorn

from backend.domains.exits.exit_brain_v3.cross_exchange_adapter import CrossExchangeAdapter
from microservices.ai_engine.app import EngineContext, create_app
from microservices.ai_engine.features.feature_loader import FeatureLoader
from microservices.ai_engine.market.arbitrage import RunScanner
from microservices.ai_engine.market.service import MarketService
from microservices.ai_engine.orderbook_api import BookReader
from microservices.common.clock import now_ms
from microservices.common.records import FeatureVector
from microservices.common.redis_io import create_redis, xadd_record
from microservices.common.redis_server import free_port
from microservices.common.settings import Settings
from microservices.common.sharding import shard_of
from microservices.common.signal_schema import SignalRecord
from microservices.common.streams import Streams
from microservices.view import TerminalView
from tests.factories import alert, features, snapshot, status

pytestmark = pytest.mark.integration
# home shards with 4: BTCUSDT 3, ETHUSDT 0, DOGEUSDT 2, ADAUSDT 1, SOLUSDT 0
SYMBOLS = ("BTCUSDT", "ETHUSDT", "DOGEUSDT", "ADAUSDT", "SOLUSDT")
PRICES = {symbol: 100.0 + i for i, symbol in enumerate(SYMBOLS)}


@pytest.fixture
async def served(
    redis_server: Any, settings_factory: Any
) -> AsyncIterator[tuple[Settings, aredis.Redis, str]]:
    settings: Settings = settings_factory(
        redis_url=redis_server.url, stream_shards=4, symbols=",".join(SYMBOLS),
        dashboard_poll_ms=100,
    )  # fmt: skip
    redis = create_redis(settings.redis_url or "")
    streams = settings.streams()
    adapter = CrossExchangeAdapter(redis, streams)
    app = create_app(EngineContext(settings, redis, adapter, FeatureLoader(redis, streams)))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    yield settings, redis, f"http://127.0.0.1:{port}"
    app.state.live_hub.close()
    server.should_exit = True
    await asyncio.wait_for(task, timeout=10)
    await redis.aclose()


async def write_symbols(redis: aredis.Redis, streams: Streams, now: int) -> None:
    """Per symbol (in SYMBOLS order): a snapshot, a feature vector, a status and a signal, each
    routed to the symbol's shard; then a stray newer BTCUSDT snapshot in shard 0."""
    base = features().values
    for i, symbol in enumerate(SYMBOLS):
        price = PRICES[symbol]
        snap = snapshot(symbol=symbol, ts_ms=now, avg_price=price, median_price=price)
        await xadd_record(redis, streams.normalized, snap)
        vector = FeatureVector(symbol=symbol, ts_ms=now, values={**base, "avg_price": price})
        await xadd_record(redis, streams.features, vector)
        await xadd_record(redis, streams.status, status(symbol=symbol, ts_ms=now,
                                                        atr_multiplier=1.0 + i / 10))  # fmt: skip
        signal = SignalRecord(symbol=symbol, ts_ms=now, probability=i / 10, threshold=0.5,
                              model_version="v1", burst_confirmed=False, burst_score=0.0,
                              decision=False)  # fmt: skip
        await xadd_record(redis, streams.signals, signal)
    stray = snapshot(symbol="BTCUSDT", ts_ms=now, avg_price=1.0, median_price=1.0)
    fields: Any = streams.normalized.schema.encode(stray)
    await redis.xadd(streams.normalized.shard(0).name, fields)


async def test_symbol_reads_come_from_the_symbol_shard(
    served: tuple[Settings, aredis.Redis, str],
) -> None:
    settings, redis, base = served
    streams = settings.streams()
    assert {shard_of(s, 4) for s in SYMBOLS} == {0, 1, 2, 3}
    await write_symbols(redis, streams, now_ms())
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        for i, symbol in enumerate(SYMBOLS):
            state = (await client.get(f"/api/v1/cross-exchange/{symbol}")).json()
            assert state["snapshot"]["avg_price"] == PRICES[symbol], symbol
            answer = (await client.get(f"/api/v1/features/{symbol}?lookback=60")).json()
            assert answer["latest"]["avg_price"] == PRICES[symbol]
            assert [row["avg_price"] for row in answer["history"]] == [PRICES[symbol]]
            # the shard holds under a second: shorter than the 60 s asked for
            assert answer["retained_seconds"] < 60 and answer["truncated"] is True
            signal = (await client.get(f"/api/v1/signals/{symbol}")).json()
            assert signal["probability"] == i / 10
        latest = (await client.get("/api/v1/exitbrain/status")).json()["latest_status"]
    assert latest["symbol"] == SYMBOLS[-1]  # the newest status of every shard
    market = MarketService(redis, settings, BookReader(redis, settings, None), {})
    for symbol in SYMBOLS:
        assert (await market.snapshot(symbol) or snapshot()).avg_price == PRICES[symbol]
    scanner = RunScanner(min_profit_bps=1e9, fresh_after_ms=0)
    await market.scan_entries(scanner)  # every shard's entries, newest first
    assert set(scanner.runs) == set(SYMBOLS)


async def test_health_sums_the_shards(served: tuple[Settings, aredis.Redis, str]) -> None:
    settings, redis, base = served
    normalized = settings.streams().normalized
    await write_symbols(redis, settings.streams(), now_ms())
    for shard in normalized.shards_all():  # every entry undelivered: lag = the shard's length
        await redis.xgroup_create(shard.name, "feature_adapter", id="0", entries_read=0)
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        body = (await client.get("/health")).json()
        exposition = (await client.get("/metrics")).text
    row = body["streams"][normalized.name]
    assert row["length"] == 6 and row["last_entry_age_s"] is not None
    assert {name: s["length"] for name, s in row["shards"].items()} == {
        normalized.shard(0).name: 3, normalized.shard(1).name: 1,
        normalized.shard(2).name: 1, normalized.shard(3).name: 1,
    }  # ETHUSDT, SOLUSDT and the stray; ADAUSDT; DOGEUSDT; BTCUSDT  # fmt: skip
    group = body["consumer_groups"][normalized.name]["feature_adapter"]
    assert (group["lag"], group["pending"], len(group["shards"])) == (6, 0, 4)
    assert set(body["metrics"]["symbols"]) == set(SYMBOLS)
    assert all(s["age_s"] is not None for s in body["metrics"]["symbols"].values())
    assert body["streams"][settings.streams().listings.name].keys() == {
        "name", "length", "last_entry_age_s",
    }  # an unsharded stream keeps its shape  # fmt: skip
    lag_line = f'stream="{normalized.name}"'
    assert any(lag_line in line and line.endswith(" 6.0") for line in exposition.splitlines())


async def test_dashboard_and_view_read_every_shard(
    served: tuple[Settings, aredis.Redis, str],
) -> None:
    settings, redis, base = served
    streams = settings.streams()
    now = now_ms() // 1000 * 1000
    async with (
        httpx.AsyncClient(base_url=base, timeout=20) as client,
        client.stream("GET", "/api/v1/stream") as live,
    ):
        lines = live.aiter_lines()
        await anext_event(lines, "hello")
        await asyncio.sleep(0.3)  # the hub's reader takes its start ids
        await write_symbols(redis, streams, now)
        seen = await asyncio.wait_for(normalized_symbols(lines, now / 1000), timeout=15)
    assert seen == set(SYMBOLS)
    for symbol in ("BTCUSDT", "ETHUSDT"):  # exitbrain.alerts in shards 3 and 0
        await xadd_record(redis, streams.alerts, alert(symbol=symbol, ts_ms=now, reason=symbol))
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        history = (await client.get("/api/v1/dashboard/history/ADAUSDT?points=5")).json()
        alerts = (await client.get("/api/v1/dashboard/alerts")).json()
    assert [e["ref"] for e in history["normalized"]] == [PRICES["ADAUSDT"]]
    assert [e["atr"] for e in history["status"]] == [1.3]
    assert {a["reason"] for a in alerts} == {"BTCUSDT", "ETHUSDT"}
    statuses = await TerminalView(settings, redis, None, None).latest_statuses()
    assert {s: statuses[s].atr_multiplier for s in statuses} == {
        s: 1.0 + i / 10 for i, s in enumerate(SYMBOLS)
    }


async def anext_event(lines: AsyncIterator[str], kind: str) -> dict[str, Any]:
    async for line in lines:
        if line.startswith("data: "):
            event: dict[str, Any] = orjson.loads(line[6:])
            if event["kind"] == kind:
                return event
    raise AssertionError("stream ended")


async def normalized_symbols(lines: AsyncIterator[str], t: float) -> set[str]:
    """The symbols of the normalized events at time `t`, until every symbol came, and only
    the prices written for them (the stray is BTCUSDT's at 1.0: an event too, from shard 0)."""
    seen: set[str] = set()
    while seen != set(SYMBOLS):
        event = await anext_event(lines, "normalized")
        if event["t"] == t and event["ref"] == PRICES.get(event["symbol"]):
            seen.add(event["symbol"])
    return seen
