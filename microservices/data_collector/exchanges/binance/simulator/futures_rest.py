"""Binance USDⓈ-M futures REST under `/binance_futures`: `/fapi/v1/*` and `/futures/data/*`.

Adds funding history, premium index and open interest (current and history) to the shared
Binance handlers, with the futures symbol info, book ticker and request weights.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Final

from aiohttp import web

from microservices.common.clock import now_ms
from microservices.data_collector.exchanges.binance.simulator.depth import futures_depth_weight
from microservices.data_collector.exchanges.binance.simulator.spot_rest import (
    BinanceRest,
    int_param,
    limited,
    mandatory,
    requested,
    server_error,
)
from microservices.data_collector.exchanges.binance.simulator.spot_ws import (
    BinanceDialect,
    ws_routes,
)
from microservices.exchange_simulator.bars import boundaries
from microservices.exchange_simulator.runtime import ctx_of
from microservices.exchange_simulator.venues.base import (
    RestError,
    RestSpec,
    WsOptions,
    fmt,
    json_response,
)

OI_PERIODS: Final = {
    "5m": 5,
    "15m": 15,
    "30m": 30,
    "1h": 60,
    "2h": 120,
    "4h": 240,
    "6h": 360,
    "12h": 720,
    "1d": 1440,
}


class FuturesRest(BinanceRest):
    api: ClassVar[str] = "/fapi/v1"
    max_klines: ClassVar[int] = 1500

    def routes(self, prefix: str) -> list[web.RouteDef]:
        api = prefix + self.api
        return [
            *super().routes(prefix),
            web.get(api + "/fundingRate", self.funding_rate),
            web.get(api + "/fundingInfo", self.funding_info),
            web.get(api + "/premiumIndex", self.premium_index),
            web.get(api + "/openInterest", self.open_interest),
            web.get(prefix + "/futures/data/openInterestHist", self.open_interest_hist),
        ]

    def ticker_row(self, dialect: BinanceDialect, symbol: str) -> dict[str, Any]:
        book = dialect.market.book(dialect.market_venue, symbol)
        return {
            "lastUpdateId": book.update_id,
            **super().ticker_row(dialect, symbol),
            "time": now_ms(),
        }

    def symbol_info(self, dialect: BinanceDialect, symbol: str) -> dict[str, Any]:
        inst = dialect.market.instruments[symbol]
        base = symbol.removesuffix("USDT")
        return {
            "symbol": dialect.venue_syms[symbol],
            "pair": dialect.venue_syms[symbol],
            "contractType": "PERPETUAL",
            "deliveryDate": 4133404800000,
            "onboardDate": 1569398400000,
            "status": "TRADING",
            "baseAsset": base,
            "quoteAsset": "USDT",
            "marginAsset": "USDT",
            "pricePrecision": inst.price_dp,
            "quantityPrecision": inst.qty_dp,
            "baseAssetPrecision": 8,
            "quotePrecision": 8,
            "underlyingType": "COIN",
            "settlePlan": 0,
            "triggerProtect": "0.0500",
            "filters": [
                {"filterType": "PRICE_FILTER", "tickSize": fmt(inst.tick, inst.price_dp)},
                {
                    "filterType": "LOT_SIZE",
                    "stepSize": fmt(inst.step, inst.qty_dp),
                    "minQty": fmt(inst.step, inst.qty_dp),
                    "maxQty": "1000",
                },
            ],
            "orderTypes": [
                "LIMIT",
                "MARKET",
                "STOP",
                "STOP_MARKET",
                "TAKE_PROFIT",
                "TAKE_PROFIT_MARKET",
                "TRAILING_STOP_MARKET",
            ],
            "timeInForce": ["GTC", "IOC", "FOK", "GTX"],
        }

    async def funding_info(self, request: web.Request) -> web.Response:
        """Only the symbols whose funding interval (or cap/floor) differs from the default."""
        dialect = self.dialect_of(request)
        market, venue = dialect.market, dialect.market_venue
        return json_response([
            {
                "symbol": dialect.venue_syms[symbol],
                "adjustedFundingRateCap": "0.02000000",
                "adjustedFundingRateFloor": "-0.02000000",
                "fundingIntervalHours": market.funding_interval_h(venue, symbol),
                "disclaimer": False,
            }
            for symbol in dialect.venue_syms
            if market.funding_interval_h(venue, symbol) != 8
        ])  # fmt: skip

    async def funding_rate(self, request: web.Request) -> web.Response:
        dialect, q = self.dialect_of(request), request.query
        market, venue = dialect.market, dialect.market_venue
        limit = min(max(int_param(q, "limit", 100) or 100, 1), 1000)
        rows = []
        for symbol in requested(request, dialect):
            interval_ms = market.funding_interval_h(venue, symbol) * 3_600_000
            start, end = int_param(q, "startTime"), int_param(q, "endTime")
            times = boundaries(interval_ms, start, end, limit, now_ms())
            rate = fmt(market.funding_rate(venue, symbol), 8)
            bars = market.book(venue, symbol).bars
            rows += [
                {
                    "symbol": dialect.venue_syms[symbol],
                    "fundingRate": rate,
                    "fundingTime": t,
                    "markPrice": fmt(bars.price_at(t), 8),
                }
                for t in times
            ]
        return json_response(sorted(rows, key=lambda r: r["fundingTime"])[-limit:])

    async def premium_index(self, request: web.Request) -> web.Response:
        dialect = self.dialect_of(request)
        symbol = self.symbol(request, required=False)
        if symbol is not None:
            return json_response(self._premium(dialect, symbol))
        return json_response([self._premium(dialect, s) for s in dialect.venue_syms])

    def _premium(self, dialect: BinanceDialect, symbol: str) -> dict[str, Any]:
        market, now = dialect.market, now_ms()
        book, index = market.book(dialect.market_venue, symbol), market.true_price(symbol)
        return {
            "symbol": dialect.venue_syms[symbol],
            "markPrice": fmt(book.mid, 8),
            "indexPrice": fmt(index, 8),
            "estimatedSettlePrice": fmt(index, 8),
            "lastFundingRate": fmt(market.funding_rate(dialect.market_venue, symbol), 8),
            "interestRate": "0.00010000",
            "nextFundingTime": market.next_funding_ms(dialect.market_venue, symbol, now),
            "time": now,
        }

    async def open_interest(self, request: web.Request) -> web.Response:
        dialect = self.dialect_of(request)
        symbol = self.symbol(request)
        assert symbol is not None
        now = now_ms()
        oi = dialect.market.open_interest(dialect.market_venue, symbol, now)
        return json_response(
            {
                "openInterest": fmt(oi, dialect.qty_dp(symbol)),
                "symbol": dialect.venue_syms[symbol],
                "time": now,
            }
        )

    async def open_interest_hist(self, request: web.Request) -> web.Response:
        dialect, q = self.dialect_of(request), request.query
        symbol = self.symbol(request)
        assert symbol is not None
        if "period" not in q:
            raise mandatory("period")
        minutes = OI_PERIODS.get(q["period"])
        if minutes is None:
            raise RestError(
                400, {"code": -1130, "msg": "Data sent for paramter 'period' is not valid."}
            )
        limit = min(max(int_param(q, "limit", 30) or 30, 1), 500)
        times = boundaries(
            minutes * 60_000, int_param(q, "startTime"), int_param(q, "endTime"), limit, now_ms()
        )
        market, venue = dialect.market, dialect.market_venue
        bars = market.book(venue, symbol).bars
        rows = []
        for t in times:
            oi = market.open_interest(venue, symbol, t)
            rows.append(
                {
                    "symbol": dialect.venue_syms[symbol],
                    "sumOpenInterest": fmt(oi, 8),
                    "sumOpenInterestValue": fmt(oi * bars.price_at(t), 8),
                    "timestamp": t,
                }
            )
        return json_response(rows)


def futures_weight(path: str, query: Mapping[str, str]) -> int:
    if path.endswith("/klines"):
        raw = query.get("limit", "500")
        limit = int(raw) if raw.isdigit() else 500
        return 1 if limit < 100 else 2 if limit < 500 else 5 if limit <= 1000 else 10
    if path.endswith("/ticker/bookTicker"):
        return 2 if "symbol" in query else 5
    if path.endswith("/premiumIndex"):
        return 1 if "symbol" in query else 10
    if path.endswith("/ticker/24hr"):
        return 1 if "symbol" in query else 40
    if path.endswith("/depth"):
        return futures_depth_weight(query)
    return 1


REST_SPEC: Final = RestSpec(
    weight=futures_weight, limited=limited, server_error=server_error, bans=True, weight_header=True
)


def _dialect(request: web.Request) -> BinanceDialect:
    found = ctx_of(request).hub.dialects["binance_futures"]
    assert isinstance(found, BinanceDialect)
    return found


def _options(request: web.Request) -> WsOptions:
    cfg = ctx_of(request).config
    return WsOptions(
        ping_interval_s=cfg.futures_ping_interval_s, pong_timeout_s=cfg.futures_pong_timeout_s
    )


def routes(prefix: str = "/binance_futures") -> list[web.RouteDef]:
    """All futures routes: WebSocket paths (also under the newer /market and /public
    prefixes, e.g. /binance_futures/market/stream) and REST."""
    ws = [
        r
        for sub in ("", "/market", "/public")
        for r in ws_routes("binance_futures", prefix + sub, _options)
    ]
    return ws + FuturesRest(_dialect).routes(prefix)
