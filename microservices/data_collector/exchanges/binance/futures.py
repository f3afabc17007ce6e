"""Binance USDⓈ-M perpetuals: `fstream.binance.com` combined streams and `fapi.binance.com` REST.

Adds funding (markPrice stream, fundingRate/premiumIndex REST), open interest and liquidations
(forceOrder) to the spot code it reuses. Pure: imports no I/O library (aiohttp, websockets,
redis) and never reads the clock.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Final

from microservices.common.errors import BadMessage
from microservices.common.records import AnyRaw, Funding, Liquidation, OpenInterest, Side
from microservices.data_collector.exchanges.base import (
    Dropped,
    RestRequest,
    VenueParser,
    epoch_ms,
    price,
    qty,
    rate,
)
from microservices.data_collector.exchanges.binance.fast import (
    FUTURES_DECODERS,
)
from microservices.data_collector.exchanges.binance.listing import BinanceFuturesListing
from microservices.data_collector.exchanges.binance.parser import (
    BinanceParser,
    Handler,
    parse_object,
    parse_rows,
)
from microservices.data_collector.exchanges.binance.spot import BinanceBase

# Symbols settling other than every 8 h are listed by /fapi/v1/fundingInfo, which the
# collector polls (`apply_funding_info`); `Exchange.funding_interval_h` answers per symbol.
MAX_FUNDING_INTERVAL_H: Final = 24
ORDER_SIDES: Final[dict[str, Side]] = {"BUY": "buy", "SELL": "sell"}
OI_PERIODS: Final = {300_000: "5m", 900_000: "15m", 1_800_000: "30m", 3_600_000: "1h"}


def none_if_empty(value: Any) -> Any:
    """Binance sends "" (or omits the field) where a value does not apply."""
    return None if value is None or value == "" else value


def filled_or(filled: Any, ordered: Any, parse: Callable[[Any], float]) -> float:
    """A forceOrder's fill value (avg price `ap`, filled qty `z`) when positive, else the
    order's own value (`p`, `q`) parsed with `parse`."""
    if filled is not None:
        value = qty(filled)  # finite and >= 0, else BadMessage
        if value > 0.0:
            return value
    return parse(ordered)


class BinanceFuturesParser(BinanceParser):
    """Spot handlers plus markPriceUpdate -> Funding and forceOrder -> Liquidation."""

    ignored_events = BinanceParser.ignored_events | {
        "contractInfo",
        "assetIndexUpdate",
        "compositeIndex",
        "continuous_kline",
    }
    book_ticker_requires_event_time = True  # futures bookTicker has E (and T)
    fast_decoders = FUTURES_DECODERS  # adds markPriceUpdate; no untyped spot bookTicker

    def _build_handlers(self) -> dict[Any, Handler]:
        handlers = super()._build_handlers()
        handlers["markPriceUpdate"] = self._mark_price
        handlers["forceOrder"] = self._force_order
        return handlers

    def _trade(self, data: dict[str, Any], recv_ms: int) -> list[AnyRaw]:
        # @trade also carries insurance-fund and ADL fills (X != "MARKET"): not market trades
        status = data.get("X")
        if status is not None and status != "MARKET":
            raise Dropped("ignored")
        return super()._trade(data, recv_ms)

    def _mark_price(self, data: dict[str, Any], recv_ms: int) -> list[AnyRaw]:
        funding_rate = data["r"]
        if funding_rate == "":  # delivery contracts have no funding
            raise Dropped("ignored")
        symbol, vsym, group, quote = self._symbol(data["s"])
        next_ms = data["T"]
        index = none_if_empty(data.get("i"))  # absent in 2019 payloads
        return [
            Funding(
                exchange=self._venue,
                market=self._market,
                symbol=symbol,
                venue_symbol=vsym,
                group=group,
                quote=quote,
                ts_ms=epoch_ms(data["E"]),
                recv_ms=recv_ms,
                funding_rate=rate(funding_rate),
                funding_interval_h=self.exchange.funding_interval_h(symbol),
                next_funding_time_ms=None if next_ms == 0 else epoch_ms(next_ms),
                mark_price=price(data["p"]),
                index_price=None if index is None else price(index),
            )
        ]

    def _force_order(self, data: dict[str, Any], recv_ms: int) -> list[AnyRaw]:
        order = data["o"]
        symbol, vsym, group, quote = self._symbol(order["s"])
        return [
            Liquidation(
                exchange=self._venue,
                market=self._market,
                symbol=symbol,
                venue_symbol=vsym,
                group=group,
                quote=quote,
                ts_ms=epoch_ms(order["T"]),
                recv_ms=recv_ms,
                price=filled_or(order.get("ap"), order["p"], price),
                size=filled_or(order.get("z"), order["q"], qty),
                side=ORDER_SIDES[order["S"]],  # side of the forced order: SELL = long liquidated
            )
        ]


class BinanceFutures(BinanceFuturesListing, BinanceBase):
    """Binance USDⓈ-M perpetuals (`market="perp"`).

    Streams per symbol: aggTrade, bookTicker, kline_1m, markPrice@1s, forceOrder. forceOrder
    pushes at most one liquidation per symbol per second, so it under-counts liquidations.
    """

    name = "binance_futures"
    market = "perp"
    stream_suffixes: ClassVar[tuple[str, ...]] = (
        "aggTrade",
        "bookTicker",
        "kline_1m",
        "markPrice@1s",
        "forceOrder",
    )
    # REQUEST_WEIGHT per IP per minute as published in /fapi/v1/exchangeInfo `rateLimits`;
    # read the live value there at runtime.
    always_flowing = "markPrice@1s"  # every second, trades or not
    rest_weight_per_minute = 2400
    kline_page_limit = 1500  # /fapi/v1/klines maximum
    funding_page_limit = 1000
    oi_page_limit = 500
    oi_period_ms = 300_000
    klines_path = "/fapi/v1/klines"

    def new_parser(self) -> VenueParser:
        return BinanceFuturesParser(self)

    def klines_weight(self) -> int:
        """/fapi/v1/klines weight depends on `limit`: <100: 1, <500: 2, <=1000: 5, else 10."""
        limit = self.kline_page_limit
        if limit < 100:
            return 1
        if limit < 500:
            return 2
        return 5 if limit <= 1000 else 10

    # ------------------------------------------------------------------ funding
    def funding_history_request(self, symbol: str, start_ms: int, end_ms: int) -> RestRequest:
        # counted in its own bucket (500 requests / 5 min / IP, shared with fundingInfo)
        params = self.range_params(symbol, start_ms, end_ms, self.funding_page_limit)
        return RestRequest("/fapi/v1/fundingRate", params, 1)

    def parse_funding_history(self, symbol: str, payload: Any, recv_ms: int) -> list[Funding]:
        """Rows `{symbol, fundingRate, fundingTime, markPrice}`; markPrice is "" on old rows."""
        header = self.rest_header(symbol, recv_ms)

        def row_to_funding(row: Any) -> Funding | None:
            if row.get("symbol", header["venue_symbol"]) != header["venue_symbol"]:
                return None
            mark = none_if_empty(row.get("markPrice"))
            return Funding(
                **header,
                ts_ms=epoch_ms(row["fundingTime"]),
                funding_rate=rate(row["fundingRate"]),
                funding_interval_h=self.funding_interval_h(header["symbol"]),
                mark_price=None if mark is None else price(mark),
            )

        return parse_rows(payload, row_to_funding)

    def funding_info_request(self) -> RestRequest:
        # weight 0 in the docs, but it shares the 500 requests / 5 min bucket of fundingRate
        return RestRequest("/fapi/v1/fundingInfo", {}, 1)

    def apply_funding_info(self, payload: Any) -> dict[str, float]:
        """Rows `{symbol, adjustedFundingRateCap, adjustedFundingRateFloor, fundingIntervalHours,
        disclaimer}`, only for symbols whose cap, floor or interval was adjusted; any symbol
        not listed settles every 8 h. A malformed row is skipped (its symbol gets 8 h)."""

        def row_to_interval(row: Any) -> tuple[str, float] | None:
            symbol = self.to_canonical(row["symbol"])  # followed instruments only
            if symbol is None:
                return None
            hours = row["fundingIntervalHours"]
            if type(hours) is not int or not 1 <= hours <= MAX_FUNDING_INTERVAL_H:
                raise BadMessage(f"bad fundingIntervalHours {hours!r}")
            return symbol, float(hours)

        self.funding_intervals = dict(parse_rows(payload, row_to_interval))
        default = self.default_funding_interval_h
        return {s: h for s, h in self.funding_intervals.items() if h != default}

    def current_funding_request(self, symbol: str) -> RestRequest:
        return RestRequest("/fapi/v1/premiumIndex", {"symbol": self.to_venue(symbol)}, 1)

    def parse_current_funding(self, symbol: str, payload: Any, recv_ms: int) -> list[Funding]:
        """premiumIndex: `lastFundingRate` is the predicted rate of the next settlement."""
        header = self.rest_header(symbol, recv_ms)

        def to_funding(obj: dict[str, Any]) -> list[Funding]:
            self._check_symbol(obj, header["venue_symbol"])
            if obj["lastFundingRate"] == "":  # delivery contract
                return []
            next_ms = obj["nextFundingTime"]
            index = none_if_empty(obj.get("indexPrice"))
            return [
                Funding(
                    **header,
                    ts_ms=epoch_ms(obj["time"]),
                    funding_rate=rate(obj["lastFundingRate"]),
                    funding_interval_h=self.funding_interval_h(header["symbol"]),
                    next_funding_time_ms=None if next_ms == 0 else epoch_ms(next_ms),
                    mark_price=price(obj["markPrice"]),
                    index_price=None if index is None else price(index),
                )
            ]

        return parse_object(payload, to_funding)

    # ------------------------------------------------------------------ open interest
    oi_history_max_age_ms = 30 * 86_400_000 - 3_600_000  # 30 days, minus a safety hour

    def open_interest_history_request(self, symbol: str, start_ms: int, end_ms: int) -> RestRequest:
        # /futures/data/* has its own bucket (1000 requests / 5 min / IP) and serves only the
        # latest 30 days: older start times are answered with an error body.
        params = self.range_params(symbol, start_ms, end_ms, self.oi_page_limit)
        params["period"] = OI_PERIODS[self.oi_period_ms]
        return RestRequest("/futures/data/openInterestHist", params, 1)

    def parse_open_interest_history(
        self, symbol: str, payload: Any, recv_ms: int
    ) -> list[OpenInterest]:
        """Rows `{symbol, sumOpenInterest (base units), sumOpenInterestValue (USDT), timestamp}`."""
        header = self.rest_header(symbol, recv_ms)

        def row_to_oi(row: Any) -> OpenInterest | None:
            if row.get("symbol", header["venue_symbol"]) != header["venue_symbol"]:
                return None
            return OpenInterest(
                **header,
                ts_ms=epoch_ms(row["timestamp"]),
                open_interest=qty(row["sumOpenInterest"]),
                open_interest_usd=qty(row["sumOpenInterestValue"]),
            )

        return parse_rows(payload, row_to_oi)

    def current_open_interest_request(self, symbol: str) -> RestRequest:
        return RestRequest("/fapi/v1/openInterest", {"symbol": self.to_venue(symbol)}, 1)

    def parse_current_open_interest(
        self, symbol: str, payload: Any, recv_ms: int
    ) -> list[OpenInterest]:
        header = self.rest_header(symbol, recv_ms)

        def to_oi(obj: dict[str, Any]) -> list[OpenInterest]:
            self._check_symbol(obj, header["venue_symbol"])
            return [
                OpenInterest(
                    **header, ts_ms=epoch_ms(obj["time"]), open_interest=qty(obj["openInterest"])
                )
            ]

        return parse_object(payload, to_oi)

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _check_symbol(obj: dict[str, Any], vsym: str) -> None:
        if obj.get("symbol", vsym) != vsym:
            raise BadMessage(f"response for {obj.get('symbol')!r}, expected {vsym}")
