"""Binance 24 h tickers under `/binance` and `/binance_futures`: `/api/v3/ticker/24hr` (also
`type=MINI`) and `/fapi/v1/ticker/24hr`, for one `symbol` or every simulated symbol, from the
simulated book's rolling 24 h open, volume and turnover.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from microservices.common.clock import now_ms
from microservices.data_collector.exchanges.binance.simulator.spot_ws import BinanceDialect
from microservices.exchange_simulator.venues.base import fmt, json_response

DialectOf = Callable[[web.Request], BinanceDialect]
Symbol = Callable[[web.Request, bool], str | None]


def ticker_24h_row(dialect: BinanceDialect, symbol: str, mini: bool) -> dict[str, Any]:
    book = dialect.market.book(dialect.market_venue, symbol)
    p, q = dialect.price_dp(symbol), dialect.qty_dp(symbol)
    now = now_ms()
    row: dict[str, Any] = {
        "symbol": dialect.venue_syms[symbol],
        "openPrice": fmt(book.open_24h, p),
        "highPrice": fmt(book.high_24h, p),
        "lowPrice": fmt(book.low_24h, p),
        "lastPrice": fmt(book.last_price, p),
        "volume": fmt(book.volume_24h, q),
        "quoteVolume": fmt(book.turnover_24h, 8),
        "openTime": now - 86_400_000,
        "closeTime": now,
    }
    if not mini:
        change = book.last_price - book.open_24h
        pct = 100 * change / book.open_24h if book.open_24h else 0.0
        row.update(priceChange=fmt(change, p), priceChangePercent=fmt(pct, 3))
    return row


def ticker_24h(dialect_of: DialectOf, symbol_of: Symbol) -> Callable[..., Any]:
    """The handler: one row for `symbol=`, else a list of every simulated symbol's row."""

    async def handler(request: web.Request) -> web.Response:
        dialect = dialect_of(request)
        mini = request.query.get("type", "FULL").upper() == "MINI"
        symbol = symbol_of(request, False)
        if symbol is not None:
            return json_response(ticker_24h_row(dialect, symbol, mini))
        return json_response([ticker_24h_row(dialect, s, mini) for s in dialect.venue_syms])

    return handler
