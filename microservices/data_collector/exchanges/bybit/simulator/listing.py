"""Bybit v5 `/v5/market/instruments-info` under `/bybit`: the simulated symbols of a category
(linear perpetuals or spot), paginated with `limit` and `nextPageCursor` like Bybit, with the
instrument's tick and lot sizes (`priceFilter.tickSize`, `lotSizeFilter.qtyStep` /
`basePrecision`).
"""

from __future__ import annotations

from typing import Any, Final

from aiohttp import web

from microservices.data_collector.exchanges.bybit.simulator.rest import (
    _dialect,
    _limit,
    envelope,
    params_error,
)
from microservices.data_collector.exchanges.bybit.simulator.ws import BybitDialect
from microservices.exchange_simulator.naming import SIM_QUOTE, sim_base
from microservices.exchange_simulator.venues.base import fmt, json_response

CURSOR_PREFIX: Final = "sim:"  # nextPageCursor: "sim:<offset>"


def _linear_row(dialect: BybitDialect, symbol: str) -> dict[str, Any]:
    inst = dialect.market.instruments[symbol]
    step = fmt(inst.step, inst.qty_dp)
    return {
        "symbol": dialect.venue_syms[symbol],
        "contractType": "LinearPerpetual",
        "status": "Trading",
        "baseCoin": sim_base(symbol),
        "quoteCoin": SIM_QUOTE,
        "launchTime": "1585526400000",
        "deliveryTime": "0",
        "deliveryFeeRate": "",
        "priceScale": str(inst.price_dp),
        "leverageFilter": {"minLeverage": "1", "maxLeverage": "100.00", "leverageStep": "0.01"},
        "priceFilter": {"minPrice": fmt(inst.tick, inst.price_dp), "maxPrice": "1999999.80",
                        "tickSize": fmt(inst.tick, inst.price_dp)},
        "lotSizeFilter": {"maxOrderQty": "1190.000", "minOrderQty": step, "qtyStep": step,
                          "postOnlyMaxOrderQty": "1190.000", "maxMktOrderQty": "500.000",
                          "minNotionalValue": "5"},
        "unifiedMarginTrade": True,
        "fundingInterval": 480,
        "settleCoin": SIM_QUOTE,
        "copyTrading": "both",
        "upperFundingRate": "0.005",
        "lowerFundingRate": "-0.005",
        "isPreListing": False,
    }  # fmt: skip


def _spot_row(dialect: BybitDialect, symbol: str) -> dict[str, Any]:
    inst = dialect.market.instruments[symbol]
    base_step = fmt(inst.step / 1000, inst.qty_dp + 3)  # spot sizes: three more decimals
    return {
        "symbol": dialect.venue_syms[symbol],
        "baseCoin": sim_base(symbol),
        "quoteCoin": SIM_QUOTE,
        "innovation": "0",
        "status": "Trading",
        "marginTrading": "utaOnly",
        "stTag": "0",
        "lotSizeFilter": {"basePrecision": base_step, "quotePrecision": "0.00000001",
                          "minOrderQty": base_step, "maxOrderQty": "71.73956243",
                          "minOrderAmt": "1", "maxOrderAmt": "2000000"},
        "priceFilter": {"tickSize": fmt(inst.tick, inst.price_dp)},
        "riskParameters": {"priceLimitRatioX": "0.05", "priceLimitRatioY": "0.05"},
    }  # fmt: skip


def _offset(request: web.Request) -> int:
    cursor = request.query.get("cursor", "")
    if not cursor:
        return 0
    if not cursor.startswith(CURSOR_PREFIX) or not cursor[len(CURSOR_PREFIX) :].isdigit():
        raise params_error("params error: cursor invalid")
    return int(cursor[len(CURSOR_PREFIX) :])


async def instruments_info(request: web.Request) -> web.Response:
    """One page of the category's instruments; spot ignores `limit` (one page), like Bybit."""
    category, dialect = _dialect(request)
    symbols = sorted(dialect.venue_syms)
    requested = request.query.get("symbol")
    if requested:
        found = dialect.by_venue_symbol.get(requested.upper())
        symbols = [found] if found is not None else []
    row = _spot_row if category == "spot" else _linear_row
    if category == "spot":
        page, cursor = symbols, ""
    else:
        start, limit = _offset(request), _limit(request.query, 500, 1000)
        page = symbols[start : start + limit]
        more = start + limit < len(symbols)
        cursor = f"{CURSOR_PREFIX}{start + limit}" if more else ""
    result = {"category": category, "list": [row(dialect, s) for s in page],
              "nextPageCursor": cursor}  # fmt: skip
    return json_response(envelope(result))


def routes(prefix: str = "/bybit") -> list[web.RouteDef]:
    return [web.get(prefix + "/v5/market/instruments-info", instruments_info)]
