"""KuCoin REST in the simulator: spot under `/kucoin` (bullet-public, v2 symbols, candles,
allTickers, timestamp) and futures under `/kucoin_futures` (bullet-public, contracts,
kline query, current funding and its history, timestamp).

Answers use KuCoin's envelope `{"code": "200000", "data": ...}`; a bad parameter is HTTP 400
`{"code": "400100", "msg": ...}`, a rate limit HTTP 429 `{"code": "429000", "msg": "Too
Many Requests"}`. Request weights are KuCoin's (public pool). Spot candles are `[start (s),
open, close, high, low, volume, turnover]` newest first; futures klines `[start (ms), open,
high, low, close, volume (contracts)]`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from aiohttp import web

from microservices.common.clock import now_ms
from microservices.data_collector.exchanges.kucoin.simulator.ws import KucoinDialect, ws_routes
from microservices.exchange_simulator.bars import MINUTE_MS, boundaries
from microservices.exchange_simulator.naming import SIM_QUOTE, sim_base
from microservices.exchange_simulator.ratelimit import Verdict
from microservices.exchange_simulator.runtime import ctx_of, venue_clock_ms
from microservices.exchange_simulator.venues.base import RestError, RestSpec, fmt, json_response

OK: Final = "200000"
SPOT_CANDLES_MAX: Final = 1500
FUTURES_KLINES_MAX: Final = 500
FUNDING_HISTORY_MAX: Final = 100
# path (after the prefix) -> weight; others weigh 2
WEIGHTS: Final = {
    "/api/v1/bullet-public": 10, "/api/v2/symbols": 4, "/api/v1/market/candles": 3,
    "/api/v1/market/allTickers": 15, "/api/v1/timestamp": 3, "/api/v1/contracts/active": 3,
    "/api/v1/kline/query": 3, "/api/v1/contract/funding-rates": 5,
}  # fmt: skip


def ok(data: Any) -> web.Response:
    return json_response({"code": OK, "data": data})


def bad_request(msg: str) -> RestError:
    return RestError(400, {"code": "400100", "msg": msg})


def _dialect(request: web.Request) -> KucoinDialect:
    venue = request.path.split("/", 2)[1]
    found = ctx_of(request).hub.dialects[venue]
    assert isinstance(found, KucoinDialect)
    return found


def _symbol(request: web.Request, dialect: KucoinDialect, raw: str | None = None) -> str:
    vsym = raw if raw is not None else request.query.get("symbol", "")
    symbol = dialect.by_venue_symbol.get(vsym.upper())
    if symbol is None:
        raise bad_request(f"symbol {vsym!r} is not supported")
    return symbol


def _int(query: Mapping[str, str], name: str) -> int | None:
    raw = query.get(name)
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise bad_request(f"{name} invalid") from None


async def bullet_public(request: web.Request) -> web.Response:
    """A token and this simulator's WebSocket endpoint for the URL venue."""
    venue = request.path.split("/", 2)[1]
    scheme = "wss" if request.secure else "ws"
    server = {"endpoint": f"{scheme}://{request.host}/{venue}/ws", "encrypt": False,
              "protocol": "websocket", "pingInterval": 18000, "pingTimeout": 10000}  # fmt: skip
    return ok({"token": f"sim-{now_ms()}", "instanceServers": [server]})


async def timestamp(request: web.Request) -> web.Response:
    return ok(int(venue_clock_ms(request)))


# ---------------------------------------------------------------------- spot
async def symbols(request: web.Request) -> web.Response:
    dialect = _dialect(request)
    rows = []
    for symbol, vsym in dialect.venue_syms.items():
        inst = dialect.market.instruments[symbol]
        rows.append({"symbol": vsym, "name": vsym, "baseCurrency": sim_base(symbol),
                     "quoteCurrency": SIM_QUOTE, "feeCurrency": SIM_QUOTE, "market": "USDS",
                     "baseMinSize": fmt(inst.step, inst.qty_dp), "quoteMinSize": "0.1",
                     "baseIncrement": fmt(inst.step, inst.qty_dp),
                     "quoteIncrement": fmt(inst.tick, inst.price_dp),
                     "priceIncrement": fmt(inst.tick, inst.price_dp), "priceLimitRate": "0.1",
                     "minFunds": "0.1", "isMarginEnabled": True,
                     "enableTrading": True})  # fmt: skip
    return ok(rows)


async def candles(request: web.Request) -> web.Response:
    dialect, q = _dialect(request), request.query
    symbol = _symbol(request, dialect)
    if q.get("type") != "1min":
        raise bad_request("type invalid")
    start, end = _int(q, "startAt"), _int(q, "endAt")
    bars = dialect.market.klines(dialect.market_venue, symbol, MINUTE_MS,
                                 None if start is None else start * 1000,
                                 None if end is None else end * 1000, SPOT_CANDLES_MAX)  # fmt: skip
    p = dialect.fmt.price
    rows = [[str(b.open_ms // 1000), p(symbol, b.open), p(symbol, b.close), p(symbol, b.high),
             p(symbol, b.low), fmt(b.volume, 8), fmt(b.quote_volume, 8)]
            for b in reversed(bars)]  # fmt: skip
    return ok(rows)


async def all_tickers(request: web.Request) -> web.Response:
    dialect = _dialect(request)
    rows = []
    for symbol, vsym in dialect.venue_syms.items():
        book = dialect.market.book(dialect.market_venue, symbol)
        p = dialect.fmt.price
        rows.append({"symbol": vsym, "symbolName": vsym, "buy": p(symbol, book.bid),
                     "sell": p(symbol, book.ask), "last": p(symbol, book.last_price),
                     "vol": fmt(book.volume_24h, 8),
                     "volValue": fmt(book.turnover_24h, 8)})  # fmt: skip
    return ok({"time": now_ms(), "ticker": rows})


# ---------------------------------------------------------------------- futures
def _contract(dialect: KucoinDialect, symbol: str) -> dict[str, Any]:
    inst, market, venue = dialect.market.instruments[symbol], dialect.market, dialect.market_venue
    book, now = market.book(venue, symbol), now_ms()
    oi_lots = round(market.open_interest(venue, symbol, now) / inst.step)
    base = sim_base(symbol)
    return {"symbol": dialect.venue_syms[symbol], "rootSymbol": SIM_QUOTE, "type": "FFWCSX",
            "baseCurrency": "XBT" if base == "BTC" else base, "quoteCurrency": SIM_QUOTE,
            "settleCurrency": SIM_QUOTE, "multiplier": inst.step, "isInverse": False,
            "isQuanto": False, "status": "Open", "tickSize": inst.tick, "lotSize": 1,
            "expireDate": None, "markPrice": round(book.mid, inst.price_dp),
            "indexPrice": round(market.true_price(symbol), inst.price_dp),
            "lastTradePrice": round(book.last_price, inst.price_dp),
            "openInterest": str(oi_lots), "fundingFeeRate": market.funding_rate(venue, symbol),
            "fundingRateGranularity": market.funding_interval_h(venue, symbol) * 3_600_000,
            "nextFundingRateTime": market.next_funding_ms(venue, symbol, now) - now,
            "turnoverOf24h": round(book.turnover_24h, 4),
            "volumeOf24h": round(book.volume_24h, 8)}  # fmt: skip


async def contracts_active(request: web.Request) -> web.Response:
    dialect = _dialect(request)
    return ok([_contract(dialect, s) for s in dialect.venue_syms])


async def contract(request: web.Request) -> web.Response:
    dialect = _dialect(request)
    return ok(_contract(dialect, _symbol(request, dialect, request.match_info["symbol"])))


async def kline_query(request: web.Request) -> web.Response:
    dialect, q = _dialect(request), request.query
    symbol = _symbol(request, dialect)
    if q.get("granularity") != "1":
        raise bad_request("granularity invalid")
    bars = dialect.market.klines(dialect.market_venue, symbol, MINUTE_MS, _int(q, "from"),
                                 _int(q, "to"), FUTURES_KLINES_MAX)  # fmt: skip
    dp, step = dialect.market.instruments[symbol].price_dp, dialect.market.instruments[symbol].step
    rows = [[b.open_ms, round(b.open, dp), round(b.high, dp), round(b.low, dp),
             round(b.close, dp), round(b.volume / step)] for b in bars]  # fmt: skip
    return ok(rows)


async def current_funding(request: web.Request) -> web.Response:
    dialect = _dialect(request)
    symbol = _symbol(request, dialect, request.match_info["symbol"])
    market, venue, now = dialect.market, dialect.market_venue, now_ms()
    interval_ms = market.funding_interval_h(venue, symbol) * 3_600_000
    next_ms = market.next_funding_ms(venue, symbol, now)
    rate = market.funding_rate(venue, symbol)
    return ok({"symbol": f".{dialect.venue_syms[symbol]}FPI8H", "granularity": interval_ms,
               "timePoint": next_ms - interval_ms, "value": rate, "predictedValue": rate,
               "fundingRateCap": 0.003, "fundingRateFloor": -0.003,
               "fundingTime": next_ms})  # fmt: skip


async def funding_history(request: web.Request) -> web.Response:
    dialect, q = _dialect(request), request.query
    symbol = _symbol(request, dialect)
    market, venue = dialect.market, dialect.market_venue
    interval_ms = market.funding_interval_h(venue, symbol) * 3_600_000
    times = boundaries(interval_ms, _int(q, "from"), _int(q, "to"), FUNDING_HISTORY_MAX, now_ms())
    rate = market.funding_rate(venue, symbol)
    rows = [{"symbol": dialect.venue_syms[symbol], "fundingRate": rate, "timepoint": t}
            for t in reversed(times)]  # fmt: skip
    return ok(rows)


# ---------------------------------------------------------------------- errors and routes
def limited(verdict: Verdict) -> web.Response:
    body = {"code": "429000", "msg": "Too Many Requests"}
    return json_response(body, status=verdict.status,
                         headers={"Retry-After": str(verdict.retry_after_s)})  # fmt: skip


def server_error() -> web.Response:
    return json_response({"code": "500000", "msg": "Internal Server Error"}, status=503)


def weight(path: str, query: Mapping[str, str]) -> int:
    return WEIGHTS.get(path, 2)


REST_SPEC: Final = RestSpec(weight=weight, limited=limited, server_error=server_error)


def spot_routes() -> list[web.RouteDef]:
    p = "/kucoin/api"
    return [*ws_routes("kucoin"), web.post(p + "/v1/bullet-public", bullet_public),
            web.get(p + "/v2/symbols", symbols), web.get(p + "/v1/symbols", symbols),
            web.get(p + "/v1/market/candles", candles),
            web.get(p + "/v1/market/allTickers", all_tickers),
            web.get(p + "/v1/timestamp", timestamp)]  # fmt: skip


def futures_routes() -> list[web.RouteDef]:
    p = "/kucoin_futures/api/v1"
    return [*ws_routes("kucoin_futures"), web.post(p + "/bullet-public", bullet_public),
            web.get(p + "/contracts/active", contracts_active),
            web.get(p + "/contracts/{symbol}", contract), web.get(p + "/kline/query", kline_query),
            web.get(p + "/funding-rate/{symbol}/current", current_funding),
            web.get(p + "/contract/funding-rates", funding_history),
            web.get(p + "/timestamp", timestamp)]  # fmt: skip
