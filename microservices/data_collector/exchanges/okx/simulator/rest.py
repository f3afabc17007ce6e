"""OKX v5 REST under `/okx`: instruments, tickers, candles, funding rate and its history, open
interest (current and the rubik 5m history), server time.

Every answer is the v5 envelope `{"code": "0", "msg": "", "data": [...]}` with numbers as
strings; a bad parameter is HTTP 400 with code 51000/51001, rate limiting HTTP 429 with code
50011, like OKX. Time-series lists are newest first; `after`/`before` are exclusive bounds.
Request weights follow the endpoints' limits (20 requests / 2 s = weight 1).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from aiohttp import web

from microservices.data_collector.exchanges.okx.simulator.frames import rate_text
from microservices.data_collector.exchanges.okx.simulator.ws import OkxDialect, ws_routes
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

INST_TYPES: Final = {"SWAP": "okx", "SPOT": "okx_spot"}
API: Final = "/api/v5"
# path (after the prefix) -> weight, from the endpoints' per-IP limits
WEIGHTS: Final = {
    "/api/v5/public/funding-rate-history": 2,  # 10 requests / 2 s
    "/api/v5/rubik/stat/contracts/open-interest-history": 4,  # 5 requests / 2 s
}


def envelope(data: list[Any], code: str = "0", msg: str = "") -> dict[str, Any]:
    return {"code": code, "msg": msg, "data": data}


def params_error(msg: str, code: str = "51000") -> RestError:
    return RestError(400, envelope([], code, msg))


def _dialect_of(request: web.Request, inst_type: str) -> OkxDialect:
    venue = INST_TYPES.get(inst_type)
    if venue is None:
        raise params_error(f"Parameter instType error: {inst_type!r}")
    found = ctx_of(request).hub.dialects[venue]
    assert isinstance(found, OkxDialect)
    return found


def _instrument(request: web.Request) -> tuple[OkxDialect, str, str]:
    """(dialect, canonical symbol, instId) of the `instId` parameter."""
    inst_id = request.query.get("instId", "")
    if not inst_id:
        raise params_error("Parameter instId can not be empty")
    dialect = _dialect_of(request, "SWAP" if inst_id.endswith("-SWAP") else "SPOT")
    symbol = dialect.key_symbol(f"x:{inst_id}")
    if symbol is None:
        raise params_error("Instrument ID does not exist", "51001")
    return dialect, symbol, inst_id


def _int(query: Mapping[str, str], name: str) -> int | None:
    try:
        return query_int(query, name)
    except ValueError:
        raise params_error(f"Parameter {name} error") from None


def _limit(query: Mapping[str, str], maximum: int) -> int:
    value = _int(query, "limit") or maximum
    if not 1 <= value <= maximum:
        raise params_error("Parameter limit error")
    return value


def _window(query: Mapping[str, str], after: str, before: str) -> tuple[int | None, int | None]:
    """Inclusive (start, end) of OKX's exclusive `before` (newer than) and `after` (older)."""
    newer, older = _int(query, before), _int(query, after)
    return (None if newer is None else newer + 1), (None if older is None else older - 1)


def _swap_row(dialect: OkxDialect, symbol: str) -> dict[str, Any]:
    inst = dialect.market.instruments[symbol]
    family = f"{sim_base(symbol)}-{SIM_QUOTE}"
    return {"instType": "SWAP", "instId": dialect.venue_syms[symbol], "uly": family,
            "instFamily": family,
            "baseCcy": "", "quoteCcy": "", "settleCcy": SIM_QUOTE, "ctValCcy": sim_base(symbol),
            "ctType": "linear", "ctVal": dialect.fmt.contract_value(symbol), "ctMult": "1",
            "tickSz": fmt(inst.tick, inst.price_dp), "lotSz": "1", "minSz": "1",
            "state": "live", "listTime": "1611916828000", "expTime": ""}  # fmt: skip


def _spot_row(dialect: OkxDialect, symbol: str) -> dict[str, Any]:
    inst = dialect.market.instruments[symbol]
    step = fmt(inst.step / 1000, inst.qty_dp + 3)
    return {"instType": "SPOT", "instId": dialect.venue_syms[symbol], "uly": "",
            "baseCcy": sim_base(symbol), "quoteCcy": SIM_QUOTE, "settleCcy": "", "ctVal": "",
            "ctMult": "", "ctType": "", "tickSz": fmt(inst.tick, inst.price_dp), "lotSz": step,
            "minSz": step, "state": "live", "listTime": "1548133413000", "expTime": ""}  # fmt: skip


async def instruments(request: web.Request) -> web.Response:
    inst_type = request.query.get("instType", "")
    dialect = _dialect_of(request, inst_type)
    row = _swap_row if dialect.swap else _spot_row
    return json_response(envelope([row(dialect, s) for s in sorted(dialect.venue_syms)]))


async def tickers(request: web.Request) -> web.Response:
    dialect = _dialect_of(request, request.query.get("instType", ""))
    now = int(venue_clock_ms(request))
    rows = [dialect.fmt.ticker_row(s, v, now) for s, v in sorted(dialect.venue_syms.items())]
    return json_response(envelope(rows))


async def candles(request: web.Request) -> web.Response:
    dialect, symbol, _ = _instrument(request)
    q = request.query
    if q.get("bar", "1m") != "1m":
        raise params_error("Parameter bar error")
    start, end = _window(q, "after", "before")
    limit = _limit(q, 100)
    bars = dialect.market.klines(dialect.market_venue, symbol, MINUTE_MS, None, end, limit)
    now = int(venue_clock_ms(request))
    rows = [
        dialect.fmt.candle_row(symbol, b, b.open_ms + MINUTE_MS <= now)
        for b in reversed(bars)
        if start is None or b.open_ms >= start
    ]
    return json_response(envelope(rows))


def _swap(request: web.Request) -> tuple[OkxDialect, str, str]:
    dialect, symbol, inst_id = _instrument(request)
    if not dialect.swap:
        raise params_error("Instrument ID does not exist", "51001")
    return dialect, symbol, inst_id


async def funding_rate(request: web.Request) -> web.Response:
    dialect, symbol, inst_id = _swap(request)
    payload = dialect._funding(symbol, inst_id, int(venue_clock_ms(request)))
    return json_response(envelope(payload["data"]))


async def funding_history(request: web.Request) -> web.Response:
    dialect, symbol, inst_id = _swap(request)
    start, end = _window(request.query, "after", "before")
    market, venue = dialect.market, dialect.market_venue
    step = market.funding_interval_h(venue, symbol) * 3_600_000
    times = boundaries(step, None, end, _limit(request.query, 100), int(venue_clock_ms(request)))
    rate = rate_text(market.funding_rate(venue, symbol))
    rows = [{"instType": "SWAP", "instId": inst_id, "fundingRate": rate, "realizedRate": rate,
             "fundingTime": str(t), "method": "current_period"}
            for t in reversed(times) if start is None or t >= start]  # fmt: skip
    return json_response(envelope(rows))


async def open_interest(request: web.Request) -> web.Response:
    dialect, symbol, inst_id = _swap(request)
    payload = dialect._open_interest(symbol, inst_id, int(venue_clock_ms(request)))
    return json_response(envelope(payload["data"]))


async def open_interest_history(request: web.Request) -> web.Response:
    dialect, symbol, _ = _swap(request)
    q = request.query
    if q.get("period", "5m") != "5m":
        raise params_error("Parameter period error")
    now = int(venue_clock_ms(request))
    times = boundaries(300_000, _int(q, "begin"), _int(q, "end"), _limit(q, 100), now)
    market, venue = dialect.market, dialect.market_venue
    rows = []
    for t in reversed(times):
        oi = market.open_interest(venue, symbol, t)
        mid = market.book(venue, symbol).bars.price_at(t)
        rows.append([str(t), dialect.fmt.size(symbol, oi), f"{oi:.8f}", f"{oi * mid:.2f}"])
    return json_response(envelope(rows))


async def server_time(request: web.Request) -> web.Response:
    return json_response(envelope([{"ts": str(int(venue_clock_ms(request)))}]))


def limited(verdict: Verdict) -> web.Response:
    return json_response(
        envelope([], "50011", "Too Many Requests"),
        status=429,
        headers={"Retry-After": str(verdict.retry_after_s)},
    )


def server_error() -> web.Response:
    return json_response(envelope([], "50001", "Service temporarily unavailable"), status=503)


REST_SPEC: Final = RestSpec(
    weight=lambda path, query: WEIGHTS.get(path, 1), limited=limited, server_error=server_error
)


def routes(prefix: str = "/okx") -> list[web.RouteDef]:
    """All OKX routes: the public and business WebSocket endpoints and the v5 REST."""
    api = prefix + API
    return [
        *ws_routes(prefix),
        web.get(api + "/public/instruments", instruments),
        web.get(api + "/market/tickers", tickers),
        web.get(api + "/market/history-candles", candles),
        web.get(api + "/market/candles", candles),
        web.get(api + "/public/funding-rate", funding_rate),
        web.get(api + "/public/funding-rate-history", funding_history),
        web.get(api + "/public/open-interest", open_interest),
        web.get(api + "/rubik/stat/contracts/open-interest-history", open_interest_history),
        web.get(api + "/public/time", server_time),
    ]
