"""GET /api/v1/signals/{symbol}: the newest exchange.signals entry of a followed symbol, read
from Redis (so any engine process answers), and the helpers the exit-plan route and /health
use to show the signal and the ML state."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import redis.asyncio as aredis
from fastapi import FastAPI, HTTPException, Path
from pydantic import BaseModel, Field

from microservices.ai_engine.symbols_api import followed_symbols
from microservices.common.clock import iso_utc, now_ms
from microservices.common.errors import SchemaError
from microservices.common.redis_io import TRANSIENT_REDIS_ERRORS
from microservices.common.schema_fields import normalize_entry
from microservices.common.settings import Settings
from microservices.common.signal_schema import SignalRecord
from microservices.ml.signal_service import DISABLED_STATUS

PAGE, PAGES = 500, 20  # entries scanned per XREVRANGE call, and calls at most
SymbolPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9]{2,30}$", description="e.g. BTCUSDT")]


class SignalResponse(BaseModel):
    symbol: str
    timestamp: str = Field(description="ISO 8601 time of the feature vector it scores")
    ts_ms: int = Field(description="the same time, Unix epoch milliseconds")
    age_s: float = Field(description="seconds from that time to now")
    probability: float = Field(description="primary model's P(label 1): a long is favoured")
    threshold: float
    model_version: str
    meta_probability: float | None = Field(description="meta model, on primary positives")
    meta_decision: bool | None
    burst_confirmed: bool = Field(description="BurstConfirmationFilter on price and volume")
    burst_score: float
    decision: bool = Field(description="probability >= threshold, meta and burst confirmed")


def _response(record: SignalRecord, now: int) -> SignalResponse:
    return SignalResponse(
        symbol=record.symbol, timestamp=iso_utc(record.ts_ms), ts_ms=record.ts_ms,
        age_s=max(now - record.ts_ms, 0) / 1000, probability=record.probability,
        threshold=record.threshold, model_version=record.model_version,
        meta_probability=record.meta_probability, meta_decision=record.meta_decision,
        burst_confirmed=record.burst_confirmed, burst_score=record.burst_score,
        decision=record.decision,
    )  # fmt: skip


async def latest_signal(
    redis: aredis.Redis, settings: Settings, symbol: str
) -> SignalResponse | None:
    """The newest decodable signal of `symbol` among the newest PAGE x PAGES entries of its
    shard of the stream."""
    stream = settings.streams().signals
    name = stream.shard_for(symbol).name
    upper = "+"
    for _ in range(PAGES):
        rows: Any = await redis.xrevrange(name, upper, "-", count=PAGE)
        for _, fields in rows:
            entry = normalize_entry(fields)
            if entry.get("symbol") != symbol:
                continue
            try:
                return _response(stream.schema.decode(entry), now_ms())
            except SchemaError:
                continue
        if len(rows) < PAGE:
            return None
        last = rows[-1][0]
        upper = "(" + (last.decode() if isinstance(last, bytes) else last)
    return None


async def signal_beside_plan(
    redis: aredis.Redis, settings: Settings, symbol: str
) -> SignalResponse | None:
    """For the exit-plan answer: the signal, or None (none, or Redis failing: the plan
    itself does not depend on it)."""
    try:
        return await asyncio.wait_for(latest_signal(redis, settings, symbol), timeout=2)
    except (TimeoutError, *TRANSIENT_REDIS_ERRORS):
        return None


def ml_status(service: Any) -> dict[str, Any]:
    """/health's `ml` block: the signal service's state, or disabled."""
    return DISABLED_STATUS if service is None else dict(service.status())


def add_signals_routes(app: FastAPI, redis: aredis.Redis, settings: Settings) -> None:
    @app.get("/api/v1/signals/{symbol}", summary="Newest model signal of a symbol")
    async def signal(symbol: SymbolPath) -> SignalResponse:
        canonical = symbol.upper()
        try:
            known = await asyncio.wait_for(followed_symbols(redis, settings), timeout=10)
            if canonical not in known:
                raise HTTPException(404, f"unknown symbol {symbol!r}; followed: {', '.join(known)}")
            found = await asyncio.wait_for(latest_signal(redis, settings, canonical), timeout=10)
        except TRANSIENT_REDIS_ERRORS as exc:
            raise HTTPException(503, f"Redis unavailable: {type(exc).__name__}") from exc
        if found is None:
            raise HTTPException(
                404, f"no signal for {canonical} yet: is a model promoted (`cross-exchange model "
                "promote VERSION`) and ML_SIGNALS_ENABLED true? /health shows the ml state",
            )  # fmt: skip
        return found
