"""`GET /api/v1/symbols`: the symbols the collector follows and, per venue, the instrument it
subscribes for each (venue symbol, canonical symbol, quote, market, tick and lot size), read
from the hash the collector publishes (`<prefix>collector.symbols`, see
`data_collector/following.py`). Before the collector has published it, the explicit names of
SYMBOLS are listed without venues (`source: settings`).

`followed_symbols()` is also what the symbol-taking routes accept.
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

import orjson
import redis.asyncio as aredis
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, Field

from microservices.common.clock import iso_utc
from microservices.common.followed import UPDATED_FIELD, read_followed_parts
from microservices.common.redis_io import TRANSIENT_REDIS_ERRORS
from microservices.common.settings import Settings


class VenueInstrument(BaseModel):
    venue_symbol: str = Field(description="as the venue spells it, e.g. BTC-USD")
    symbol: str = Field(description="canonical name of the instrument, e.g. BTCUSD")
    base: str
    quote: str = Field(description="the real quote, e.g. USD for Coinbase BTC-USD")
    market: str = Field(description="spot, perpetual, future or option")
    inverse: bool
    tick_size: float | None = Field(description="price step; null when unknown (naming rule)")
    lot_size: float | None = Field(description="quantity step; null when unknown")
    contract_size: float
    status: str = Field(description="trading, pending or halted")


class FollowedSymbol(BaseModel):
    symbol: str = Field(description="the followed symbol (group key), e.g. BTCUSDT")
    venues: dict[str, VenueInstrument] = Field(description="venue id -> its instrument")


class SymbolsResponse(BaseModel):
    source: Literal["collector", "settings"] = Field(
        description="collector: as it resolved SYMBOLS; settings: not published yet"
    )
    updated: str | None = Field(description="ISO time the collector published the set")
    symbols: list[FollowedSymbol]


async def read_followed(redis: aredis.Redis, settings: Settings) -> dict[str, Any]:
    """The published set (every collector's part, `common.followed`): field -> value
    (`_updated_ms` included); {} when absent."""
    return await read_followed_parts(redis, settings.stream_prefix)


async def followed_symbols(redis: aredis.Redis, settings: Settings) -> list[str]:
    """What the collector follows, else the explicit names of SYMBOLS."""
    fields = await read_followed(redis, settings)
    published = sorted(k for k in fields if k != UPDATED_FIELD)
    return published or settings.explicit_symbols()


async def exit_venue(
    redis: aredis.Redis, settings: Settings, symbol: str, venue: str | None
) -> tuple[str | None, float | None]:
    """(venue, its tick size) for an exit plan on `symbol`: `venue` when it lists the symbol,
    else by default the first followed venue (VENUES order) that does; (None, None) when no
    venue is published. HTTPException 422 naming the listing venues for any other venue."""
    raw = (await read_followed(redis, settings)).get(symbol)
    listed: dict[str, Any] = orjson.loads(raw) if raw is not None else {}
    order = [v for v in settings.venues if v in listed] + [
        v for v in listed if v not in settings.venues
    ]
    if venue is None:
        venue = next(iter(order), None)
        if venue is None:
            return None, None
    elif venue not in listed:
        names = ", ".join(order) or "none published yet"
        raise HTTPException(
            422, f"venue {venue!r} does not list {symbol}; venues listing it: {names}"
        )
    tick = listed[venue].get("tick_size")
    return venue, float(tick) if tick is not None else None


def symbols_response(fields: dict[str, Any], settings: Settings) -> SymbolsResponse:
    if not fields:
        return SymbolsResponse(
            source="settings", updated=None,
            symbols=[FollowedSymbol(symbol=s, venues={}) for s in settings.explicit_symbols()],
        )  # fmt: skip
    updated = fields.get(UPDATED_FIELD)
    symbols = [
        FollowedSymbol(symbol=name, venues=orjson.loads(value))
        for name, value in sorted(fields.items())
        if name != UPDATED_FIELD
    ]
    when = iso_utc(int(updated)) if updated is not None and updated.isdigit() else None
    return SymbolsResponse(source="collector", updated=when, symbols=symbols)


def add_symbols_routes(app: FastAPI, redis: aredis.Redis, settings: Settings) -> None:
    @app.get("/api/v1/symbols", summary="Followed symbols and each venue's instrument")
    async def symbols() -> SymbolsResponse:
        try:
            fields = await asyncio.wait_for(read_followed(redis, settings), timeout=10)
        except TRANSIENT_REDIS_ERRORS as exc:
            raise HTTPException(503, f"Redis unavailable: {type(exc).__name__}") from exc
        return symbols_response(fields, settings)
