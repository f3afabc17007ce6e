"""The dashboard's routes over real HTTP (uvicorn on a free port, a real redis-server):
API_TOKEN on every route but /health/live and the page's shell, the live stream's events
against the entries written to Redis, the history the page starts from, and a bad entry
that is counted and skipped."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest

from microservices.ai_engine.engine import Engine
from microservices.common import metrics
from microservices.common.clock import now_ms
from microservices.common.market_alerts import MarketAlert
from microservices.common.redis_io import create_redis, xadd_record
from microservices.common.redis_server import free_port
from microservices.common.settings import Settings
from tests.factories import alert, snapshot, status
from tests.integration.dashboard_stack import CHROMIUM, CHROMIUM_FLAGS, have_chromium
from tests.integration.test_api_http import wait_for
from tests.tools import require_installed

pytestmark = pytest.mark.integration
TOKEN = "dashboard-test-token-42"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
async def engine(redis_server: Any, settings_factory: Any) -> AsyncIterator[tuple[Settings, str]]:
    settings: Settings = settings_factory(
        redis_url=redis_server.url, api_port=free_port(), api_token=TOKEN, symbols="BTCUSDT",
        venues="binance,bybit,coinbase", dashboard_poll_ms=100,
    )  # fmt: skip
    redis = create_redis(settings.redis_url or "")
    engine = Engine(settings, redis, with_aggregator=False)
    stop = asyncio.Event()
    task = asyncio.create_task(engine.run(stop))
    base = f"http://127.0.0.1:{settings.api_port}"

    async with httpx.AsyncClient(base_url=base, timeout=5) as client:
        await wait_for(lambda: _live(client))
    yield settings, base
    stop.set()
    await asyncio.wait_for(task, timeout=15)
    await redis.aclose()


async def test_token_guards_every_route_but_the_shell(engine: tuple[Settings, str]) -> None:
    _, base = engine
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        for path in ("/", "/health/live", "/metrics", "/static/dashboard/app.js",
                     "/static/dashboard/vendor/uPlot.iife.min.js"):  # fmt: skip
            assert (await client.get(path)).status_code == 200, path
        assert "<title>Cross-Exchange Intelligence</title>" in (await client.get("/")).text
        guarded = ("/health", "/docs", "/openapi.json", "/api/v1/symbols",
                   "/api/v1/stream", "/api/v1/dashboard/alerts", "/api/v1/exitbrain/status")  # fmt: skip
        for path in guarded:
            refused = await client.get(path)
            assert refused.status_code == 401, path
            assert refused.headers["www-authenticate"] == "Bearer"
        wrong = {"Authorization": "Bearer not-the-token-at-all"}
        assert (await client.get("/api/v1/symbols", headers=wrong)).status_code == 401
        # ?token= is for the live stream only (EventSource cannot send headers)
        assert (await client.get(f"/api/v1/symbols?token={TOKEN}")).status_code == 401
        assert (await client.get("/api/v1/symbols", headers=AUTH)).status_code == 200
        assert (await client.get("/api/v1/dashboard/alerts", headers=AUTH)).json() == []
        async with client.stream("GET", f"/api/v1/stream?token={TOKEN}") as live:
            assert live.status_code == 200
            assert live.headers["content-type"].startswith("text/event-stream")


async def read_events(lines: AsyncIterator[str], count: int, kinds: set[str]) -> list[Any]:
    got: list[Any] = []
    async for line in lines:
        if line.startswith("data: "):
            event = orjson.loads(line[6:])
            if event["kind"] in kinds:
                got.append(event)
                if len(got) == count:
                    return got
    raise AssertionError("stream ended")


async def mine(lines: AsyncIterator[str], t: float) -> dict[tuple[str, Any], Any]:
    """The events of the entries this test wrote (time t), by (kind, origin); the engine's
    own ExitBrain loop writes status and alerts too."""
    wanted = {("normalized", None), ("status", None), ("alert", "exitbrain"), ("alert", "market")}
    found: dict[tuple[str, Any], Any] = {}
    while set(found) != wanted:
        for event in await read_events(lines, 1, {"normalized", "status", "alert"}):
            ours = event["kind"] != "alert" or event["reason"] in ("dashboard test", "USDC 0.97")
            if event["t"] == t and ours:
                found[(event["kind"], event.get("origin"))] = event
    return found


async def test_live_stream_sends_what_the_streams_hold(engine: tuple[Settings, str]) -> None:
    settings, base = engine
    streams = settings.streams()
    redis = create_redis(settings.redis_url or "")
    bad_before = metrics.DASHBOARD_BAD_ENTRIES.labels("normalized")._value.get()
    now = now_ms() // 1000 * 1000  # alerts carry whole seconds (ISO times)
    snap = snapshot(ts_ms=now, median_price=100.25, arb_bps=3.5, symbol="BTCUSDT")
    market = MarketAlert(
        ts_ms=now, source="aggregator", type="DEPEG", severity="critical", reason="USDC 0.97",
    )  # fmt: skip
    async with (
        httpx.AsyncClient(base_url=base, timeout=20) as client,
        client.stream("GET", "/api/v1/stream", headers=AUTH) as live,
    ):
        lines = live.aiter_lines()
        hello = await read_events(lines, 1, {"hello"})
        assert hello[0]["sources"] == {"large_trades": False, "signals": False}
        await redis.xadd(streams.normalized.name, {"symbol": "BTCUSDT", "timestamp": "x"})
        await xadd_record(redis, streams.normalized, snap)
        await xadd_record(redis, streams.status, status(ts_ms=now, cross_exchange_active=False))
        await xadd_record(redis, streams.alerts, alert(ts_ms=now, reason="dashboard test"))
        await xadd_record(redis, streams.market_alerts, market)
        by_kind = await asyncio.wait_for(mine(lines, now / 1000), timeout=15)
        venues = await asyncio.wait_for(read_events(lines, 1, {"venues"}), timeout=5)
    normalized = by_kind[("normalized", None)]
    assert (normalized["t"], normalized["ref"], normalized["arb_bps"]) == (now / 1000, 100.25, 3.5)
    assert normalized["prices"] == {"binance": 99.0, "bybit": 100.0, "coinbase": 101.0}
    assert (by_kind[("status", None)]["mode"], by_kind[("status", None)]["atr"]) == ("local", 2.08)
    assert by_kind[("alert", "exitbrain")]["type"] == "FALLBACK_TO_LOCAL"
    assert by_kind[("alert", "market")]["reason"] == "USDC 0.97"
    # no collector runs here: every venue is unknown, with the cause
    assert venues[0]["venues"]["bybit"] == {
        "status": "unknown", "cause": "no collector report", "age_s": None,
    }  # fmt: skip
    assert metrics.DASHBOARD_BAD_ENTRIES.labels("normalized")._value.get() == bad_before + 1
    async with httpx.AsyncClient(base_url=base, timeout=10, headers=AUTH) as client:
        history = (await client.get("/api/v1/dashboard/history/BTCUSDT?points=5")).json()
        alerts = (await client.get("/api/v1/dashboard/alerts")).json()
        missing = await client.get("/api/v1/dashboard/history/DOGEUSDT")
    assert [e["ref"] for e in history["normalized"]] == [100.25]  # the bad entry is skipped
    assert history["status"][0]["tp"] == 1.00096
    # the engine's own ExitBrain loop may add alerts of its own (EXCHANGE_DOWN here)
    assert {(a["origin"], a["type"]) for a in alerts} >= {
        ("exitbrain", "FALLBACK_TO_LOCAL"), ("market", "DEPEG"),
    }  # fmt: skip
    assert missing.status_code == 404
    await redis.aclose()


async def test_optional_stream_rows_show_when_the_stream_exists(
    engine: tuple[Settings, str],
) -> None:
    settings, base = engine
    large_trades = settings.streams().large_trades
    redis = create_redis(settings.redis_url or "")
    async with httpx.AsyncClient(base_url=base, timeout=10, headers=AUTH) as client:
        before = (await client.get("/api/v1/dashboard/sources")).json()
        assert before["sources"]["large_trades"] is False and before["rows"]["large_trades"] == []
        fields = {"group": "BTCUSDT", "exchange": "bybit", "side": "sell", "price": "100000.5",
                  "size": "2", "value_usd": "200001", "is_liquidation": "true"}  # fmt: skip
        added: Any = await redis.xadd(large_trades.name, fields)  # type: ignore[arg-type]
        entry_id = added.decode()
        after = (await client.get("/api/v1/dashboard/sources")).json()
    await redis.aclose()
    assert after["sources"]["large_trades"] is True
    [row] = after["rows"]["large_trades"]
    assert row["t"] == int(entry_id.split("-")[0]) / 1000
    assert row["values"] == {"group": "BTCUSDT", "exchange": "bybit", "side": "sell",
                             "price": 100000.5, "size": 2.0, "value_usd": 200001.0,
                             "is_liquidation": "true"}  # fmt: skip


async def test_the_page_asks_for_the_token_once(
    engine: tuple[Settings, str], tmp_path: Any
) -> None:
    """In chromium: the page without a token shows the token form; after the token is
    entered it goes live and keeps the token in localStorage, so a reload asks no more."""
    from playwright.async_api import async_playwright

    require_installed("chromium", have_chromium(), "chromium")
    _, base = engine
    async with async_playwright() as pw:
        context = await pw.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=CHROMIUM, args=list(CHROMIUM_FLAGS),
            headless=True,
        )  # fmt: skip
        page = await context.new_page()
        await page.goto(f"{base}/")
        await page.wait_for_selector("#token-form:not([hidden])", timeout=15_000)
        assert await page.text_content("#live") == "unauthorized"
        await page.fill("#token-input", TOKEN)
        await page.click("#token-form button[type=submit]")
        await page.wait_for_function("window.__dashboard.view.ready", timeout=15_000)
        await page.wait_for_selector("#live[data-state='live']", timeout=15_000)
        assert await page.evaluate("localStorage.getItem('ce_api_token')") == TOKEN
        await page.reload()
        await page.wait_for_function("window.__dashboard.view.ready", timeout=15_000)
        assert await page.is_hidden("#token-form")
        await context.close()


async def test_symbol_filter_slow_client_and_shutdown(
    redis_server: Any, settings_factory: Any
) -> None:
    """`?symbols=` keeps other symbols' events out; a client that reads nothing loses its
    oldest events (counted) while another keeps up; stopping the engine ends open streams."""
    settings: Settings = settings_factory(
        redis_url=redis_server.url, api_port=free_port(), symbols="BTCUSDT,ETHUSDT",
        venues="binance,bybit,coinbase", dashboard_poll_ms=100, dashboard_client_queue=8,
    )  # fmt: skip
    redis = create_redis(settings.redis_url or "")
    engine = Engine(settings, redis, with_aggregator=False)
    stop = asyncio.Event()
    task = asyncio.create_task(engine.run(stop, serve_http=True))
    base = f"http://127.0.0.1:{settings.api_port}"
    hub = engine.app.state.live_hub
    dropped_before = metrics.DASHBOARD_DROPPED._value.get()
    async with httpx.AsyncClient(base_url=base, timeout=20) as client:
        await wait_for(lambda: _live(client))
        async with client.stream("GET", "/api/v1/stream?symbols=ethusdt") as live:
            lines = live.aiter_lines()
            await read_events(lines, 1, {"hello"})
            slow = hub.subscribe()  # a client that never reads
            eth_only = hub.subscribe(frozenset({"ETHUSDT"}))  # never reads either
            now, got = now_ms(), []
            for i in range(0, 20, 2):  # a pair at a time: the live client keeps up by design
                for symbol, t in (("ETHUSDT", now + i), ("BTCUSDT", now + i + 1)):
                    await xadd_record(redis, settings.streams().normalized,
                                      snapshot(symbol=symbol, ts_ms=t))  # fmt: skip
                got += await asyncio.wait_for(read_events(lines, 1, {"normalized"}), 15)
            assert {e["symbol"] for e in got} == {"ETHUSDT"}
            assert [e["t"] for e in got] == [(now + i) / 1000 for i in range(0, 20, 2)]
            assert slow.dropped >= 12  # 20 normalized + venues events into 8 places
            assert metrics.DASHBOARD_DROPPED._value.get() - dropped_before >= slow.dropped
            assert slow.dropped - eth_only.dropped >= 10  # the BTC events never reach it
            hub.unsubscribe(slow)
            hub.unsubscribe(eth_only)
            stop.set()  # the engine stops while this stream is open
            async for _ in lines:
                pass  # ends: the hub closed the stream
    await asyncio.wait_for(task, timeout=15)
    await redis.aclose()


async def _live(client: httpx.AsyncClient) -> bool:
    try:
        return (await client.get("/health/live")).status_code == 200
    except httpx.TransportError:
        return False
