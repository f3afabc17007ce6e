"""FastAPI service (port 8001): /health (readiness), /health/live (liveness), /metrics, /api/v1
(the order-book routes are in orderbook_api.py, /api/v1/symbols in symbols_api.py).

`create_app(context)` builds the app around an `EngineContext` (settings, Redis client,
ExitBrain adapter, feature loader). Inputs are validated and bounded: symbols must be followed
(the collector's published set, else SYMBOLS; 404 otherwise), lookbacks are limited, prices
must be positive.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Annotated, Any, Literal

import redis.asyncio as aredis
from fastapi import FastAPI, HTTPException, Path, Query
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field

from backend.domains.exits.exit_brain_v3.cross_exchange_adapter import CrossExchangeAdapter
from backend.domains.exits.exit_brain_v3.models import ExitPlan, Position
from backend.domains.exits.exit_brain_v3.planner import build_exit_plan
from microservices.ai_engine.aggregation.usd_rates import UsdRates
from microservices.ai_engine.body_limit import BodySizeLimit
from microservices.ai_engine.dashboard.auth import TokenGuard
from microservices.ai_engine.dashboard.routes import add_dashboard_routes
from microservices.ai_engine.docs import add_offline_docs
from microservices.ai_engine.exchange_data.api import add_exchange_data_routes
from microservices.ai_engine.exchange_data.database import QueryDb
from microservices.ai_engine.exchange_data.history_api import add_history_routes
from microservices.ai_engine.features.feature_loader import FeatureLoader
from microservices.ai_engine.health import gather_health
from microservices.ai_engine.market.answers import add_query_route
from microservices.ai_engine.market.api import add_market_routes
from microservices.ai_engine.market.listings import add_listings_route
from microservices.ai_engine.market.service import MarketService
from microservices.ai_engine.options_api import add_options_route
from microservices.ai_engine.orderbook_api import BookReader, add_orderbook_routes
from microservices.ai_engine.symbols_api import add_symbols_routes, exit_venue, followed_symbols
from microservices.common import metrics, shard_read
from microservices.common.clock import iso_utc, now_ms
from microservices.common.errors import SchemaError
from microservices.common.records import NormalizedSnapshot
from microservices.common.redis_io import TRANSIENT_REDIS_ERRORS
from microservices.common.redis_memory import sample_redis_memory
from microservices.common.settings import Settings
from microservices.common.streams import Stream
from microservices.ml.signals_api import (
    SignalResponse,
    add_signals_routes,
    ml_status,
    signal_beside_plan,
)

MAX_LOOKBACK_S = 86_400
SymbolPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9]{2,30}$", description="e.g. BTCUSDT")]


@dataclass
class EngineContext:
    settings: Settings
    redis: aredis.Redis
    adapter: CrossExchangeAdapter
    loader: FeatureLoader
    # the USD prices of the aggregator running in this process (order-book API); None: par
    usd_rates: UsdRates | None = None
    ml: Any = None  # the engine's SignalService (ml/signal_service.py); None: disabled
    # /health blocks of the engine's optional services (anomalies, large_trades): name -> block
    health_blocks: dict[str, Callable[[], dict[str, Any]]] = field(default_factory=dict)


class ExitPlanRequest(BaseModel):
    symbol: str = Field(pattern=r"^[A-Za-z0-9]{2,30}$", examples=["BTCUSDT"])
    side: Literal["long", "short"]
    entry_price: float = Field(gt=0, lt=1e12)
    base_tp_pct: float = Field(1.0, gt=0, le=100, description="take-profit distance, % of entry")
    base_sl_pct: float = Field(0.5, gt=0, le=100, description="stop-loss distance, % of entry")
    base_atr_pct: float = Field(1.0, gt=0, le=100, description="ATR as % of entry")
    current_stop: float | None = Field(
        None, gt=0, lt=1e12, description="resting stop; never loosened"
    )
    venue: str | None = Field(
        None, pattern=r"^[a-z0-9_]{2,30}$", examples=["binance_futures"],
        description="venue whose tick size TP and SL are rounded to; default: the first "
        "followed venue (VENUES order) that lists the symbol",
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class ExitPlanResponse(ExitPlan):
    """The plan, and the venue whose tick size (`tick_size`, null when unknown) priced it."""

    venue: str | None = None
    signal: SignalResponse | None = None  # the model's newest signal, if one is published


class CrossExchangeState(BaseModel):
    """The newest exchange.normalized entry of a symbol (fields as in the stream)."""

    timestamp: str = Field(description="ISO 8601 time of the snapshot")
    snapshot: NormalizedSnapshot = Field(
        description="funding_delta (max - min of perp funding with the sign of its mean: > 0 "
        "when longs pay), avg_funding_rate and venues.*.funding_8h are in percent per 8 h "
        "(0.015 = 0.015 %)"
    )


class FeaturesResponse(BaseModel):
    symbol: str
    timestamp: str = Field(description="ISO 8601 time of the latest vector")
    latest: dict[str, float] = Field(
        description="every feature of FEATURE_NAMES; funding_delta (signed cross-venue spread) "
        "and avg_funding_rate in percent per 8 h"
    )
    history: list[dict[str, float | str]] = Field(description="oldest first; `timestamp` is ISO")
    retained_seconds: float | None = Field(
        description="seconds of history exchange.features holds now, from its oldest entry to "
        "now (MAXLEN_FEATURES trims older entries; see the README's retention table); null "
        "when the stream is empty"
    )
    truncated: bool = Field(
        description="true when the lookback asked for is longer than retained_seconds: "
        "`history` then starts later than asked (trimmed, or not collected yet)"
    )


class AdapterStats(BaseModel):
    enabled: bool
    use_local_mode: bool
    total_reads: int
    fail_count: int
    last_update: str | None


class SymbolStats(AdapterStats):
    enabled: bool = True
    latched: bool


class ExitBrainStatusResponse(BaseModel):
    adapter_stats: AdapterStats
    symbols: dict[str, SymbolStats]
    latest_status: dict[str, str] | None = Field(
        description="newest exitbrain.status entry; funding_delta in percent per 8 h, "
        "tp_multiplier = 1 + 0.8 * funding_delta clamped to EXITBRAIN_TP_MULTIPLIER_MIN/MAX"
    )


async def _check_symbol(ctx: EngineContext, symbol: str) -> str:
    upper = symbol.upper()
    known = await _redis_call(followed_symbols(ctx.redis, ctx.settings))
    if upper not in known:
        raise HTTPException(404, f"unknown symbol {symbol!r}; followed symbols: {', '.join(known)}")
    return upper


async def _latest_fields(
    ctx: EngineContext, stream: Stream[Any], symbol: str
) -> dict[bytes, bytes] | None:
    """The newest entry of `symbol` in its shard of `stream`, within 10 000 entries."""
    async for _, fields in shard_read.walk_symbol(ctx.redis, stream, symbol, 500, 10_000):
        return dict(fields)
    return None


def create_app(ctx: EngineContext) -> FastAPI:
    app = FastAPI(
        title="Cross-Exchange Intelligence",
        version="0.1.0",
        description="Cross-venue market state, ML features and ExitBrain v3 exit plans.",
        docs_url=None,  # /docs and /redoc come from add_offline_docs: no CDN
        redoc_url=None,
    )
    add_offline_docs(app)
    app.state.ctx = ctx
    app.add_middleware(BodySizeLimit, max_bytes=ctx.settings.api_max_body_bytes)
    app.add_middleware(TokenGuard, token=ctx.settings.api_token)  # outermost: 401 first
    _add_health_routes(app, ctx)
    _add_market_routes(app, ctx)
    _add_exit_routes(app, ctx)
    add_symbols_routes(app, ctx.redis, ctx.settings)
    add_signals_routes(app, ctx.redis, ctx.settings)
    reader = BookReader(ctx.redis, ctx.settings, ctx.usd_rates)
    add_orderbook_routes(app, reader, ctx.settings.taker_fees_bps)
    market = MarketService(ctx.redis, ctx.settings, reader, ctx.settings.taker_fees_bps)
    add_market_routes(app, market)
    add_listings_route(app, ctx.redis, ctx.settings)
    add_options_route(app, ctx.redis, ctx.settings)
    add_query_route(app, market)
    app.state.query_db = QueryDb(ctx.settings.database_url)  # seed 002's queries, history
    add_exchange_data_routes(app, app.state.query_db)
    add_history_routes(app, app.state.query_db)
    app.state.live_hub = add_dashboard_routes(app, ctx.redis, ctx.settings)
    return app


def _add_health_routes(app: FastAPI, ctx: EngineContext) -> None:
    @app.get("/health", summary="Readiness: 503 when Redis is unreachable or status is down")
    async def health() -> JSONResponse:
        status, body = await gather_health(ctx.redis, ctx.settings, ctx.adapter.stats())
        body["ml"] = ml_status(ctx.ml)  # model loaded or not, its version, signals published
        for name, block in ctx.health_blocks.items():
            body[name] = block()
        return JSONResponse(body, status_code=status)

    @app.get("/health/live", summary="Liveness: 200 while the process serves")
    async def live() -> dict[str, str]:
        # touches neither Redis nor the venues: container healthchecks call this, and an
        # exchange or Redis outage must not get a container restarted
        return {"status": "alive"}

    @app.get("/metrics", summary="Prometheus exposition", response_class=Response)
    async def prometheus_metrics() -> Response:
        streams = ctx.settings.streams()
        for stream in (streams.raw, streams.orderbook, streams.normalized):
            if stream.group is None:
                continue
            try:  # summed over the stream's shards
                lag = await shard_read.group_lag(ctx.redis, stream, stream.group)
            except TRANSIENT_REDIS_ERRORS:
                lag = None
            if lag is not None:
                metrics.CONSUMER_LAG.labels(stream.name, stream.group).set(lag)
        await sample_redis_memory(ctx.redis)
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def _add_market_routes(app: FastAPI, ctx: EngineContext) -> None:
    streams = ctx.settings.streams()

    @app.get("/api/v1/cross-exchange/{symbol}", summary="Latest normalized cross-venue state")
    async def cross_exchange(symbol: SymbolPath) -> CrossExchangeState:
        canonical = await _check_symbol(ctx, symbol)
        fields = await _redis_call(_latest_fields(ctx, streams.normalized, canonical))
        if fields is None:
            raise HTTPException(404, f"no normalized data for {canonical} yet")
        try:
            snap = streams.normalized.schema.decode(fields)
        except SchemaError as exc:
            raise HTTPException(502, f"stored entry is invalid: {exc}") from exc
        return CrossExchangeState(timestamp=iso_utc(snap.ts_ms), snapshot=snap)

    @app.get("/api/v1/features/{symbol}", summary="Latest feature vector and recent history")
    async def features(
        symbol: SymbolPath,
        lookback: Annotated[int, Query(ge=0, le=MAX_LOOKBACK_S, description="seconds")] = 300,
        limit: Annotated[int, Query(ge=1, le=5000)] = 500,
    ) -> FeaturesResponse:
        canonical = await _check_symbol(ctx, symbol)
        latest = await _redis_call(ctx.loader.latest(canonical))
        if latest is None:
            raise HTTPException(404, f"no features for {canonical} yet")
        now = now_ms()
        frame = ctx.loader.frame(canonical, lookback, now) if lookback else None
        history = None if frame is None else await _redis_call(frame)
        rows = [] if history is None else history.tail(limit)
        oldest = await _redis_call(ctx.loader.oldest_ms(canonical))
        retained_s = None if oldest is None else max(now - oldest, 0) / 1000
        return FeaturesResponse(
            symbol=canonical,
            timestamp=iso_utc(latest.ts_ms),
            latest=latest.values,
            history=[] if len(rows) == 0 else _frame_rows(rows),
            retained_seconds=retained_s,
            truncated=lookback > 0 and (retained_s is None or lookback > retained_s),
        )


def _add_exit_routes(app: FastAPI, ctx: EngineContext) -> None:
    streams = ctx.settings.streams()

    @app.post(
        "/api/v1/exit-plan", response_model=ExitPlanResponse, summary="Exit plan for a position"
    )
    async def exit_plan(request: ExitPlanRequest) -> ExitPlanResponse:
        canonical = await _check_symbol(ctx, request.symbol)
        venue, tick = await _redis_call(exit_venue(ctx.redis, ctx.settings, canonical,
                                                   request.venue))  # fmt: skip
        adjustments = await ctx.adapter.refresh(
            canonical, request.base_atr_pct, request.base_tp_pct, request.base_sl_pct
        )
        position = Position(
            symbol=canonical, side=request.side, entry_price=request.entry_price,
            current_stop=request.current_stop,
        )  # fmt: skip
        try:
            plan = build_exit_plan(
                position, adjustments, request.base_tp_pct, request.base_sl_pct,
                request.base_atr_pct, ctx.adapter.params, tick_size=tick,
            )  # fmt: skip
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from exc
        signal = await signal_beside_plan(ctx.redis, ctx.settings, canonical)
        return ExitPlanResponse(**asdict(plan), venue=venue, signal=signal)

    @app.get("/api/v1/exitbrain/status", summary="ExitBrain adapter state and latest status")
    async def exitbrain_status() -> ExitBrainStatusResponse:
        newest = await _redis_call(shard_read.newest_entry(ctx.redis, streams.status))
        latest = None
        if newest is not None:  # the newest over every shard
            latest = streams.status.schema.encode(streams.status.schema.decode(newest[2]))
        return ExitBrainStatusResponse(
            adapter_stats=AdapterStats(**ctx.adapter.stats()),
            symbols={k: SymbolStats(**v) for k, v in ctx.adapter.symbol_stats().items()},
            latest_status=latest,
        )


async def _redis_call(awaitable: Any) -> Any:
    try:
        return await asyncio.wait_for(awaitable, timeout=10)
    except TRANSIENT_REDIS_ERRORS as exc:
        raise HTTPException(503, f"Redis unavailable: {type(exc).__name__}") from exc


def _frame_rows(frame: Any) -> list[dict[str, Any]]:
    out = []
    for row in frame.to_dict(orient="records"):
        row["timestamp"] = row["timestamp"].isoformat().replace("+00:00", "Z")
        out.append(row)
    return out
