"""Deribit public REST under `/deribit/api/v2/public`: get_instruments, ticker,
get_tradingview_chart_data, get_funding_rate_history, get_book_summary_by_currency (option
chains, `options.py`) and get_time.

Answers use the JSON-RPC envelope (`jsonrpc`, `result`, `usIn`, `usOut`, `usDiff`,
`testnet`); bad parameters are HTTP 400 with error -32602, a rate limit HTTP 429 with error
10028 `too_many_requests` (Deribit's code; the Retry-After header is the simulator's fault
setting). get_instruments weighs 20 (its own 1 request/s limit), everything else 1.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from aiohttp import web

from microservices.common.clock import now_ms
from microservices.data_collector.exchanges.deribit.simulator.frames import venue_symbol
from microservices.data_collector.exchanges.deribit.simulator.inverse import (
    as_inverse,
    instrument_row,
    inverse_name,
)
from microservices.data_collector.exchanges.deribit.simulator.options import option_chain
from microservices.data_collector.exchanges.deribit.simulator.ws import DeribitDialect, ws_routes
from microservices.exchange_simulator.bars import MINUTE_MS, boundaries
from microservices.exchange_simulator.naming import sim_base
from microservices.exchange_simulator.ratelimit import Verdict
from microservices.exchange_simulator.runtime import ctx_of, venue_clock_ms
from microservices.exchange_simulator.venues.base import (
    RestError,
    RestSpec,
    json_response,
    query_int,
)

HOUR_MS: Final = 3_600_000
MAX_CANDLES: Final = 5_000
MAX_FUNDING_ROWS: Final = 744  # 31 days of hourly rows
PERPETUAL_EXPIRY_MS: Final = 32_503_708_800_000  # Deribit's "never" (year 3000)
LISTING_WEIGHT: Final = 20


def envelope(result: Any) -> dict[str, Any]:
    us = now_ms() * 1000
    return {"jsonrpc": "2.0", "result": result, "usIn": us, "usOut": us + 150, "usDiff": 150,
            "testnet": False}  # fmt: skip


def error_body(code: int, message: str, reason: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if reason is not None:
        error["data"] = {"reason": reason}
    return {"jsonrpc": "2.0", "error": error, "testnet": False}


def invalid(reason: str) -> RestError:
    return RestError(400, error_body(-32602, "Invalid params", reason))


def _dialect(request: web.Request) -> DeribitDialect:
    found = ctx_of(request).hub.dialects["deribit"]
    assert isinstance(found, DeribitDialect)
    return found


def _symbol(request: web.Request, dialect: DeribitDialect) -> str:
    raw = request.query.get("instrument_name", "")
    symbol = dialect.by_venue_symbol.get(raw.upper())
    if symbol is None:
        raise invalid("instrument not found")
    return symbol


def _int(query: Mapping[str, str], name: str) -> int | None:
    try:
        return query_int(query, name)
    except ValueError:
        raise invalid(f"{name} must be an integer") from None


def _instrument_row(dialect: DeribitDialect, symbol: str) -> dict[str, Any]:
    inst = dialect.market.instruments[symbol]
    return {"instrument_name": venue_symbol(symbol), "kind": "future", "instrument_type": "linear",
            "future_type": "linear", "settlement_period": "perpetual", "is_active": True,
            "state": "open", "base_currency": sim_base(symbol), "quote_currency": "USDC",
            "counter_currency": "USDC", "settlement_currency": "USDC",
            "price_index": f"{sim_base(symbol).lower()}_usdc", "contract_size": inst.step,
            "tick_size": inst.tick, "min_trade_amount": inst.step,
            "expiration_timestamp": PERPETUAL_EXPIRY_MS, "creation_timestamp": 1_646_824_342_000,
            "maker_commission": 0.0, "taker_commission": 0.0005, "max_leverage": 50,
            "tick_size_steps": []}  # fmt: skip


async def instruments(request: web.Request) -> web.Response:
    """The simulated USDC-margined linear perpetuals (currency USDC or any) and the inverse
    BTC-PERPETUAL / ETH-PERPETUAL (currency BTC / ETH or any); options and combos: none."""
    dialect = _dialect(request)
    currency = request.query.get("currency", "").upper()
    if currency not in ("BTC", "ETH", "USDC", "USDT", "ANY"):
        raise invalid("currency must be one of BTC, ETH, USDC, USDT, any")
    kind = request.query.get("kind", "future")
    rows: list[dict[str, Any]] = []
    if kind not in ("future", "any"):
        return json_response(envelope(rows))
    for symbol in sorted(dialect.venue_syms):
        linear, name = _instrument_row(dialect, symbol), inverse_name(symbol)
        if currency in ("USDC", "ANY"):
            rows.append(linear)
        if name is not None and currency in (linear["base_currency"], "ANY"):
            rows.append(instrument_row(linear, name))
    return json_response(envelope(rows))


async def ticker(request: web.Request) -> web.Response:
    dialect = _dialect(request)
    symbol = _symbol(request, dialect)
    name = request.query.get("instrument_name", "").upper()
    return json_response(envelope(as_inverse(dialect.fmt.ticker(symbol, now_ms()), name)))


async def chart_data(request: web.Request) -> web.Response:
    """1m candles only (resolution "1"), as columns; status "no_data" when there are none."""
    dialect = _dialect(request)
    symbol = _symbol(request, dialect)
    if request.query.get("resolution") != "1":
        raise invalid("resolution: the simulator serves 1 (minute) only")
    start, end = _int(request.query, "start_timestamp"), _int(request.query, "end_timestamp")
    if start is None or end is None:
        raise invalid("start_timestamp and end_timestamp are required")
    bars = dialect.market.klines("deribit", symbol, MINUTE_MS, start, end, MAX_CANDLES)
    p, q = dialect.fmt.price, dialect.fmt.qty
    result: dict[str, Any] = {
        "ticks": [b.open_ms for b in bars],
        "open": [p(symbol, b.open) for b in bars],
        "high": [p(symbol, b.high) for b in bars],
        "low": [p(symbol, b.low) for b in bars],
        "close": [p(symbol, b.close) for b in bars],
        "volume": [q(symbol, b.volume) for b in bars],
        "cost": [round(b.quote_volume, 2) for b in bars],
        "status": "ok" if bars else "no_data",
    }
    return json_response(envelope(result))


async def funding_history(request: web.Request) -> web.Response:
    """Hourly rows: `interest_8h` the venue's 8 h rate, `interest_1h` an eighth of it."""
    dialect = _dialect(request)
    symbol = _symbol(request, dialect)
    start, end = _int(request.query, "start_timestamp"), _int(request.query, "end_timestamp")
    if start is None or end is None:
        raise invalid("start_timestamp and end_timestamp are required")
    market = dialect.market
    per_8h = (
        market.funding_rate("deribit", symbol) * 8 / market.funding_interval_h("deribit", symbol)
    )
    index = dialect.fmt.price(symbol, market.true_price(symbol))
    rows = [
        {"timestamp": t, "index_price": index, "prev_index_price": index,
         "interest_8h": round(per_8h, 8), "interest_1h": round(per_8h / 8, 10)}
        for t in boundaries(HOUR_MS, start, end, MAX_FUNDING_ROWS, now_ms())
    ]  # fmt: skip
    return json_response(envelope(rows))


async def book_summary(request: web.Request) -> web.Response:
    """`kind=option` of BTC or ETH: the generated chain of the simulated BTCUSDT / ETHUSDT at
    the index price; other kinds and currencies: no rows."""
    dialect = _dialect(request)
    currency = request.query.get("currency", "").upper()
    if currency not in ("BTC", "ETH", "USDC", "USDT", "ANY"):
        raise invalid("currency must be one of BTC, ETH, USDC, USDT, any")
    symbols = [s for s in dialect.market.instruments if sim_base(s) == currency]
    rows: list[dict[str, Any]] = []
    if request.query.get("kind") == "option" and symbols:
        index = dialect.fmt.price(symbols[0], dialect.market.true_price(symbols[0]))
        rows = option_chain(currency, index, int(venue_clock_ms(request)))
    return json_response(envelope(rows))


async def server_time(request: web.Request) -> web.Response:
    return json_response(envelope(int(venue_clock_ms(request))))


def limited(verdict: Verdict) -> web.Response:
    body = error_body(10028, "too_many_requests")
    return json_response(
        body, status=verdict.status, headers={"Retry-After": str(verdict.retry_after_s)}
    )


def server_error() -> web.Response:
    return json_response(error_body(11094, "internal_server_error"), status=503)


def weight(path: str, query: Mapping[str, str]) -> int:
    return LISTING_WEIGHT if path.endswith("/get_instruments") else 1


REST_SPEC: Final = RestSpec(weight=weight, limited=limited, server_error=server_error)


def routes(prefix: str = "/deribit") -> list[web.RouteDef]:
    """All Deribit routes: the JSON-RPC WebSocket and the public REST methods."""
    api = prefix + "/api/v2/public"
    return [
        *ws_routes(prefix),
        web.get(api + "/get_instruments", instruments),
        web.get(api + "/ticker", ticker),
        web.get(api + "/get_tradingview_chart_data", chart_data),
        web.get(api + "/get_funding_rate_history", funding_history),
        web.get(api + "/get_time", server_time),
        web.get(api + "/get_book_summary_by_currency", book_summary),
    ]
