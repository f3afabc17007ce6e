"""Gate.io v4 public market data: spot (`GateSpot`) and USDT-settled perpetuals
(`GateFutures`).

Owns the venue: channels and subscribe/ping frames of `wss://api.gateio.ws/ws/v4/` and
`wss://fx-ws.gateio.ws/v4/ws/usdt`, `/api/v4` REST builders and parsers, rate-limit weights.
The WebSocket parser is in `parser.py`, books in `book.py`. Pure, but for the ping's `time`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Final, TypeVar

import orjson

from microservices.common.clock import now_ms
from microservices.common.errors import BadMessage
from microservices.common.records import Funding, Kline, Market, OpenInterest
from microservices.data_collector.exchanges import _records as build
from microservices.data_collector.exchanges.base import (
    Exchange,
    RestRequest,
    VenueParser,
    WsConnectionPlan,
    minute_bar,
    price,
    qty,
    rate,
)
from microservices.data_collector.exchanges.gateio.listing import (
    FUTURES_QUOTES,
    SPOT_QUOTES,
    GateListing,
)
from microservices.data_collector.exchanges.gateio.parser import GateParser
from microservices.data_collector.exchanges.rest_rows import parse_rows

R = TypeVar("R")
MINUTE_MS: Final = 60_000


def rows_of(payload: Any, parse_row: Callable[[Any], R]) -> list[R]:
    """`parse_row` over a JSON array answer, skipping bad rows; BadMessage when the answer is
    not an array (an error object)."""
    return parse_rows(payload, parse_row, "gateio answer")


def epoch_s_ms(value: Any) -> int:
    """Epoch seconds (an integer or a numeric string) as ms, within 2009..2100."""
    seconds = int(value)
    if not 1_230_768_000 <= seconds <= 4_102_444_800:
        raise BadMessage(f"bad timestamp {value!r}")
    return seconds * 1000


class GateSpot(GateListing, Exchange):
    """Gate.io v4 spot: trades, the best bid/ask (book_ticker) and 1m candles over WS;
    1m candles over REST. No funding or open interest."""

    name = "gateio"
    market: ClassVar[Market] = "spot"
    futures: ClassVar[bool] = False
    prefix: ClassVar[str] = "spot"
    # channels taking a list of symbols, and those taking one symbol per request
    list_channels: ClassVar[tuple[str, ...]] = ("trades", "book_ticker")
    parsed_channels: ClassVar[tuple[str, ...]] = (
        "spot.trades", "spot.book_ticker", "spot.candlesticks",
    )  # fmt: skip
    book_stream = "order_book_update"  # payload [symbol, "100ms"], synced from REST (book.py)
    ping_interval_s = 15.0
    # candle updates are pushed every few seconds per subscribed pair, trades or not
    always_flowing = "candlesticks"
    max_streams_per_connection = 200  # channel subscriptions per connection (ours)
    # public REST: 200 requests per 10 s per endpoint; one budget for all, weight 1 each
    rest_weight_per_minute = 1200
    kline_page_limit = 1000  # points per candlesticks answer (from/to within 1000 bars)
    rule_quotes = SPOT_QUOTES

    def symbol_param(self) -> str:
        return "contract" if self.futures else "currency_pair"

    # ----------------------------------------------------------------------- WebSocket
    def _frame(self, channel: str, payload: list[str]) -> str:
        message = {"channel": f"{self.prefix}.{channel}", "event": "subscribe", "payload": payload}
        return orjson.dumps(message).decode()

    def book_resubscribe(self, venue_symbol: str) -> tuple[str, ...]:
        """Unsubscribe and subscribe the symbol's book channel (after Gate refused it)."""
        payload = [venue_symbol, "100ms"]
        return tuple(
            orjson.dumps({"channel": f"{self.prefix}.{self.book_stream}", "event": event,
                          "payload": payload}).decode()
            for event in ("unsubscribe", "subscribe")
        )  # fmt: skip

    def _frames(self, venue_symbols: list[str]) -> tuple[str, ...]:
        frames = [self._frame(ch, venue_symbols) for ch in self.list_channels]
        frames += [self._frame("candlesticks", ["1m", s]) for s in venue_symbols]
        if self.books:
            frames += [self._frame(self.book_stream, [s, "100ms"]) for s in venue_symbols]
        return tuple(frames)

    def ws_connections(self) -> list[WsConnectionPlan]:
        """A symbol's channels share a connection of at most `max_streams_per_connection`
        channel subscriptions: one frame per list channel, one per symbol for candles (and
        books, payload `[symbol, "100ms"]`)."""
        per_symbol = len(self.with_books((*self.list_channels, "candlesticks")))
        per_conn = max(1, self.max_streams_per_connection // per_symbol)
        plans: list[WsConnectionPlan] = []
        for start in range(0, len(self.symbols), per_conn):
            chunk = self.symbols[start : start + per_conn]
            frames = self._frames([self.to_venue(s) for s in chunk])
            plans.append(WsConnectionPlan(f"{self.name}#{len(plans)}", self.ws_url, frames, chunk))
        return plans

    def ping_message(self) -> str | None:
        """`{"time": <s>, "channel": "<prefix>.ping"}`; Gate answers `<prefix>.pong`."""
        return orjson.dumps({"time": now_ms() // 1000, "channel": f"{self.prefix}.ping"}).decode()

    def new_parser(self) -> VenueParser:
        return GateParser(self)

    def contract_size(self, venue_symbol: str) -> float:
        """Base units per wire size unit: 1 on spot; the listing's contract size on futures
        (1 when unlisted)."""
        inst = self.catalog.by_venue_symbol(self.name, venue_symbol)
        return 1.0 if inst is None or not self.futures else inst.contract_size

    # ----------------------------------------------------------------------- REST
    def check_rest_payload(self, payload: Any) -> None:
        """Errors come as `{"label": "INVALID_PARAM_VALUE", "message": ...}`."""
        if isinstance(payload, dict) and "label" in payload:
            message = str(payload.get("message"))[:200]
            raise BadMessage(f"gateio {payload['label']!r}: {message}")

    def klines_request(self, symbol: str, start_ms: int, end_ms: int) -> RestRequest:
        """1m bars from `start_ms` (seconds on the wire, `to` inclusive), at most a page."""
        to_ms = min(end_ms, start_ms + (self.kline_page_limit - 1) * MINUTE_MS)
        path = f"/{'futures/usdt' if self.futures else 'spot'}/candlesticks"
        params = {self.symbol_param(): self.to_venue(symbol), "interval": "1m",
                  "from": str(start_ms // 1000), "to": str(to_ms // 1000)}  # fmt: skip
        return RestRequest(path, params)

    def parse_klines(self, symbol: str, payload: Any, recv_ms: int) -> list[Kline]:
        """Rows `[t(s), quote volume, close, high, low, open, base volume, closed]` (strings),
        oldest first; ts_ms is the open time."""
        head = self.symbol_head(symbol)

        def row_to_kline(row: Any) -> Kline:
            start = epoch_s_ms(row[0])
            closed = row[7] == "true" if len(row) > 7 else start + MINUTE_MS <= recv_ms
            return minute_bar(head, recv_ms, start, (row[5], row[3], row[4], row[2], row[6]),
                              closed)  # fmt: skip

        return sorted(rows_of(payload, row_to_kline), key=lambda k: k.open_time_ms)


class GateFutures(GateSpot):
    """Gate.io v4 USDT perpetuals: trades (signed contract sizes), best bid/ask, 1m candles
    and tickers (funding, mark/index price, open interest) over WS; candles, funding and open
    interest (`contract_stats`) over REST. Sizes are converted to base units with the
    contract's `quanto_multiplier`; open interest stays in contracts."""

    name = "gateio_futures"
    market = "perp"
    futures = True
    prefix = "futures"
    list_channels = ("trades", "book_ticker", "tickers")
    parsed_channels = (
        "futures.trades", "futures.book_ticker", "futures.candlesticks", "futures.tickers",
    )  # fmt: skip
    always_flowing = "tickers"  # mark and index prices move without trades
    funding_page_limit = 1000
    oi_page_limit = 100
    oi_period_ms = 300_000
    rule_quotes = FUTURES_QUOTES

    def funding_interval_h(self, symbol: str) -> float:
        """The listing's `funding_interval` of the symbol's contract, else 8 h."""
        inst = self.instrument(symbol)
        if inst is not None and inst.funding_interval_h is not None:
            return inst.funding_interval_h
        return super().funding_interval_h(symbol)

    def parse_klines(self, symbol: str, payload: Any, recv_ms: int) -> list[Kline]:
        """Rows `{t(s), v(contracts), o, h, l, c, sum}`: volume = contracts x contract size."""
        head, size = self.symbol_head(symbol), self.contract_size(self.to_venue(symbol))

        def row_to_kline(row: Any) -> Kline:
            start = epoch_s_ms(row["t"])
            ohlcv = (row["o"], row["h"], row["l"], row["c"], qty(row["v"]) * size)
            return minute_bar(head, recv_ms, start, ohlcv, start + MINUTE_MS <= recv_ms)

        return sorted(rows_of(payload, row_to_kline), key=lambda k: k.open_time_ms)

    def funding_history_request(
        self, symbol: str, start_ms: int, end_ms: int
    ) -> RestRequest | None:
        params = {"contract": self.to_venue(symbol), "from": str(start_ms // 1000),
                  "to": str(end_ms // 1000), "limit": str(self.funding_page_limit)}  # fmt: skip
        return RestRequest("/futures/usdt/funding_rate", params)

    def parse_funding_history(self, symbol: str, payload: Any, recv_ms: int) -> list[Funding]:
        """Rows `{t(s), r}`, oldest first."""
        head, interval = self.symbol_head(symbol), self.funding_interval_h(symbol)

        def row_to_funding(row: Any) -> Funding:
            ts_ms, funding_rate = epoch_s_ms(row["t"]), rate(row["r"])
            return build.funding(head, ts_ms=ts_ms, recv_ms=recv_ms, funding_rate=funding_rate,
                                 funding_interval_h=interval)  # fmt: skip

        return sorted(rows_of(payload, row_to_funding), key=lambda f: f.ts_ms)

    def open_interest_history_request(
        self, symbol: str, start_ms: int, end_ms: int
    ) -> RestRequest | None:
        params = {"contract": self.to_venue(symbol), "from": str(start_ms // 1000),
                  "interval": "5m", "limit": str(self.oi_page_limit)}  # fmt: skip
        return RestRequest("/futures/usdt/contract_stats", params)

    def parse_open_interest_history(
        self, symbol: str, payload: Any, recv_ms: int
    ) -> list[OpenInterest]:
        """Rows `{time(s), open_interest (contracts), open_interest_usd}`, oldest first."""
        head = self.symbol_head(symbol)

        def row_to_oi(row: Any) -> OpenInterest:
            usd = row.get("open_interest_usd")
            ts_ms, usd_value = epoch_s_ms(row["time"]), None if usd is None else qty(usd)
            return build.open_interest(head, ts_ms=ts_ms, recv_ms=recv_ms,
                                       open_interest=qty(row["open_interest"]),
                                       open_interest_usd=usd_value)  # fmt: skip

        return sorted(rows_of(payload, row_to_oi), key=lambda r: r.ts_ms)

    def current_funding_request(self, symbol: str) -> RestRequest | None:
        return RestRequest("/futures/usdt/tickers", {"contract": self.to_venue(symbol)})

    current_open_interest_request = current_funding_request

    def parse_current_funding(self, symbol: str, payload: Any, recv_ms: int) -> list[Funding]:
        """The tickers row's `funding_rate`, `mark_price`, `index_price` (ts_ms = recv_ms:
        the row has no time)."""
        head, interval = self.symbol_head(symbol), self.funding_interval_h(symbol)

        def row_to_funding(row: Any) -> Funding:
            index = row.get("index_price")
            return build.funding(head, ts_ms=recv_ms, recv_ms=recv_ms,
                                 funding_rate=rate(row["funding_rate"]),
                                 funding_interval_h=interval, mark_price=price(row["mark_price"]),
                                 index_price=price(index) if index else None)  # fmt: skip

        return rows_of(payload, row_to_funding)[:1]

    def parse_current_open_interest(
        self, symbol: str, payload: Any, recv_ms: int
    ) -> list[OpenInterest]:
        """The tickers row's `total_size` (contracts)."""
        head = self.symbol_head(symbol)

        def row_to_oi(row: Any) -> OpenInterest:
            return build.open_interest(head, ts_ms=recv_ms, recv_ms=recv_ms,
                                       open_interest=qty(row["total_size"]))  # fmt: skip

        return rows_of(payload, row_to_oi)[:1]
