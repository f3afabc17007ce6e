"""The dashboard's routes: the page at `/`, its files under DASHBOARD_STATIC_URL, the live
stream `GET /api/v1/stream` (Server-Sent Events from `LiveHub`) and the history the page
starts from (`/api/v1/dashboard/history/{symbol}`, `/api/v1/dashboard/alerts`,
`/api/v1/dashboard/sources`: which optional streams exist, venue health and their newest
rows). The rest of its first state comes from the existing routes:
/health (venues), /api/v1/symbols, /api/v1/orderbook/{symbol}/consolidated (depth chart).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any, Final

import orjson
import redis.asyncio as aredis
from fastapi import FastAPI, HTTPException, Query
from fastapi.responses import FileResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles

from microservices.ai_engine.dashboard import events
from microservices.ai_engine.dashboard.hub import (
    OPTIONAL_SOURCES,
    Known,
    LiveHub,
    converters,
    entry_event,
    optional_streams,
    venue_blocks,
)
from microservices.ai_engine.symbols_api import followed_symbols
from microservices.common import shard_read
from microservices.common.clock import now_ms
from microservices.common.redis_io import TRANSIENT_REDIS_ERRORS
from microservices.common.settings import Settings

DASHBOARD_STATIC_URL: Final = "/static/dashboard"
KEEPALIVE_S: Final = 15.0
SCAN_PAGE: Final = 1_000
ROWS_AT_START: Final = 50  # newest entries of each optional stream the page starts with
SYMBOL_RE: Final = r"^[A-Za-z0-9]{2,30}$"


def static_dir() -> Path:
    """The installed folder of the page, its modules, styles and the vendored uPlot."""
    return Path(str(files("microservices.ai_engine.dashboard") / "static"))


def sse_frame(event: events.Event) -> bytes:
    return b"data: " + orjson.dumps(event) + b"\n\n"


async def sse_body(
    hub: LiveHub, symbols: frozenset[str], hello: events.Event
) -> AsyncIterator[bytes]:
    client = hub.subscribe(symbols)
    try:
        yield b"retry: 2000\n\n" + sse_frame(hello)
        while True:
            try:
                event = await client.get(KEEPALIVE_S)
            except TimeoutError:
                yield b": keepalive\n\n"
                continue
            if event is None:  # the engine is stopping
                return
            yield sse_frame(event)
    finally:
        hub.unsubscribe(client)


async def symbol_history(
    redis: aredis.Redis, settings: Settings, symbol: str, points: int
) -> dict[str, Any]:
    """Up to `points` normalized and status events of `symbol`, oldest first, and its newest
    feature vector; scans at most 20 x `points` entries of the symbol's shard per stream."""
    streams = settings.streams()
    known = converters(streams)
    out: dict[str, Any] = {"symbol": symbol}
    for label, stream in (("normalized", streams.normalized), ("status", streams.status)):
        name = stream.shard_for(symbol).name
        out[label] = await _scan(redis, known, name, symbol, points, points * 20)
    name = streams.features.shard_for(symbol).name
    features = await _scan(redis, known, name, symbol, 1, SCAN_PAGE * 5)
    out["features"] = features[-1] if features else None
    return out


async def _scan(
    redis: aredis.Redis, known: Known, name: str, symbol: str, points: int, budget: int
) -> list[events.Event]:
    found: list[events.Event] = []
    upper, scanned = "+", 0
    wanted_symbol = symbol.encode()
    while len(found) < points and scanned < budget:
        rows: Any = await redis.xrevrange(name, upper, "-", count=SCAN_PAGE)
        if not rows:
            break
        scanned += len(rows)
        for entry_id, fields in rows:
            if fields.get(b"symbol") == wanted_symbol and len(found) < points:
                event = entry_event(known, {}, name, entry_id.decode(), fields)
                if event is not None:
                    found.append(event)
        upper = "(" + rows[-1][0].decode()
    found.reverse()
    return found


async def recent_alerts(redis: aredis.Redis, settings: Settings, limit: int) -> list[Any]:
    """The newest `limit` entries of exitbrain.alerts (every shard) and of alerts, merged,
    oldest first."""
    streams = settings.streams()
    known = converters(streams)
    merged: list[events.Event] = []
    for stream in (streams.alerts, streams.market_alerts):
        for name, entry_id, fields in await shard_read.newest(redis, stream, limit):
            event = entry_event(known, {}, name, entry_id.decode(), fields)
            if event is not None:
                merged.append(event)
    merged.sort(key=lambda e: e["t"])
    return merged[-limit:]


async def recent_rows(redis: aredis.Redis, settings: Settings, limit: int) -> dict[str, Any]:
    """The newest `limit` entries of each optional stream this build declares (merged over
    its shards), oldest first."""
    out: dict[str, list[events.Event]] = {name: [] for name in OPTIONAL_SOURCES}
    for name, stream in optional_streams(settings.streams()).items():
        labels = dict.fromkeys(shard_read.keys(stream), name)
        for key, entry_id, fields in reversed(await shard_read.newest(redis, stream, limit)):
            event = entry_event({}, labels, key, entry_id.decode(), fields)
            if event is not None:
                out[name].append(event)
    return out


def add_dashboard_routes(app: FastAPI, redis: aredis.Redis, settings: Settings) -> LiveHub:
    hub = LiveHub(redis, settings)
    app.mount(DASHBOARD_STATIC_URL, StaticFiles(directory=static_dir()), name="dashboard")
    index = static_dir() / "index.html"

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(index, media_type="text/html", headers={"Cache-Control": "no-cache"})

    @app.get("/api/v1/stream", summary="Live dashboard events (Server-Sent Events)")
    async def stream(
        symbols: Annotated[str, Query(max_length=2000, description="CSV filter; empty: all")] = "",
    ) -> StreamingResponse:
        chosen = frozenset(s.strip().upper() for s in symbols.split(",") if s.strip())
        sources = await _call(hub.sources())
        hello = {"kind": "hello", "t": now_ms() / 1000, "sources": sources}
        return StreamingResponse(
            sse_body(hub, chosen, hello), media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )  # fmt: skip

    @app.get("/api/v1/dashboard/history/{symbol}", summary="Recent dashboard points of a symbol")
    async def history(
        symbol: str, points: Annotated[int | None, Query(ge=1, le=10_000)] = None
    ) -> dict[str, Any]:
        upper = symbol.upper()
        if upper not in await _call(followed_symbols(redis, settings)):
            raise HTTPException(404, f"unknown symbol {symbol!r}")
        count = points or settings.dashboard_history_points
        return await _call(symbol_history(redis, settings, upper, count))  # type: ignore[no-any-return]

    @app.get("/api/v1/dashboard/alerts", summary="Recent alerts of both alert streams")
    async def alerts(limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[Any]:
        return await _call(recent_alerts(redis, settings, limit))  # type: ignore[no-any-return]

    @app.get("/api/v1/dashboard/sources", summary="Optional panels' data: present or not")
    async def sources() -> dict[str, Any]:
        blocks = await _call(venue_blocks(redis, settings))
        venues = events.venues_event(blocks, list(settings.venues), now_ms())
        rows = await _call(recent_rows(redis, settings, ROWS_AT_START))
        return {"sources": await _call(hub.sources()), "venues": venues["venues"], "rows": rows}

    return hub


async def _call(awaitable: Any) -> Any:
    try:
        return await asyncio.wait_for(awaitable, timeout=10)
    except TRANSIENT_REDIS_ERRORS as exc:
        raise HTTPException(503, f"Redis unavailable: {type(exc).__name__}") from exc
