"""Binance REST order-book snapshots: `GET /api/v3/depth` and `/fapi/v1/depth`.

The answer is the pair's L2 ladder now, with a `lastUpdateId` that fits the pair's
`@depth@100ms` diff stream by Binance's documented sync rules (see `snapshot_id`). Request
weights follow the docs and are charged by the simulator's rate limiter like any request.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from aiohttp import web

from microservices.common.clock import now_ms
from microservices.data_collector.exchanges.binance.simulator.spot_ws import BinanceDialect
from microservices.exchange_simulator.depth import snapshot_id
from microservices.exchange_simulator.venues.base import RestError, json_response, query_int

SPOT_MAX_LIMIT: Final = 5000
FUTURES_LIMITS: Final = (5, 10, 20, 50, 100, 500, 1000)

DialectOf = Callable[[web.Request], BinanceDialect]
SymbolOf = Callable[[web.Request], str | None]


def _limit(query: Mapping[str, str], default: int) -> int | None:
    try:
        return query_int(query, "limit", default)
    except ValueError:
        return None


def spot_limit(query: Mapping[str, str]) -> int:
    """Levels per side asked of /api/v3/depth: default 100, within 1..5000."""
    return min(max(_limit(query, 100) or 100, 1), SPOT_MAX_LIMIT)


def futures_limit(query: Mapping[str, str]) -> int:
    """Levels per side asked of /fapi/v1/depth: one of 5..1000 (default 500); others round up."""
    wanted = _limit(query, 500) or 500
    return next((n for n in FUTURES_LIMITS if n >= wanted), FUTURES_LIMITS[-1])


def spot_depth_weight(query: Mapping[str, str]) -> int:
    """5 (limit <= 100), 25 (<= 500), 50 (<= 1000), 250 (<= 5000)."""
    limit = spot_limit(query)
    return 5 if limit <= 100 else 25 if limit <= 500 else 50 if limit <= 1000 else 250


def futures_depth_weight(query: Mapping[str, str]) -> int:
    """2 (limit 5..50), 5 (100), 10 (500), 20 (1000)."""
    limit = futures_limit(query)
    return 2 if limit <= 50 else 5 if limit <= 100 else 10 if limit <= 500 else 20


def depth_handler(
    dialect_of: DialectOf, symbol_of: SymbolOf, futures: bool
) -> Callable[[web.Request], Any]:
    """The handler: `{"lastUpdateId", "bids", "asks"}` (USD-M also `E` and `T`)."""

    async def handler(request: web.Request) -> web.Response:
        dialect = dialect_of(request)
        symbol = symbol_of(request)  # raises Binance's errors when missing or unknown
        assert symbol is not None
        q = request.query
        if _limit(q, 0) is None:
            raise RestError(
                400, {"code": -1100, "msg": "Illegal characters found in parameter 'limit'."}
            )
        limit = futures_limit(q) if futures else spot_limit(q)
        market, venue = dialect.market, dialect.market_venue
        ladder = market.depth(venue, symbol)
        last_id = snapshot_id(ladder, market.book(venue, symbol))
        bids, asks = ladder.top(limit)
        tick = ladder.tick
        body: dict[str, Any] = {"lastUpdateId": last_id}
        if futures:
            now = now_ms()
            body.update(E=now, T=now)
        body["bids"] = dialect.levels(symbol, ((t * tick, size) for t, size in bids))
        body["asks"] = dialect.levels(symbol, ((t * tick, size) for t, size in asks))
        return json_response(body)

    return handler
