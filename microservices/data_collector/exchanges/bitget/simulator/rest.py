"""Bitget v2 REST under `/bitget`: server time, spot symbols and USDT-FUTURES contracts,
candles, all tickers, funding history and current funding, open interest.

Every answer uses the v2 envelope (`code` "00000", `msg`, `requestTime`, `data`); a bad
parameter is HTTP 400 with code 40034 (unknown symbol 40019), a rate limit HTTP 429 with code
429, like Bitget. Candles are oldest first, funding history newest first.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from aiohttp import web

from microservices.common.clock import now_ms
from microservices.data_collector.exchanges.bitget.simulator.frames import rate_text
from microservices.data_collector.exchanges.bitget.simulator.ws import (
    BitgetDialect,
    ws_routes,
)
from microservices.exchange_simulator.bars import MINUTE_MS, boundaries
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

SPOT_GRANULARITY: Final = {"1min": 1, "5min": 5, "15min": 15, "30min": 30, "1h": 60, "4h": 240}
MIX_GRANULARITY: Final = {"1m": 1, "5m": 5, "15m": 15, "30m": 30, "1H": 60, "4H": 240}


def envelope(data: Any, code: str = "00000", msg: str = "success") -> dict[str, Any]:
    return {"code": code, "msg": msg, "requestTime": now_ms(), "data": data}


def params_error(msg: str, code: str = "40034") -> RestError:
    return RestError(400, envelope(None, code, msg))


def _dialect(request: web.Request, spot: bool) -> BitgetDialect:
    if not spot and request.query.get("productType", "").upper() != "USDT-FUTURES":
        raise params_error("Parameter productType error")
    found = ctx_of(request).hub.dialects["bitget_spot" if spot else "bitget"]
    assert isinstance(found, BitgetDialect)
    return found


def _symbol(request: web.Request, dialect: BitgetDialect) -> str:
    raw = request.query.get("symbol")
    if not raw:
        raise params_error("Parameter symbol cannot be empty")
    symbol = dialect.by_venue_symbol.get(raw.upper())
    if symbol is None:
        raise params_error("Parameter symbol error", "40019")
    return symbol


def _int(query: Mapping[str, str], name: str, default: int | None = None) -> int | None:
    try:
        return query_int(query, name, default)
    except ValueError:
        raise params_error(f"Parameter {name} error") from None


async def candles(request: web.Request) -> web.Response:
    spot = "/spot/" in request.path
    dialect = _dialect(request, spot)
    q, symbol = request.query, _symbol(request, dialect)
    minutes = (SPOT_GRANULARITY if spot else MIX_GRANULARITY).get(q.get("granularity", ""))
    if minutes is None:
        raise params_error("Parameter granularity error")
    limit = _int(q, "limit", 100) or 100
    if not 1 <= limit <= 1000:
        raise params_error("Parameter limit error")
    bars = dialect.market.klines(dialect.market_venue, symbol, minutes * MINUTE_MS,
                                 _int(q, "startTime"), _int(q, "endTime"), limit)  # fmt: skip
    p, sz = dialect.fmt.price, dialect.fmt.qty
    rows = [
        [str(b.open_ms), p(symbol, b.open), p(symbol, b.high), p(symbol, b.low),
         p(symbol, b.close), sz(symbol, b.volume), fmt(b.quote_volume, 4), fmt(b.quote_volume, 4)]
        for b in bars
    ]  # fmt: skip
    return json_response(envelope(rows if spot else [r[:7] for r in rows]))


async def tickers(request: web.Request) -> web.Response:
    spot = "/spot/" in request.path
    dialect = _dialect(request, spot)
    symbols = [_symbol(request, dialect)] if "symbol" in request.query else dialect.venue_syms
    now = now_ms()
    rows = []
    for symbol in symbols:
        row = dialect.fmt.ticker(symbol, dialect.venue_syms[symbol], now)["data"][0]
        rows.append({"symbol": row.pop("instId"), **row})
    return json_response(envelope(rows))


async def history_fund_rate(request: web.Request) -> web.Response:
    dialect = _dialect(request, spot=False)
    q, symbol = request.query, _symbol(request, dialect)
    size, page = _int(q, "pageSize", 20) or 20, _int(q, "pageNo", 1) or 1
    if not 1 <= size <= 100 or page < 1:
        raise params_error("Parameter pageSize error")
    market, venue = dialect.market, dialect.market_venue
    interval_ms = market.funding_interval_h(venue, symbol) * 3_600_000
    times = boundaries(interval_ms, None, None, size * page, now_ms())
    newest_first = list(reversed(times))[(page - 1) * size :]
    rate = rate_text(market.funding_rate(venue, symbol))
    rows = [{"symbol": dialect.venue_syms[symbol], "fundingRate": rate, "fundingTime": str(t)}
            for t in newest_first]  # fmt: skip
    return json_response(envelope(rows))


async def current_fund_rate(request: web.Request) -> web.Response:
    dialect = _dialect(request, spot=False)
    symbol = _symbol(request, dialect)
    market, venue, now = dialect.market, dialect.market_venue, now_ms()
    row = {"symbol": dialect.venue_syms[symbol],
           "fundingRate": rate_text(market.funding_rate(venue, symbol)),
           "fundingRateInterval": str(market.funding_interval_h(venue, symbol)),
           "nextUpdate": str(market.next_funding_ms(venue, symbol, now)),
           "minFundingRate": "-0.003", "maxFundingRate": "0.003"}  # fmt: skip
    return json_response(envelope([row]))


async def open_interest(request: web.Request) -> web.Response:
    dialect = _dialect(request, spot=False)
    symbol = _symbol(request, dialect)
    now = now_ms()
    size = dialect.market.open_interest(dialect.market_venue, symbol, now)
    inst = dialect.market.instruments[symbol]
    rows = [{"symbol": dialect.venue_syms[symbol], "size": fmt(size, inst.qty_dp)}]
    return json_response(envelope({"openInterestList": rows, "ts": str(now)}))


def _spot_row(dialect: BitgetDialect, symbol: str) -> dict[str, Any]:
    inst = dialect.market.instruments[symbol]
    return {"symbol": dialect.venue_syms[symbol], "baseCoin": sim_base(symbol),
            "quoteCoin": SIM_QUOTE, "minTradeAmount": "0", "maxTradeAmount": "900000000000",
            "takerFeeRate": "0.001", "makerFeeRate": "0.001",
            "pricePrecision": str(inst.price_dp), "quantityPrecision": str(inst.qty_dp + 2),
            "quotePrecision": "8", "status": "online", "minTradeUSDT": "1",
            "areaSymbol": "no", "openTime": "1532454360000"}  # fmt: skip


def _contract_row(dialect: BitgetDialect, symbol: str) -> dict[str, Any]:
    inst, venue = dialect.market.instruments[symbol], dialect.market_venue
    step = round(inst.tick / 10**-inst.price_dp)
    return {"symbol": dialect.venue_syms[symbol], "baseCoin": sim_base(symbol),
            "quoteCoin": SIM_QUOTE, "makerFeeRate": "0.0002", "takerFeeRate": "0.0006",
            "supportMarginCoins": [SIM_QUOTE], "minTradeNum": fmt(inst.step, inst.qty_dp),
            "priceEndStep": str(step), "volumePlace": str(inst.qty_dp),
            "pricePlace": str(inst.price_dp), "sizeMultiplier": fmt(inst.step, inst.qty_dp),
            "symbolType": "perpetual", "minTradeUSDT": "5", "symbolStatus": "normal",
            "offTime": "-1", "limitOpenTime": "-1", "deliveryTime": "", "deliveryStartTime": "",
            "launchTime": "", "fundInterval": str(dialect.market.funding_interval_h(venue, symbol)),
            "minLever": "1", "maxLever": "125"}  # fmt: skip


async def spot_symbols(request: web.Request) -> web.Response:
    dialect = _dialect(request, spot=True)
    return json_response(envelope([_spot_row(dialect, s) for s in dialect.venue_syms]))


async def contracts(request: web.Request) -> web.Response:
    dialect = _dialect(request, spot=False)
    return json_response(envelope([_contract_row(dialect, s) for s in dialect.venue_syms]))


async def server_time(request: web.Request) -> web.Response:
    clock = int(venue_clock_ms(request))
    return json_response({**envelope({"serverTime": str(clock)}), "requestTime": clock})


def limited(verdict: Verdict) -> web.Response:
    body = envelope(None, "429", "Too Many Requests")
    return json_response(body, status=429, headers={"Retry-After": str(verdict.retry_after_s)})


def server_error() -> web.Response:
    return json_response(envelope(None, "40010", "Request timed out"), status=503)


REST_SPEC: Final = RestSpec(
    weight=lambda path, query: 1, limited=limited, server_error=server_error
)


def routes(prefix: str = "/bitget") -> list[web.RouteDef]:
    """All Bitget routes: the public WebSocket endpoint and the market REST."""
    spot, mix = prefix + "/api/v2/spot", prefix + "/api/v2/mix/market"
    return [
        *ws_routes(prefix),
        web.get(prefix + "/api/v2/public/time", server_time),
        web.get(spot + "/public/symbols", spot_symbols),
        web.get(spot + "/market/candles", candles),
        web.get(spot + "/market/tickers", tickers),
        web.get(mix + "/contracts", contracts),
        web.get(mix + "/candles", candles),
        web.get(mix + "/tickers", tickers),
        web.get(mix + "/history-fund-rate", history_fund_rate),
        web.get(mix + "/current-fund-rate", current_fund_rate),
        web.get(mix + "/open-interest", open_interest),
    ]
