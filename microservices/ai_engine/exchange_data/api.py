"""`GET /api/v1/exchange/large-trades`, `/funding-rates`, `/open-interest` (seed 002, in its
envelope) and `/orderbooks` (the stored snapshots).

Envelope: `{"success": true, "data": {"count", <items>, "summary"}, "filters", "timestamp"}`;
items keep the venue's symbol as `symbol` and the canonical name beside it. Parameters out
of range get FastAPI's 422, whose `detail[].loc` names the field (`["query", "hours"]`).
Symbols take seed 002's forms (`symbols.resolve_symbol`). Without a database: 503.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Final

import orjson
from fastapi import FastAPI, Query
from fastapi.responses import Response

from microservices.ai_engine.exchange_data import queries
from microservices.ai_engine.exchange_data.database import UNAVAILABLE, QueryDb
from microservices.ai_engine.exchange_data.symbols import SYMBOL_PATTERN, resolve_symbol
from microservices.common.clock import now_ms

MAX_HOURS: Final = 24 * 366
MAX_LIMIT: Final = 1000

Symbol = Annotated[
    str | None,
    Query(pattern=SYMBOL_PATTERN, description="BTC-USD, BTC-PERPETUAL, BTC, BTCUSDT, ..."),
]
Exchange = Annotated[
    str | None, Query(pattern=r"^[A-Za-z][A-Za-z0-9_]{1,30}$", description="venue id, e.g. deribit")
]
Hours = Annotated[float, Query(gt=0, le=MAX_HOURS, description="look back this many hours")]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="rows, newest first")]


def envelope(key: str, items: list[dict[str, Any]], summary: dict[str, Any],
             filters: dict[str, Any], now: int) -> dict[str, Any]:  # fmt: skip
    return {
        "success": True,
        "data": {"count": len(items), key: items, "summary": summary},
        "filters": filters,
        "timestamp": queries.iso_z(datetime.fromtimestamp(now / 1000, tz=UTC)),
    }


def make_filters(
    symbol: str | None, exchange: str | None, hours: float, limit: int, now: int
) -> tuple[queries.Filters, dict[str, Any]]:
    """The shared filters, and their echo for the response (with how `symbol` was read)."""
    since = datetime.fromtimestamp(now / 1000, tz=UTC) - timedelta(hours=hours)
    resolved = None if symbol is None else resolve_symbol(symbol)
    venue = None if exchange is None else exchange.lower()
    echo: dict[str, Any] = {"symbol": symbol, "exchange": venue, "hours": hours,
                            "limit": limit, "since": queries.iso_z(since)}  # fmt: skip
    if resolved is not None:
        echo["symbol_match"] = resolved.describe()
    return queries.Filters(since=since, limit=limit, symbol=resolved, exchange=venue), echo


async def answer(
    db: QueryDb,
    key: str,
    build: Callable[[queries.Filters], tuple[str, list[Any]]],
    summarize: Callable[[list[dict[str, Any]]], dict[str, Any]],
    window: tuple[str | None, str | None, float, int],
    extra: dict[str, Any] | None = None,
) -> Response:
    """Run one query: `window` is (symbol, exchange, hours, limit); `extra` adds to `filters`."""
    now = now_ms()
    filters, echo = make_filters(*window, now)
    rows = await db.fetch(*build(filters))
    items = [queries.row_item(row) for row in rows]
    return json_response(envelope(key, items, summarize(items), echo | (extra or {}), now))


def json_response(body: dict[str, Any]) -> Response:
    """JSON by orjson: FastAPI's own encoder walks every value of a 1000-row answer again
    (~0.1 ms a row here), which took most of the time of the large queries."""
    return Response(orjson.dumps(body), media_type="application/json")


def add_exchange_data_routes(app: FastAPI, db: QueryDb) -> None:
    @app.get(
        "/api/v1/exchange/large-trades",
        summary="Large trades and liquidations (seed 002)",
        responses=UNAVAILABLE,
    )
    async def large_trades(
        symbol: Symbol = None,
        exchange: Exchange = None,
        hours: Hours = 24.0,
        min_value_usd: Annotated[float | None, Query(ge=0, le=1e12)] = None,
        only_liquidations: bool = False,
        limit: Limit = 100,
    ) -> Response:
        def build(filters: queries.Filters) -> tuple[str, list[Any]]:
            return queries.large_trades_query(filters, min_value_usd, only_liquidations)

        extra = {"min_value_usd": min_value_usd, "only_liquidations": only_liquidations}
        window = (symbol, exchange, hours, limit)
        return await answer(db, "trades", build, queries.large_trades_summary, window, extra)

    @app.get(
        "/api/v1/exchange/funding-rates",
        summary="Funding rates of perpetuals (seed 002)",
        responses=UNAVAILABLE,
    )
    async def funding_rates(
        symbol: Symbol = None, exchange: Exchange = None, hours: Hours = 24.0, limit: Limit = 100
    ) -> Response:
        window = (symbol, exchange, hours, limit)
        return await answer(db, "funding_rates", queries.funding_query, queries.funding_summary,
                            window)  # fmt: skip

    @app.get(
        "/api/v1/exchange/open-interest",
        summary="Open interest of derivatives (seed 002)",
        responses=UNAVAILABLE,
    )
    async def open_interest(
        symbol: Symbol = None, exchange: Exchange = None, hours: Hours = 24.0, limit: Limit = 100
    ) -> Response:
        window = (symbol, exchange, hours, limit)
        return await answer(db, "open_interest", queries.open_interest_query,
                            queries.open_interest_summary, window)  # fmt: skip

    @app.get(
        "/api/v1/exchange/orderbooks",
        summary="Stored order-book snapshots (top levels)",
        responses=UNAVAILABLE,
    )
    async def orderbooks(
        symbol: Symbol = None,
        exchange: Exchange = None,
        hours: Hours = 1.0,
        limit: Annotated[int, Query(ge=1, le=100, description="snapshots, newest first")] = 10,
    ) -> Response:
        window = (symbol, exchange, hours, limit)
        return await answer(db, "orderbooks", queries.orderbooks_query,
                            queries.orderbooks_summary, window)  # fmt: skip
