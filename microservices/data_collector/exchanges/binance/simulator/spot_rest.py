"""Binance REST under `/binance` and `/binance_futures`: klines, bookTicker, exchangeInfo, ...

Error bodies, request weights and the 429/418 answers follow Binance (`{"code":-1003,...}`,
`Retry-After`); the middleware adds `X-MBX-USED-WEIGHT-1M`. Futures subclasses `BinanceRest`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Final

import orjson
from aiohttp import web

from microservices.common.clock import now_ms
from microservices.data_collector.exchanges.binance.simulator.depth import (
    depth_handler,
    spot_depth_weight,
)
from microservices.data_collector.exchanges.binance.simulator.spot_ws import (
    BinanceDialect,
    spot_options,
    ws_routes,
)
from microservices.data_collector.exchanges.binance.simulator.tickers import ticker_24h
from microservices.exchange_simulator.bars import MINUTE_MS, Bar
from microservices.exchange_simulator.naming import SIM_QUOTE, sim_base
from microservices.exchange_simulator.ratelimit import Verdict
from microservices.exchange_simulator.runtime import ctx_of, venue_clock_ms
from microservices.exchange_simulator.venues.base import (
    RestError,
    RestSpec,
    fmt,
    json_response,
    query_int,
)

INTERVALS: Final = {
    "1m": 1,
    "3m": 3,
    "5m": 5,
    "15m": 15,
    "30m": 30,
    "1h": 60,
    "2h": 120,
    "4h": 240,
    "6h": 360,
    "8h": 480,
    "12h": 720,
    "1d": 1440,
    "3d": 4320,
    "1w": 10080,
}


def invalid_symbol() -> RestError:
    return RestError(400, {"code": -1121, "msg": "Invalid symbol."})


def mandatory(name: str) -> RestError:
    return RestError(
        400,
        {
            "code": -1102,
            "msg": f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.",
        },
    )


def int_param(query: Mapping[str, str], name: str, default: int | None = None) -> int | None:
    try:
        return query_int(query, name, default)
    except ValueError:
        raise RestError(
            400,
            {
                "code": -1100,
                "msg": f"Illegal characters found in parameter "
                f"'{name}'; legal range is '^[0-9]{{1,20}}$'.",
            },
        ) from None


class BinanceRest:
    """REST handlers of one Binance venue; `api` is the path family ('/api/v3' or '/fapi/v1')."""

    api: ClassVar[str] = "/api/v3"
    max_klines: ClassVar[int] = 1000

    def __init__(self, dialect_of: Callable[[web.Request], BinanceDialect]) -> None:
        self.dialect_of = dialect_of

    def symbol(self, request: web.Request, required: bool = True) -> str | None:
        raw = request.query.get("symbol")
        if not raw:
            if required:
                raise mandatory("symbol")
            return None
        dialect = self.dialect_of(request)
        canonical = dialect.by_venue_symbol.get(raw.upper())
        if canonical is None:
            raise invalid_symbol()
        return canonical

    def routes(self, prefix: str) -> list[web.RouteDef]:
        api = prefix + self.api
        return [
            web.get(api + "/ping", self.ping),
            web.get(api + "/time", self.time),
            web.get(api + "/klines", self.klines),
            web.get(api + "/ticker/bookTicker", self.book_ticker),
            web.get(api + "/exchangeInfo", self.exchange_info),
            web.get(api + "/ticker/24hr", ticker_24h(self.dialect_of, self.symbol)),
            web.get(
                api + "/depth", depth_handler(self.dialect_of, self.symbol, self.api != "/api/v3")
            ),
        ]

    async def ping(self, request: web.Request) -> web.Response:
        return json_response({})

    async def time(self, request: web.Request) -> web.Response:
        return json_response({"serverTime": int(venue_clock_ms(request))})

    async def klines(self, request: web.Request) -> web.Response:
        q, dialect = request.query, self.dialect_of(request)
        symbol = self.symbol(request)
        assert symbol is not None
        minutes = INTERVALS.get(q.get("interval", ""))
        if minutes is None:
            raise RestError(400, {"code": -1120, "msg": "Invalid interval."})
        limit = min(max(int_param(q, "limit", 500) or 500, 1), self.max_klines)
        bars = dialect.market.klines(
            dialect.market_venue,
            symbol,
            minutes * MINUTE_MS,
            int_param(q, "startTime"),
            int_param(q, "endTime"),
            limit,
        )
        rows = [kline_row(dialect, symbol, b, minutes * MINUTE_MS) for b in bars]
        return json_response(rows)

    async def book_ticker(self, request: web.Request) -> web.Response:
        dialect = self.dialect_of(request)
        symbol = self.symbol(request, required=False)
        if symbol is not None:
            return json_response(self.ticker_row(dialect, symbol))
        return json_response([self.ticker_row(dialect, s) for s in requested(request, dialect)])

    def ticker_row(self, dialect: BinanceDialect, symbol: str) -> dict[str, Any]:
        book = dialect.market.book(dialect.market_venue, symbol)
        p, q = dialect.price_dp(symbol), dialect.qty_dp(symbol)
        return {
            "symbol": dialect.venue_syms[symbol],
            "bidPrice": fmt(book.bid, p),
            "bidQty": fmt(book.bid_qty, q),
            "askPrice": fmt(book.ask, p),
            "askQty": fmt(book.ask_qty, q),
        }

    async def exchange_info(self, request: web.Request) -> web.Response:
        dialect, ctx = self.dialect_of(request), ctx_of(request)
        limit = ctx.limiters[dialect.url_venue].weight_limit_1m
        return json_response(
            {
                "timezone": "UTC",
                "serverTime": now_ms(),
                "rateLimits": [
                    {
                        "rateLimitType": "REQUEST_WEIGHT",
                        "interval": "MINUTE",
                        "intervalNum": 1,
                        "limit": limit,
                    },
                    {
                        "rateLimitType": "ORDERS",
                        "interval": "SECOND",
                        "intervalNum": 10,
                        "limit": 100,
                    },
                    {
                        "rateLimitType": "RAW_REQUESTS",
                        "interval": "MINUTE",
                        "intervalNum": 5,
                        "limit": 61000,
                    },
                ],
                "exchangeFilters": [],
                "symbols": [self.symbol_info(dialect, s) for s in requested(request, dialect)],
            }
        )

    def symbol_info(self, dialect: BinanceDialect, symbol: str) -> dict[str, Any]:
        inst = dialect.market.instruments[symbol]
        return {
            "symbol": dialect.venue_syms[symbol],
            "status": "TRADING",
            "baseAsset": sim_base(symbol),
            "baseAssetPrecision": 8,
            "quoteAsset": SIM_QUOTE,
            "quotePrecision": 8,
            "quoteAssetPrecision": 8,
            "orderTypes": [
                "LIMIT",
                "LIMIT_MAKER",
                "MARKET",
                "STOP_LOSS_LIMIT",
                "TAKE_PROFIT_LIMIT",
            ],
            "icebergAllowed": True,
            "ocoAllowed": True,
            "isSpotTradingAllowed": True,
            "isMarginTradingAllowed": True,
            "filters": [
                {
                    "filterType": "PRICE_FILTER",
                    "minPrice": fmt(inst.tick, 8),
                    "maxPrice": "1000000.00000000",
                    "tickSize": fmt(inst.tick, 8),
                },
                {
                    "filterType": "LOT_SIZE",
                    "minQty": fmt(inst.step, 8),
                    "maxQty": "9000.00000000",
                    "stepSize": fmt(inst.step, 8),
                },
            ],
            "permissions": ["SPOT"],
        }


def requested(request: web.Request, dialect: BinanceDialect) -> list[str]:
    """Canonical symbols of `symbols=["A","B"]` (or `symbol=`), default all simulated."""
    raw = request.query.get("symbols")
    if raw is None and request.query.get("symbol"):
        raw = orjson.dumps([request.query["symbol"]]).decode()
    if raw is None:
        return list(dialect.venue_syms)
    try:
        names = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise RestError(
            400, {"code": -1100, "msg": "Illegal characters found in parameter 'symbols'."}
        ) from None
    found = [dialect.by_venue_symbol.get(str(n).upper()) for n in names]
    if any(s is None for s in found):
        raise invalid_symbol()
    return [s for s in found if s is not None]


def kline_row(dialect: BinanceDialect, symbol: str, bar: Bar, interval_ms: int) -> list[Any]:
    p, q = dialect.price_dp(symbol), dialect.qty_dp(symbol)
    return [
        bar.open_ms,
        fmt(bar.open, p),
        fmt(bar.high, p),
        fmt(bar.low, p),
        fmt(bar.close, p),
        fmt(bar.volume, q),
        bar.open_ms + interval_ms - 1,
        fmt(bar.quote_volume, p),
        bar.trades,
        fmt(bar.taker_buy_volume, q),
        fmt(bar.taker_buy_quote, p),
        "0",
    ]


def spot_weight(path: str, query: Mapping[str, str]) -> int:
    if path.endswith("/klines"):
        return 2
    if path.endswith("/ticker/bookTicker"):
        return 2 if "symbol" in query else 4
    if path.endswith("/exchangeInfo"):
        return 20
    if path.endswith("/ticker/24hr"):
        return 2 if "symbol" in query else 80
    if path.endswith("/depth"):
        return spot_depth_weight(query)
    return 1


def limited(verdict: Verdict) -> web.Response:
    if verdict.status == 418:
        until = now_ms() + verdict.retry_after_s * 1000
        msg = (
            f"Way too many requests; IP(127.0.0.1) banned until {until}. Please use the "
            "websocket for live updates to avoid bans."
        )
    else:
        msg = (
            "Too many requests; current limit of IP(127.0.0.1) request weight is exceeded. "
            "Please use WebSocket Streams for live updates to avoid polling the API."
        )
    return json_response(
        {"code": -1003, "msg": msg},
        status=verdict.status,
        headers={"Retry-After": str(verdict.retry_after_s)},
    )


def server_error() -> web.Response:
    return json_response(
        {"code": -1001, "msg": "Internal error; unable to process your request. Please try again."},
        status=503,
    )


REST_SPEC: Final = RestSpec(
    weight=spot_weight, limited=limited, server_error=server_error, bans=True, weight_header=True
)


def spot_dialect(request: web.Request) -> BinanceDialect:
    found = ctx_of(request).hub.dialects["binance"]
    assert isinstance(found, BinanceDialect)
    return found


def routes(prefix: str = "/binance") -> list[web.RouteDef]:
    """All spot routes: WebSocket paths and REST."""
    return ws_routes("binance", prefix, spot_options) + BinanceRest(spot_dialect).routes(prefix)
