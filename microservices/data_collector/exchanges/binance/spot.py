"""Binance spot: `stream.binance.com` combined streams and `api.binance.com` REST klines.

`BinanceBase` holds what USDⓈ-M futures shares (stream plans, REST klines, error bodies); frame
parsing lives in `parser.py`. Spot has no funding or open interest. Pure: imports no I/O
library (aiohttp, websockets, redis) and never reads the clock.
"""

from __future__ import annotations

from typing import Any, ClassVar

from microservices.common.errors import BadMessage
from microservices.common.records import Kline
from microservices.data_collector.exchanges.base import (
    Exchange,
    RestRequest,
    VenueParser,
    WsConnectionPlan,
    epoch_ms,
    minute_bar,
)
from microservices.data_collector.exchanges.binance.listing import BinanceSpotListing
from microservices.data_collector.exchanges.binance.parser import BinanceParser
from microservices.data_collector.exchanges.rest_rows import parse_rows


class BinanceBase(Exchange):
    """What spot and USDⓈ-M futures share: combined-stream plans, REST klines, error bodies."""

    # stream name suffixes per symbol, e.g. "btcusdt@aggTrade"
    stream_suffixes: ClassVar[tuple[str, ...]] = ("aggTrade", "bookTicker", "kline_1m")
    book_stream = "depth@100ms"  # diffs every 100 ms, synced from REST depth (book.py)
    klines_path: ClassVar[str]
    # Binance closes every connection after 24 h; reconnect a little earlier on our terms
    max_connection_age_s = 23.5 * 3600
    ping_interval_s = None  # the server pings; the WebSocket library answers with pongs
    always_flowing = "kline_1m"  # an update every ~2 s while the bar is open, trades or not

    def ws_connections(self) -> list[WsConnectionPlan]:
        """Combined-stream URLs with the streams in the query (nothing to send after open).

        A symbol's streams always share a connection, so each connection serves at most
        `max_streams_per_connection // len(stream_suffixes)` symbols (one more stream each,
        `<s>@depth@100ms`, while books are followed).
        """
        suffixes = self.with_books(self.stream_suffixes)
        per_connection = max(1, self.max_streams_per_connection // len(suffixes))
        plans: list[WsConnectionPlan] = []
        for start in range(0, len(self.symbols), per_connection):
            chunk = self.symbols[start : start + per_connection]
            streams = [
                f"{self.to_venue(symbol).lower()}@{suffix}"  # stream names are lower case
                for symbol in chunk
                for suffix in suffixes
            ]
            plans.append(
                WsConnectionPlan(
                    label=f"{self.name}#{len(plans)}",
                    url=f"{self.ws_url}/stream?streams={'/'.join(streams)}",
                    subscribe=(),
                    symbols=chunk,
                )
            )
        return plans

    def klines_weight(self) -> int:
        return 2

    def klines_request(self, symbol: str, start_ms: int, end_ms: int) -> RestRequest:
        params = self.range_params(symbol, start_ms, end_ms, self.kline_page_limit)
        params["interval"] = "1m"
        return RestRequest(self.klines_path, params, self.klines_weight())

    def range_params(self, symbol: str, start_ms: int, end_ms: int, limit: int) -> dict[str, str]:
        """Query of a paged history endpoint: `symbol, startTime, endTime, limit`."""
        return {
            "symbol": self.to_venue(symbol),
            "startTime": str(start_ms),
            "endTime": str(end_ms),
            "limit": str(limit),
        }

    def parse_klines(self, symbol: str, payload: Any, recv_ms: int) -> list[Kline]:
        """Rows `[openTime, o, h, l, c, v, closeTime, ...]`; a bar is closed once its
        closeTime is before `recv_ms`. Bad rows are skipped."""
        head = self.symbol_head(symbol)

        def row_to_kline(row: Any) -> Kline:
            closed = epoch_ms(row[6]) < recv_ms
            return minute_bar(head, recv_ms, epoch_ms(row[0]), row[1:6], closed)

        return parse_rows(payload, row_to_kline)

    def rest_header(self, symbol: str, recv_ms: int) -> dict[str, Any]:
        """Record header fields of a REST response about followed `symbol`."""
        return {**self.symbol_head(symbol), "recv_ms": recv_ms}

    def check_rest_payload(self, payload: Any) -> None:
        """Binance reports errors as `{"code": <negative int>, "msg": "..."}`."""
        if isinstance(payload, dict):
            code = payload.get("code")
            if type(code) is int and code < 0:
                raise BadMessage(f"binance error {code}: {str(payload.get('msg'))[:200]}")


class Binance(BinanceSpotListing, BinanceBase):
    """Binance spot. Streams per symbol: `<s>@aggTrade`, `<s>@bookTicker`, `<s>@kline_1m`.

    Spot `bookTicker` frames carry no event time, so their tickers use `ts_ms = recv_ms`.
    """

    name = "binance"
    market = "spot"
    # REQUEST_WEIGHT per IP per minute. Binance publishes the live value in
    # /api/v3/exchangeInfo `rateLimits` (1200 in 2021, 6000 now): read it there at runtime.
    rest_weight_per_minute = 6000
    kline_page_limit = 1000  # /api/v3/klines maximum
    klines_path = "/api/v3/klines"

    def new_parser(self) -> VenueParser:
        return BinanceParser(self)
