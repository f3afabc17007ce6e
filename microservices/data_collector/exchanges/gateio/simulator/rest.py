"""Gate.io v4 REST under `/gateio` (spot) and `/gateio_futures` (USDT futures): listings,
all-tickers, 1m candlesticks, order-book snapshots with `id` (`with_id=true`), funding-rate
and contract-stats history, server time; errors `{"label", "message"}` (HTTP 400), 429
`TOO_MANY_REQUESTS` with `Retry-After`. Every public endpoint weighs 1.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from aiohttp import web

from microservices.common.clock import now_ms
from microservices.data_collector.exchanges.gateio.simulator.ws import (
    GateFuturesDialect,
    GateSpotDialect,
    ws_route,
)
from microservices.exchange_simulator.bars import MINUTE_MS, boundaries
from microservices.exchange_simulator.depth import snapshot_id
from microservices.exchange_simulator.naming import SIM_QUOTE, sim_base
from microservices.exchange_simulator.ratelimit import Verdict
from microservices.exchange_simulator.runtime import ctx_of, venue_clock_ms
from microservices.exchange_simulator.venues.base import RestError, RestSpec, fmt, json_response

MAX_POINTS: Final = 1000  # candlesticks per answer
BOOK_LIMIT_MAX: Final = 100
OI_INTERVALS: Final = {"5m": 5, "15m": 15, "30m": 30, "1h": 60, "4h": 240, "1d": 1440}


def bad(message: str, label: str = "INVALID_PARAM_VALUE") -> RestError:
    return RestError(400, {"label": label, "message": message})


def _dialect(request: web.Request, venue: str) -> GateSpotDialect:
    found = ctx_of(request).hub.dialects[venue]
    assert isinstance(found, GateSpotDialect)
    return found


def _symbol(request: web.Request, dialect: GateSpotDialect, name: str) -> str:
    raw = request.query.get(name)
    if not raw:
        raise bad(f"{name} is required", "MISSING_REQUIRED_PARAM")
    symbol = dialect.by_venue_symbol.get(raw)
    if symbol is None:
        label = "CONTRACT_NOT_FOUND" if name == "contract" else "INVALID_CURRENCY_PAIR"
        raise bad(f"unknown {name} {raw}", label)
    return symbol


def _int(query: Mapping[str, str], name: str) -> int | None:
    raw = query.get(name)
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise bad(f"invalid {name}: {raw}") from None


def _seconds(query: Mapping[str, str], name: str) -> int | None:
    value = _int(query, name)
    return None if value is None else value * 1000


# ------------------------------------------------------------------ listings and tickers
def pair_row(dialect: GateSpotDialect, symbol: str) -> dict[str, Any]:
    inst = dialect.market.instruments[symbol]
    return {"id": dialect.venue_syms[symbol], "base": sim_base(symbol), "quote": SIM_QUOTE,
            "fee": "0.2", "min_quote_amount": "1", "amount_precision": inst.qty_dp,
            "precision": inst.price_dp, "trade_status": "tradable", "sell_start": 0,
            "buy_start": 0}  # fmt: skip


def contract_row(dialect: GateFuturesDialect, symbol: str) -> dict[str, Any]:
    inst, venue = dialect.market.instruments[symbol], dialect.market_venue
    interval_h = dialect.market.funding_interval_h(venue, symbol)
    return {"name": dialect.venue_syms[symbol], "type": "direct",
            "quanto_multiplier": fmt(dialect.multiplier(symbol), inst.qty_dp),
            "order_price_round": fmt(inst.tick, inst.price_dp), "order_size_min": 1,
            "funding_interval": int(interval_h * 3600), "in_delisting": False,
            "status": "trading", "leverage_max": "100"}  # fmt: skip


def spot_ticker(dialect: GateSpotDialect, symbol: str) -> dict[str, Any]:
    book = dialect.market.book(dialect.market_venue, symbol)
    return {
        "currency_pair": dialect.venue_syms[symbol],
        "last": dialect.price(symbol, book.last_price),
        "lowest_ask": dialect.price(symbol, book.ask),
        "highest_bid": dialect.price(symbol, book.bid),
        "base_volume": fmt(book.volume_24h, 8),
        "quote_volume": fmt(book.turnover_24h, 8),
    }


def futures_ticker(dialect: GateFuturesDialect, symbol: str) -> dict[str, Any]:
    market, venue, now = dialect.market, dialect.market_venue, now_ms()
    book = market.book(venue, symbol)
    rate = f"{market.funding_rate(venue, symbol):.6f}"
    return {"contract": dialect.venue_syms[symbol],
            "last": dialect.price(symbol, book.last_price),
            "mark_price": dialect.price(symbol, book.mid),
            "index_price": dialect.price(symbol, book.mid), "funding_rate": rate,
            "funding_rate_indicative": rate,
            "total_size": str(dialect.contracts(symbol, market.open_interest(venue, symbol, now))),
            "volume_24h_quote": fmt(book.turnover_24h, 2)}  # fmt: skip


# ------------------------------------------------------------------ handlers
def listing(venue: str) -> Callable[[web.Request], Any]:
    async def handle(request: web.Request) -> web.Response:
        dialect = _dialect(request, venue)
        if isinstance(dialect, GateFuturesDialect):
            rows = [contract_row(dialect, s) for s in sorted(dialect.venue_syms)]
        else:
            rows = [pair_row(dialect, s) for s in sorted(dialect.venue_syms)]
        return json_response(rows)

    return handle


def tickers(venue: str) -> Callable[[web.Request], Any]:
    async def handle(request: web.Request) -> web.Response:
        dialect = _dialect(request, venue)
        futures = isinstance(dialect, GateFuturesDialect)
        name = "contract" if futures else "currency_pair"
        symbols = sorted(dialect.venue_syms)
        if request.query.get(name):
            symbols = [_symbol(request, dialect, name)]
        if isinstance(dialect, GateFuturesDialect):
            return json_response([futures_ticker(dialect, s) for s in symbols])
        return json_response([spot_ticker(dialect, s) for s in symbols])

    return handle


def candlesticks(venue: str) -> Callable[[web.Request], Any]:
    """Spot rows `[t, quote volume, c, h, l, o, base volume, closed]`; futures objects."""

    async def handle(request: web.Request) -> web.Response:
        dialect = _dialect(request, venue)
        futures = isinstance(dialect, GateFuturesDialect)
        q = request.query
        symbol = _symbol(request, dialect, "contract" if futures else "currency_pair")
        if q.get("interval", "5m") != "1m":
            raise bad("only interval 1m is simulated")
        start, end = _seconds(q, "from"), _seconds(q, "to")
        if start is not None and end is not None and (end - start) // MINUTE_MS >= MAX_POINTS:
            raise bad("Candlestick too long ago. Maximum 1000 points ago are allowed")
        bars = dialect.market.klines(dialect.market_venue, symbol, MINUTE_MS, start, end,
                                     _int(q, "limit") or MAX_POINTS)  # fmt: skip
        now, price = now_ms(), dialect.price
        if isinstance(dialect, GateFuturesDialect):
            rows: list[Any] = [
                {"t": b.open_ms // 1000, "v": dialect.contracts(symbol, b.volume),
                 "c": price(symbol, b.close), "h": price(symbol, b.high),
                 "l": price(symbol, b.low), "o": price(symbol, b.open),
                 "sum": fmt(b.quote_volume, 8)} for b in bars
            ]  # fmt: skip
            return json_response(rows)
        rows = [
            [str(b.open_ms // 1000), fmt(b.quote_volume, 8), price(symbol, b.close),
             price(symbol, b.high), price(symbol, b.low), price(symbol, b.open),
             fmt(b.volume, 8), "true" if b.open_ms + MINUTE_MS <= now else "false"]
            for b in bars
        ]  # fmt: skip
        return json_response(rows)

    return handle


def order_book(venue: str) -> Callable[[web.Request], Any]:
    """The pair's ladder now, `id` fitting its `order_book_update` stream (Gate's sync rule:
    the first applied delta has `U <= id + 1 <= u`)."""

    async def handle(request: web.Request) -> web.Response:
        dialect = _dialect(request, venue)
        futures = isinstance(dialect, GateFuturesDialect)
        symbol = _symbol(request, dialect, "contract" if futures else "currency_pair")
        limit = min(max(_int(request.query, "limit") or 10, 1), BOOK_LIMIT_MAX)
        market, mv = dialect.market, dialect.market_venue
        ladder = market.depth(mv, symbol)
        body: dict[str, Any] = {}
        if request.query.get("with_id") == "true":
            body["id"] = snapshot_id(ladder, market.book(mv, symbol))
        now = now_ms()
        body.update(current=now, update=now)
        bids, asks = ladder.top(limit)
        tick = ladder.tick
        body["asks"] = dialect.levels(symbol, ((t * tick, size) for t, size in asks))
        body["bids"] = dialect.levels(symbol, ((t * tick, size) for t, size in bids))
        return json_response(body)

    return handle


async def funding_rate(request: web.Request) -> web.Response:
    dialect = _dialect(request, "gateio_futures")
    q = request.query
    symbol = _symbol(request, dialect, "contract")
    market, venue = dialect.market, dialect.market_venue
    limit = min(max(_int(q, "limit") or 100, 1), 1000)
    interval_ms = market.funding_interval_h(venue, symbol) * 3_600_000
    times = boundaries(interval_ms, _seconds(q, "from"), _seconds(q, "to"), limit, now_ms())
    rate = f"{market.funding_rate(venue, symbol):.6f}"
    return json_response([{"t": t // 1000, "r": rate} for t in reversed(times)])


async def contract_stats(request: web.Request) -> web.Response:
    dialect = _dialect(request, "gateio_futures")
    assert isinstance(dialect, GateFuturesDialect)
    q = request.query
    symbol = _symbol(request, dialect, "contract")
    minutes = OI_INTERVALS.get(q.get("interval", "5m"))
    if minutes is None:
        raise bad(f"invalid interval {q.get('interval')}")
    limit = min(max(_int(q, "limit") or 30, 1), 2000)
    times = boundaries(minutes * MINUTE_MS, _seconds(q, "from"), None, limit, now_ms())
    market, venue = dialect.market, dialect.market_venue
    price = market.book(venue, symbol).mid
    rows = []
    for t in times:
        base = market.open_interest(venue, symbol, t)
        rows.append({"time": t // 1000, "open_interest": dialect.contracts(symbol, base),
                     "open_interest_usd": round(base * price, 2),
                     "mark_price": dialect.price(symbol, price)})  # fmt: skip
    return json_response(rows)


async def server_time(request: web.Request) -> web.Response:
    return json_response({"server_time": int(venue_clock_ms(request))})


def limited(verdict: Verdict) -> web.Response:
    body = {"label": "TOO_MANY_REQUESTS", "message": "Request Rate limit Exceeded"}
    return json_response(body, status=429, headers={"Retry-After": str(verdict.retry_after_s)})


def server_error() -> web.Response:
    return json_response({"label": "SERVER_ERROR", "message": "Internal server error"}, 503)


REST_SPEC: Final = RestSpec(weight=lambda path, query: 1, limited=limited,
                            server_error=server_error)  # fmt: skip


def spot_routes() -> list[web.RouteDef]:
    p, v = "/gateio", "gateio"
    return [
        ws_route(v),
        web.get(p + "/spot/currency_pairs", listing(v)),
        web.get(p + "/spot/tickers", tickers(v)),
        web.get(p + "/spot/candlesticks", candlesticks(v)),
        web.get(p + "/spot/order_book", order_book(v)),
        web.get(p + "/spot/time", server_time),
    ]


def futures_routes() -> list[web.RouteDef]:
    p, v = "/gateio_futures", "gateio_futures"
    usdt = p + "/futures/usdt"
    return [
        ws_route(v),
        web.get(usdt + "/contracts", listing(v)),
        web.get(usdt + "/tickers", tickers(v)),
        web.get(usdt + "/candlesticks", candlesticks(v)),
        web.get(usdt + "/order_book", order_book(v)),
        web.get(usdt + "/funding_rate", funding_rate),
        web.get(usdt + "/contract_stats", contract_stats),
        web.get(p + "/spot/time", server_time),  # one host: the futures base serves it too
    ]
