"""Bitget v2 public market data: USDT-margined perpetuals (`Bitget`, instType USDT-FUTURES)
and spot (`BitgetSpot`, instType SPOT), one WebSocket endpoint `/v2/ws/public` for both.

Owns the venue: channels, subscribe and ping frames, `/api/v2/{spot,mix}/market/*` REST
builders and parsers, weights. The WebSocket parser is in `parser.py`, the listing in
`listing.py`, the books in `book.py`. Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Final, TypeVar

import orjson

from microservices.common.errors import BadMessage
from microservices.common.records import Funding, Kline, Market, OpenInterest
from microservices.data_collector.exchanges.base import (
    PARSE_ERRORS,
    Exchange,
    RestRequest,
    VenueParser,
    WsConnectionPlan,
    epoch_ms,
    minute_bar,
    qty,
    rate,
)
from microservices.data_collector.exchanges.bitget.listing import (
    OK,
    SPOT_QUOTES,
    BitgetListing,
)
from microservices.data_collector.exchanges.bitget.parser import BitgetParser
from microservices.data_collector.exchanges.rest_rows import parse_rows

R = TypeVar("R")
PING: Final = "ping"  # a text frame; the venue answers the text "pong"
WS_PATH: Final = "/v2/ws/public"


def data_rows(payload: Any, parse_row: Callable[[Any], R]) -> list[R]:
    """`parse_row` over the `data` list of a v2 envelope, skipping bad rows. Raises
    BadMessage when the envelope itself is malformed."""
    rows = payload.get("data") if isinstance(payload, dict) else None
    return parse_rows(rows, parse_row, "bitget data")


class Bitget(BitgetListing, Exchange):
    """Bitget v2 USDT-FUTURES perpetuals: trades, tickers (best bid/ask, funding, open
    interest, mark and index prices) and 1m candles over WS; candles, funding history and
    current funding and open interest over REST."""

    name = "bitget"
    market: ClassVar[Market] = "perp"
    inst_type: ClassVar[str] = "USDT-FUTURES"
    channels: ClassVar[tuple[str, ...]] = ("trade", "ticker", "candle1m")
    book_stream = "books"  # snapshot, then updates with a checksum (book.py)
    # the venue allows 1,000 channels a connection and 10 messages/s: few frames, fewer channels
    max_streams_per_connection = 100
    subscribe_chunk: ClassVar[int] = 50  # args per subscribe frame
    ping_interval_s = 30.0  # text "ping" every 30 s; the venue drops a socket idle for 2 min
    always_flowing = "ticker"  # mark and index prices move without trades
    # public market endpoints: 20 requests/s per IP each; one budget for all of them
    rest_weight_per_minute = 1200
    kline_page_limit = 1000  # candles: `limit` max 1000
    # history-fund-rate pages by number (pageSize <= 100), not by time: one page holds the
    # latest 100 settlements (800 h at 8 h), so one request covers a window this many hours
    funding_page_limit = 800
    granularity: ClassVar[str] = "1m"  # mix candles; spot spells it "1min"

    # ----------------------------------------------------------------------- WebSocket
    def _arg(self, channel: str, venue_symbol: str) -> dict[str, str]:
        return {"instType": self.inst_type, "channel": channel, "instId": venue_symbol}

    def _frame(self, op: str, args: list[dict[str, str]]) -> str:
        return orjson.dumps({"op": op, "args": args}).decode()

    def ws_connections(self) -> list[WsConnectionPlan]:
        """A symbol's channels share a connection of at most `max_streams_per_connection`
        channels, subscribed in frames of `subscribe_chunk` args."""
        channels = self.with_books(self.channels)
        per_conn, step = self.max_streams_per_connection // len(channels), self.subscribe_chunk
        plans: list[WsConnectionPlan] = []
        for start in range(0, len(self.symbols), per_conn):
            chunk = self.symbols[start : start + per_conn]
            args = [self._arg(c, self.to_venue(s)) for s in chunk for c in channels]
            frames = tuple(
                self._frame("subscribe", args[i : i + step]) for i in range(0, len(args), step)
            )
            label, url = f"{self.name}#{len(plans)}", f"{self.ws_url}{WS_PATH}"
            plans.append(WsConnectionPlan(label, url, frames, chunk))
        return plans

    def ping_message(self) -> str | None:
        return PING

    def book_resubscribe(self, venue_symbol: str) -> tuple[str, ...]:
        """Unsubscribe and subscribe `books`: Bitget answers with a fresh snapshot."""
        args = [self._arg(self.book_stream, venue_symbol)]
        return tuple(self._frame(op, args) for op in ("unsubscribe", "subscribe"))

    def new_parser(self) -> VenueParser:
        return BitgetParser(self)

    def interval_of(self, symbol: str) -> float:
        """Funding interval (h) of a followed symbol: the listing's `fundInterval`, else
        the one last read from current-fund-rate, else 8 h."""
        inst = self.instrument(symbol)
        if inst is not None and inst.funding_interval_h is not None:
            return inst.funding_interval_h
        return self.funding_interval_h(symbol)

    # ----------------------------------------------------------------------- REST
    def check_rest_payload(self, payload: Any) -> None:
        """v2 envelope `{"code", "msg", "requestTime", "data"}`: code "00000" is success."""
        code = payload.get("code") if isinstance(payload, dict) else None
        if code != OK:
            message = payload.get("msg") if isinstance(payload, dict) else payload
            raise BadMessage(f"bitget code {code!r}: {str(message)[:200]}")

    def _mix(self, path: str, symbol: str, **params: str) -> RestRequest | None:
        """A `/api/v2/mix/market/*` request; None on spot (no funding, no open interest)."""
        if self.market != "perp":
            return None
        query = {"symbol": self.to_venue(symbol), "productType": self.inst_type, **params}
        return RestRequest(path, query)

    def klines_request(self, symbol: str, start_ms: int, end_ms: int) -> RestRequest:
        params = {"symbol": self.to_venue(symbol), "granularity": self.granularity,
                  "startTime": str(start_ms), "endTime": str(end_ms),
                  "limit": str(self.kline_page_limit)}  # fmt: skip
        if self.market == "spot":
            return RestRequest("/api/v2/spot/market/candles", params)
        return RestRequest("/api/v2/mix/market/candles", {**params, "productType": self.inst_type})

    def parse_klines(self, symbol: str, payload: Any, recv_ms: int) -> list[Kline]:
        """Rows `[start, o, h, l, c, base volume, ...]` -> oldest first. A bar is closed once
        start + 60 s <= recv_ms; ts_ms is its open time."""
        head = self.symbol_head(symbol)

        def row_to_kline(row: Any) -> Kline:
            start = epoch_ms(row[0])
            return minute_bar(head, recv_ms, start, row[1:6], start + 60_000 <= recv_ms)

        return sorted(data_rows(payload, row_to_kline), key=lambda k: k.open_time_ms)

    def funding_history_request(
        self, symbol: str, start_ms: int, end_ms: int
    ) -> RestRequest | None:
        return self._mix("/api/v2/mix/market/history-fund-rate", symbol, pageSize="100",
                         pageNo="1")  # fmt: skip

    def parse_funding_history(self, symbol: str, payload: Any, recv_ms: int) -> list[Funding]:
        """Rows `{symbol, fundingRate, fundingTime}` (newest first) -> oldest first."""
        head = self.symbol_head(symbol)
        interval = self.interval_of(symbol)

        def row_to_funding(row: Any) -> Funding:
            return Funding(**head, recv_ms=recv_ms, ts_ms=epoch_ms(row["fundingTime"]),
                           funding_rate=rate(row["fundingRate"]),
                           funding_interval_h=interval)  # fmt: skip

        return sorted(data_rows(payload, row_to_funding), key=lambda f: f.ts_ms)

    def current_funding_request(self, symbol: str) -> RestRequest | None:
        return self._mix("/api/v2/mix/market/current-fund-rate", symbol)

    def parse_current_funding(self, symbol: str, payload: Any, recv_ms: int) -> list[Funding]:
        """`data: [{symbol, fundingRate, fundingRateInterval?, nextUpdate?}]`; ts_ms is the
        envelope's `requestTime`. A stated interval is remembered for the history."""
        head = self.symbol_head(symbol)
        try:
            ts_ms = epoch_ms(payload["requestTime"])
        except PARSE_ERRORS:
            raise BadMessage("bitget: answer without requestTime") from None

        def row_to_funding(row: Any) -> Funding:
            interval = row.get("fundingRateInterval")
            if interval not in (None, ""):
                self.funding_intervals[head["symbol"]] = qty(interval) or 8.0
            next_ms = row.get("nextUpdate")
            return Funding(**head, recv_ms=recv_ms, ts_ms=ts_ms,
                           funding_rate=rate(row["fundingRate"]),
                           funding_interval_h=self.interval_of(symbol),
                           next_funding_time_ms=None if next_ms in (None, "") else
                           epoch_ms(next_ms))  # fmt: skip

        return data_rows(payload, row_to_funding)[:1]

    def current_open_interest_request(self, symbol: str) -> RestRequest | None:
        return self._mix("/api/v2/mix/market/open-interest", symbol)

    def parse_current_open_interest(
        self, symbol: str, payload: Any, recv_ms: int
    ) -> list[OpenInterest]:
        """`data: {openInterestList: [{symbol, size}], ts}`: size in base coin."""
        head = self.symbol_head(symbol)
        data = payload.get("data") if isinstance(payload, dict) else None
        try:
            ts_ms = epoch_ms(data["ts"])  # type: ignore[index]
            rows = data["openInterestList"]  # type: ignore[index]
            return [OpenInterest(**head, recv_ms=recv_ms, ts_ms=ts_ms,
                                 open_interest=qty(rows[0]["size"]))]  # fmt: skip
        except PARSE_ERRORS:
            raise BadMessage("bitget: malformed open-interest answer") from None


class BitgetSpot(Bitget):
    """Bitget v2 spot: trades, tickers (best bid/ask) and 1m candles. No funding or open
    interest: those requests return None."""

    name = "bitget_spot"
    market = "spot"
    inst_type = "SPOT"
    always_flowing = "candle1m"  # the open bar is pushed again while nothing trades
    rule_quotes = SPOT_QUOTES
    granularity = "1min"
