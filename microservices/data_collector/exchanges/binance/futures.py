"""Binance USDⓈ-M perpetuals: `fstream.binance.com` combined streams and `fapi.binance.com` REST.

Adds funding (markPrice stream, fundingRate/premiumIndex REST), open interest and liquidations
(forceOrder) to the spot code it reuses. Pure: imports no I/O library (aiohttp, websockets,
redis) and never reads the clock.
"""

from __future__ import annotations

from typing import Any, ClassVar, Final

from microservices.common.errors import BadMessage
from microservices.common.records import Funding, OpenInterest
from microservices.data_collector.exchanges.base import (
    RestRequest,
    VenueParser,
    epoch_ms,
    price,
    qty,
    rate,
)
from microservices.data_collector.exchanges.binance.listing import BinanceFuturesListing
from microservices.data_collector.exchanges.binance.parser import BinanceFuturesParser
from microservices.data_collector.exchanges.binance.spot import BinanceBase
from microservices.data_collector.exchanges.rest_rows import parse_object, parse_rows

# Symbols settling other than every 8 h are listed by /fapi/v1/fundingInfo, which the
# collector polls (`apply_funding_info`); `Exchange.funding_interval_h` answers per symbol.
MAX_FUNDING_INTERVAL_H: Final = 24
OI_PERIODS: Final = {300_000: "5m", 900_000: "15m", 1_800_000: "30m", 3_600_000: "1h"}


def none_if_empty(value: Any) -> Any:
    """Binance sends "" (or omits the field) where a value does not apply."""
    return None if value is None or value == "" else value


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
