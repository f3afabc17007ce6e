"""Bybit v5 public market data: linear USDT perpetuals (`Bybit`) and spot (`BybitSpot`).

Owns the venue: `/v5/public/{linear|spot}` topics, subscribe and ping frames, `/v5/market/*`
REST. The WebSocket parser is in `parser.py`, ticker-delta and level-1 book merging in
`state.py`. Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Final, TypeVar

import msgspec
import orjson

from microservices.common.errors import BadMessage
from microservices.common.records import AnyRaw, Funding, Kline, Market, OpenInterest
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
from microservices.data_collector.exchanges.bybit.listing import SPOT_QUOTES, BybitListing
from microservices.data_collector.exchanges.bybit.parser import BybitParser, record_head
from microservices.data_collector.exchanges.bybit.state import TickerMerger
from microservices.data_collector.exchanges.bybit.wire import TickerData
from microservices.data_collector.exchanges.rest_rows import parse_rows

R = TypeVar("R")
PING: Final = orjson.dumps({"req_id": "ping", "op": "ping"}).decode()


def result_rows(payload: Any, parse_row: Callable[[Any], R]) -> list[R]:
    """`parse_row` over `result.list` of a v5 envelope, skipping bad rows. Raises BadMessage
    when the envelope itself is malformed."""
    result = payload.get("result") if isinstance(payload, dict) else None
    rows = result.get("list") if isinstance(result, dict) else None
    return parse_rows(rows, parse_row, "bybit result.list")


class Bybit(BybitListing, Exchange):
    """Bybit v5 linear USDT perpetuals: trades, tickers (best bid/ask, funding, open interest),
    1m klines and liquidations over WS; klines, funding and open interest over REST."""

    name = "bybit"
    market: ClassVar[Market] = "perp"
    category: ClassVar[str] = "linear"
    ws_path: ClassVar[str] = "/v5/public/linear"
    topics: ClassVar[tuple[str, ...]] = (
        "publicTrade.{}",
        "tickers.{}",
        "kline.1.{}",
        "allLiquidation.{}",
    )
    parsed_topics: ClassVar[frozenset[str]] = frozenset(
        {"publicTrade", "tickers", "kline", "allLiquidation", "liquidation"}
    )
    book_stream = "orderbook.50.{}"  # snapshot, then deltas (book.py)
    # args per subscribe frame: 100 topics are ~2.5k chars (limit: 21,000 per connection)
    subscribe_chunk: ClassVar[int] = 100
    ping_interval_s = 20.0
    always_flowing = "tickers"  # every 100 ms: mark and index prices move without trades
    max_streams_per_connection = 200
    # Bybit's per-IP HTTP limit is 600 requests per 5 s (7,200/min), each market endpoint
    # weighing 1; breaking it means a ~10 min 403 ban, so stay below it: 6,000/min.
    rest_weight_per_minute = 6000
    kline_page_limit = 1000
    funding_page_limit = 200
    oi_page_limit = 200
    oi_period_ms = 300_000

    def ws_connections(self) -> list[WsConnectionPlan]:
        """A symbol's topics share a connection of at most `max_streams_per_connection`
        topics, subscribed in frames of `subscribe_chunk` args."""
        topics = self.with_books(self.topics)
        per_conn, step = self.max_streams_per_connection // len(topics), self.subscribe_chunk
        plans: list[WsConnectionPlan] = []
        for start in range(0, len(self.symbols), per_conn):
            chunk = self.symbols[start : start + per_conn]
            args = [t.format(self.to_venue(s)) for s in chunk for t in topics]
            frames = tuple(
                orjson.dumps(
                    {"req_id": f"sub-{i // step}", "op": "subscribe", "args": args[i : i + step]}
                ).decode()
                for i in range(0, len(args), step)
            )
            label, url = f"{self.name}#{len(plans)}", f"{self.ws_url}{self.ws_path}"
            plans.append(WsConnectionPlan(label, url, frames, chunk))
        return plans

    def ping_message(self) -> str | None:
        return PING

    def book_resubscribe(self, venue_symbol: str) -> tuple[str, ...]:
        """Unsubscribe and subscribe the book topic: Bybit answers with a fresh snapshot."""
        args = [self.book_stream.format(venue_symbol)]
        return tuple(
            orjson.dumps({"req_id": f"book-{op}", "op": op, "args": args}).decode()
            for op in ("unsubscribe", "subscribe")
        )

    def new_parser(self) -> VenueParser:
        return BybitParser(self)

    # ----------------------------------------------------------------------- REST
    def check_rest_payload(self, payload: Any) -> None:
        """v5 envelope `{"retCode", "retMsg", "result", "time"}`: retCode 0 is success."""
        code = payload.get("retCode") if isinstance(payload, dict) else None
        if type(code) is not int or code != 0:
            message = payload.get("retMsg") if isinstance(payload, dict) else payload
            raise BadMessage(f"bybit retCode {code!r}: {str(message)[:200]}")

    def _request(self, path: str, symbol: str, **params: str) -> RestRequest:
        params = {"category": self.category, "symbol": self.to_venue(symbol), **params}
        return RestRequest(path, params)

    def _derivatives(self, path: str, symbol: str, **params: str) -> RestRequest | None:
        """Funding and open interest exist for linear contracts only: None on spot."""
        return self._request(path, symbol, **params) if self.category == "linear" else None

    def klines_request(self, symbol: str, start_ms: int, end_ms: int) -> RestRequest:
        params = {"start": str(start_ms), "end": str(end_ms), "limit": str(self.kline_page_limit)}
        return self._request("/v5/market/kline", symbol, interval="1", **params)

    def parse_klines(self, symbol: str, payload: Any, recv_ms: int) -> list[Kline]:
        """Rows `[start, o, h, l, c, volume, turnover]` newest first -> oldest first. A bar is
        closed once start + 60 s <= recv_ms; ts_ms is its open time (rows carry no other)."""
        head = record_head(self, symbol)

        def row_to_kline(row: Any) -> Kline:
            start = epoch_ms(row[0])
            return minute_bar(head, recv_ms, start, row[1:6], start + 60_000 <= recv_ms)

        return sorted(result_rows(payload, row_to_kline), key=lambda k: k.open_time_ms)

    def funding_history_request(
        self, symbol: str, start_ms: int, end_ms: int
    ) -> RestRequest | None:
        return self._derivatives(
            "/v5/market/funding/history",
            symbol,
            startTime=str(start_ms),
            endTime=str(end_ms),
            limit=str(self.funding_page_limit),
        )

    def parse_funding_history(self, symbol: str, payload: Any, recv_ms: int) -> list[Funding]:
        """Rows `{fundingRate, fundingRateTimestamp}`, oldest first; the interval is the one
        last seen in the symbol's tickers, else 8 h."""
        head = record_head(self, symbol)
        interval = self.funding_interval_h(head["symbol"])  # as last seen in tickers

        def row_to_funding(row: Any) -> Funding:
            return Funding(
                **head,
                recv_ms=recv_ms,
                ts_ms=epoch_ms(row["fundingRateTimestamp"]),
                funding_rate=rate(row["fundingRate"]),
                funding_interval_h=interval,
            )

        return sorted(result_rows(payload, row_to_funding), key=lambda f: f.ts_ms)

    def open_interest_history_request(
        self, symbol: str, start_ms: int, end_ms: int
    ) -> RestRequest | None:
        return self._derivatives(
            "/v5/market/open-interest",
            symbol,
            intervalTime="5min",
            startTime=str(start_ms),
            endTime=str(end_ms),
            limit=str(self.oi_page_limit),
        )

    def parse_open_interest_history(
        self, symbol: str, payload: Any, recv_ms: int
    ) -> list[OpenInterest]:
        """Rows `{openInterest, timestamp}` (base-coin units for linear), oldest first."""
        head = record_head(self, symbol)

        def row_to_oi(row: Any) -> OpenInterest:
            return OpenInterest(
                **head,
                recv_ms=recv_ms,
                ts_ms=epoch_ms(row["timestamp"]),
                open_interest=qty(row["openInterest"]),
            )

        return sorted(result_rows(payload, row_to_oi), key=lambda r: r.ts_ms)

    def current_funding_request(self, symbol: str) -> RestRequest | None:
        return self._derivatives("/v5/market/tickers", symbol)

    def current_open_interest_request(self, symbol: str) -> RestRequest | None:
        return self._derivatives("/v5/market/tickers", symbol)

    def _tickers_row(self, symbol: str, payload: Any, recv_ms: int) -> list[AnyRaw]:
        """Records of a `/v5/market/tickers` row, which has the fields of a WS tickers
        snapshot (ts_ms = the envelope's `time`); [] when the row is missing or malformed."""
        rows = result_rows(payload, lambda row: row)
        try:
            ts_ms = epoch_ms(payload["time"])
            row = msgspec.convert(rows[0], TickerData, strict=False)  # the WS model
            merger = TickerMerger(self.funding_intervals)
            result = merger.records(record_head(self, symbol), ts_ms, recv_ms, True, row)
        except PARSE_ERRORS:
            return []
        return [] if result is None else result[0]

    def parse_current_funding(self, symbol: str, payload: Any, recv_ms: int) -> list[Funding]:
        """Funding of the tickers row; [] when it has none (rate "")."""
        return [r for r in self._tickers_row(symbol, payload, recv_ms) if isinstance(r, Funding)]

    def parse_current_open_interest(
        self, symbol: str, payload: Any, recv_ms: int
    ) -> list[OpenInterest]:
        """`openInterest` (base coin) and `openInterestValue` (USDT) of the tickers row."""
        records = self._tickers_row(symbol, payload, recv_ms)
        return [r for r in records if isinstance(r, OpenInterest)]


class BybitSpot(Bybit):
    """Bybit v5 spot: trades, the level-1 book (spot tickers carry no bid/ask) and 1m klines.
    No funding or open interest: those requests return None."""

    name = "bybit_spot"
    market = "spot"
    category = "spot"
    ws_path = "/v5/public/spot"
    topics = ("publicTrade.{}", "orderbook.1.{}", "kline.1.{}")
    parsed_topics = frozenset({"publicTrade", "orderbook", "kline"})
    always_flowing = "orderbook.1"  # level 1 repeats its snapshot every 3 s when idle
    rule_quotes = SPOT_QUOTES
    subscribe_chunk = 10  # spot accepts at most 10 args per subscribe request
