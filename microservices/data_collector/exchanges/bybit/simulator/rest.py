"""Bybit v5 market REST under `/bybit`: kline, tickers, funding history, open interest, ...
(instruments-info in `listing.py`).

Every answer uses the v5 envelope (`retCode`, `retMsg`, `result`, `retExtInfo`, `time`);
parameter errors are HTTP 200 with retCode 10001 like Bybit. Lists are newest first.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from aiohttp import web

from microservices.common.clock import now_ms
from microservices.data_collector.exchanges.bybit.simulator.frames import rate_text
from microservices.data_collector.exchanges.bybit.simulator.ws import BybitDialect, ws_routes
from microservices.exchange_simulator.bars import MINUTE_MS, boundaries
from microservices.exchange_simulator.ratelimit import Verdict
from microservices.exchange_simulator.runtime import ctx_of, venue_clock_ms
from microservices.exchange_simulator.venues.base import (
    RestError,
    RestSpec,
    fmt,
    json_response,
    query_int,
)

KLINE_MINUTES: Final = {
    "1": 1,
    "3": 3,
    "5": 5,
    "15": 15,
    "30": 30,
    "60": 60,
    "120": 120,
    "240": 240,
    "360": 360,
    "720": 720,
    "D": 1440,
    "W": 10080,
}
OI_INTERVALS: Final = {"5min": 5, "15min": 15, "30min": 30, "1h": 60, "4h": 240, "1d": 1440}
CATEGORIES: Final = {"linear": "bybit", "spot": "bybit_spot"}


def envelope(result: Any, code: int = 0, msg: str = "OK") -> dict[str, Any]:
    return {"retCode": code, "retMsg": msg, "result": result, "retExtInfo": {}, "time": now_ms()}


def params_error(msg: str) -> RestError:
    return RestError(200, envelope({}, 10001, msg))


def _dialect(request: web.Request, linear_only: bool = False) -> tuple[str, BybitDialect]:
    category = request.query.get("category", "linear")
    venue = CATEGORIES.get(category)
    if venue is None or (linear_only and venue != "bybit"):
        raise params_error(f"params error: category {category!r} is not supported")
    found = ctx_of(request).hub.dialects[venue]
    assert isinstance(found, BybitDialect)
    return category, found


def _symbol(request: web.Request, dialect: BybitDialect, required: bool = True) -> str | None:
    raw = request.query.get("symbol")
    if not raw:
        if required:
            raise params_error("params error: symbol is required")
        return None
    symbol = dialect.by_venue_symbol.get(raw.upper())
    if symbol is None:
        raise params_error("Not supported symbols")
    return symbol


def _int(query: Mapping[str, str], name: str, default: int | None = None) -> int | None:
    try:
        return query_int(query, name, default)
    except ValueError:
        raise params_error(f"params error: {name} invalid") from None


def _limit(query: Mapping[str, str], default: int, maximum: int) -> int:
    value = _int(query, "limit", default) or default
    if not 1 <= value <= maximum:
        raise params_error(f"params error: limit must be within [1, {maximum}]")
    return value


async def kline(request: web.Request) -> web.Response:
    category, dialect = _dialect(request)
    q, symbol = request.query, _symbol(request, dialect)
    assert symbol is not None
    minutes = KLINE_MINUTES.get(q.get("interval", ""))
    if minutes is None:
        raise params_error("params error: Interval Invalid")
    bars = dialect.market.klines(
        dialect.market_venue,
        symbol,
        minutes * MINUTE_MS,
        _int(q, "start"),
        _int(q, "end"),
        _limit(q, 200, 1000),
    )
    rows = [
        [
            str(b.open_ms),
            dialect.fmt.price(symbol, b.open),
            dialect.fmt.price(symbol, b.high),
            dialect.fmt.price(symbol, b.low),
            dialect.fmt.price(symbol, b.close),
            dialect.fmt.qty(symbol, b.volume),
            fmt(b.quote_volume, 4),
        ]
        for b in reversed(bars)
    ]
    result = {"symbol": dialect.venue_syms[symbol], "category": category, "list": rows}
    return json_response(envelope(result))


async def tickers(request: web.Request) -> web.Response:
    category, dialect = _dialect(request)
    symbol = _symbol(request, dialect, required=False)
    symbols = [symbol] if symbol is not None else list(dialect.venue_syms)
    now = now_ms()
    rows = []
    for s in symbols:
        row: dict[str, Any] = dialect.tickers.fields(s, now)
        if category == "linear":
            row.update(
                predictedDeliveryPrice="",
                basisRate="",
                deliveryFeeRate="",
                deliveryTime="0",
                basis="",
            )
        else:
            book = dialect.market.book(dialect.market_venue, s)
            row.update(
                bid1Price=dialect.fmt.price(s, book.bid),
                bid1Size=dialect.fmt.qty(s, book.bid_qty),
                ask1Price=dialect.fmt.price(s, book.ask),
                ask1Size=dialect.fmt.qty(s, book.ask_qty),
            )
        rows.append(row)
    return json_response(envelope({"category": category, "list": rows}))


async def funding_history(request: web.Request) -> web.Response:
    category, dialect = _dialect(request, linear_only=True)
    q, symbol = request.query, _symbol(request, dialect)
    assert symbol is not None
    start, end = _int(q, "startTime"), _int(q, "endTime")
    if start is not None and end is None:
        raise params_error("params error: endTime is required when startTime is passed")
    limit = _limit(q, 200, 200)
    market, venue = dialect.market, dialect.market_venue
    interval_ms = market.funding_interval_h(venue, symbol) * 3_600_000
    times = boundaries(interval_ms, start, end, limit, now_ms())
    rate = rate_text(market.funding_rate(venue, symbol))
    rows = [
        {"symbol": dialect.venue_syms[symbol], "fundingRate": rate, "fundingRateTimestamp": str(t)}
        for t in reversed(times)
    ]
    return json_response(envelope({"category": category, "list": rows}))


async def open_interest(request: web.Request) -> web.Response:
    category, dialect = _dialect(request, linear_only=True)
    q, symbol = request.query, _symbol(request, dialect)
    assert symbol is not None
    minutes = OI_INTERVALS.get(q.get("intervalTime", ""))
    if minutes is None:
        raise params_error("params error: intervalTime invalid")
    times = boundaries(
        minutes * MINUTE_MS, _int(q, "startTime"), _int(q, "endTime"), _limit(q, 50, 200), now_ms()
    )
    market = dialect.market
    rows = [
        {
            "openInterest": fmt(market.open_interest(dialect.market_venue, symbol, t), 8),
            "timestamp": str(t),
        }
        for t in reversed(times)
    ]
    result = {
        "symbol": dialect.venue_syms[symbol],
        "category": category,
        "list": rows,
        "nextPageCursor": "",
    }
    return json_response(envelope(result))


async def orderbook(request: web.Request) -> web.Response:
    _, dialect = _dialect(request)
    symbol = _symbol(request, dialect)
    assert symbol is not None
    book, now = dialect.market.book(dialect.market_venue, symbol), now_ms()
    result = {
        "s": dialect.venue_syms[symbol],
        "a": [[dialect.fmt.price(symbol, book.ask), dialect.fmt.qty(symbol, book.ask_qty)]],
        "b": [[dialect.fmt.price(symbol, book.bid), dialect.fmt.qty(symbol, book.bid_qty)]],
        "ts": now,
        "u": book.update_id,
        "seq": book.seq,
        "cts": now,
    }
    return json_response(envelope(result))


async def server_time(request: web.Request) -> web.Response:
    nanos = int(venue_clock_ms(request) * 1_000_000)
    result = {"timeSecond": str(nanos // 10**9), "timeNano": str(nanos)}
    return json_response({**envelope(result), "time": nanos // 1_000_000})


def limited(verdict: Verdict) -> web.Response:
    body = envelope({}, 10006, "Too many visits!")
    return json_response(
        body, status=verdict.status, headers={"Retry-After": str(verdict.retry_after_s)}
    )


def server_error() -> web.Response:
    return json_response(envelope({}, 10016, "Internal server error."), status=503)


REST_SPEC: Final = RestSpec(
    weight=lambda path, query: 1, limited=limited, server_error=server_error
)


def routes(prefix: str = "/bybit") -> list[web.RouteDef]:
    """All Bybit routes: the two public WebSocket endpoints and the market REST."""
    from microservices.data_collector.exchanges.bybit.simulator import listing  # imports us

    market = prefix + "/v5/market"
    return [
        *ws_routes(prefix),
        web.get(market + "/kline", kline),
        web.get(market + "/tickers", tickers),
        web.get(market + "/funding/history", funding_history),
        web.get(market + "/open-interest", open_interest),
        web.get(market + "/orderbook", orderbook),
        web.get(market + "/time", server_time),
        *listing.routes(prefix),
    ]
