"""Coinbase Exchange market REST under `/coinbase`: products, ticker, candles and book.

Candles are `[time, low, high, open, close, volume]` numbers, newest first, at most 300 per
request, like Coinbase. Errors are `{"message": ...}` with the HTTP status.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from aiohttp import web

from microservices.common.clock import now_ms
from microservices.data_collector.exchanges.coinbase.simulator.ws import CoinbaseDialect, ws_routes
from microservices.exchange_simulator.ratelimit import Verdict
from microservices.exchange_simulator.runtime import ctx_of, venue_clock_ms
from microservices.exchange_simulator.venues.base import (
    RestError,
    RestSpec,
    fmt,
    iso_us,
    json_response,
)

GRANULARITIES: Final = (60, 300, 900, 3600, 21600, 86400)
MAX_CANDLES: Final = 300


def _dialect(request: web.Request) -> CoinbaseDialect:
    found = ctx_of(request).hub.dialects["coinbase"]
    assert isinstance(found, CoinbaseDialect)
    return found


def _product(request: web.Request, dialect: CoinbaseDialect) -> str:
    symbol = dialect.by_product.get(request.match_info["product_id"].upper())
    if symbol is None:
        raise RestError(404, {"message": "NotFound"})
    return symbol


def _seconds(raw: str | None, name: str) -> int | None:
    """Epoch seconds of an ISO 8601 time or a number of seconds."""
    if not raw:
        return None
    try:
        return int(float(raw))
    except ValueError:
        pass
    try:
        return int(datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp())
    except ValueError:
        raise RestError(400, {"message": f"Invalid {name}"}) from None


def _product_row(dialect: CoinbaseDialect, symbol: str) -> dict[str, Any]:
    inst, product = dialect.market.instruments[symbol], dialect.products[symbol]
    base, _, quote = product.partition("-")
    return {
        "id": product,
        "base_currency": base,
        "quote_currency": quote,
        "quote_increment": fmt(inst.tick, inst.price_dp),
        "base_increment": "0.00000001",
        "display_name": f"{base}-{quote}",
        "min_market_funds": "1",
        "margin_enabled": False,
        "post_only": False,
        "limit_only": False,
        "cancel_only": False,
        "status": "online",
        "status_message": "",
        "trading_disabled": False,
        "fx_stablecoin": False,
        "max_slippage_percentage": "0.02000000",
        "auction_mode": False,
        "high_bid_limit_percentage": "",
    }


async def products(request: web.Request) -> web.Response:
    dialect = _dialect(request)
    return json_response([_product_row(dialect, s) for s in dialect.products])


async def product(request: web.Request) -> web.Response:
    dialect = _dialect(request)
    return json_response(_product_row(dialect, _product(request, dialect)))


async def ticker(request: web.Request) -> web.Response:
    dialect = _dialect(request)
    symbol = _product(request, dialect)
    book = dialect.market.book(dialect.market_venue, symbol)
    price = dialect.market.instruments[symbol].price_dp
    return json_response(
        {
            "ask": fmt(book.ask, price),
            "bid": fmt(book.bid, price),
            "volume": fmt(book.volume_24h, 8),
            "trade_id": book.trade_id,
            "price": fmt(book.last_price, price),
            "size": fmt(book.last_qty, 8),
            "time": iso_us(book.last_ts or now_ms()),
            "rfq_volume": "0",
        }
    )


async def candles(request: web.Request) -> web.Response:
    dialect, q = _dialect(request), request.query
    symbol = _product(request, dialect)
    try:
        granularity = int(q.get("granularity", "60"))
    except ValueError:
        granularity = -1
    if granularity not in GRANULARITIES:
        raise RestError(400, {"message": "Unsupported granularity"})
    start, end = _seconds(q.get("start"), "start"), _seconds(q.get("end"), "end")
    if start is not None and end is not None and (end - start) // granularity > MAX_CANDLES:
        raise RestError(
            400,
            {
                "message": "granularity too small for the requested time range. "
                "Count of aggregations requested exceeds 300"
            },
        )
    bars = dialect.market.klines(
        dialect.market_venue,
        symbol,
        granularity * 1000,
        None if start is None else start * 1000,
        None if end is None else end * 1000,
        MAX_CANDLES,
    )
    dp = dialect.market.instruments[symbol].price_dp
    rows = [
        [
            b.open_ms // 1000,
            round(b.low, dp),
            round(b.high, dp),
            round(b.open, dp),
            round(b.close, dp),
            round(b.volume, 8),
        ]
        for b in reversed(bars)
    ]
    return json_response(rows)


async def book(request: web.Request) -> web.Response:
    dialect = _dialect(request)
    symbol = _product(request, dialect)
    b, dp = dialect.market.book(dialect.market_venue, symbol), dialect.market.instruments[symbol]
    return json_response(
        {
            "bids": [[fmt(b.bid, dp.price_dp), fmt(b.bid_qty, 8), 1]],
            "asks": [[fmt(b.ask, dp.price_dp), fmt(b.ask_qty, 8), 1]],
            "sequence": b.seq,
            "auction_mode": False,
            "auction": None,
            "time": iso_us(now_ms()),
        }
    )


async def server_time(request: web.Request) -> web.Response:
    clock_ms = venue_clock_ms(request)
    return json_response({"iso": iso_us(int(clock_ms)), "epoch": round(clock_ms / 1000, 6)})


def limited(verdict: Verdict) -> web.Response:
    return json_response(
        {"message": "Public rate limit exceeded"},
        status=verdict.status,
        headers={"Retry-After": str(verdict.retry_after_s)},
    )


def server_error() -> web.Response:
    return json_response({"message": "Service Unavailable"}, status=503)


REST_SPEC: Final = RestSpec(
    weight=lambda path, query: 1, limited=limited, server_error=server_error
)


def routes(prefix: str = "/coinbase") -> list[web.RouteDef]:
    """All Coinbase routes: the ws-feed and the market REST."""
    p = prefix + "/products"
    return [
        *ws_routes(prefix),
        web.get(p, products),
        web.get(p + "/{product_id}", product),
        web.get(p + "/{product_id}/ticker", ticker),
        web.get(p + "/{product_id}/candles", candles),
        web.get(p + "/{product_id}/book", book),
        web.get(prefix + "/time", server_time),
    ]
