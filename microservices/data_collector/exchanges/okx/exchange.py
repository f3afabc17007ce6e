"""OKX v5 public market data: USDT-margined perpetual swaps (`Okx`) and spot (`OkxSpot`).

Owns the venue: connections on two endpoints (`/ws/v5/public`: tickers, trades, books,
funding-rate, open-interest, mark-price, index-tickers, liquidation-orders; `/ws/v5/business`:
candle1m and the index/mark candles), subscribe and text-ping frames, `/api/v5` REST
builders and weights. Parsing is in `parser.py` and `rest.py`. Pure: no I/O, no clock.
"""

from __future__ import annotations

from typing import Any, ClassVar, Final

import orjson

from microservices.common.records import Funding, Kline, Market, OpenInterest
from microservices.data_collector.exchanges.base import (
    Exchange,
    RestRequest,
    VenueParser,
    WsConnectionPlan,
)
from microservices.data_collector.exchanges.okx import rest
from microservices.data_collector.exchanges.okx.listing import OkxListing
from microservices.data_collector.exchanges.okx.parser import OkxParser

PING: Final = "ping"  # OKX's keepalive: the text "ping", answered "pong"
PUBLIC: Final = "/ws/v5/public"
BUSINESS: Final = "/ws/v5/business"  # candles live here since 2023


def subscribe_frames(args: list[dict[str, str]], op: str, step: int) -> tuple[str, ...]:
    """`{"op", "args"}` frames of at most `step` args each."""
    return tuple(
        orjson.dumps({"op": op, "args": args[i : i + step]}).decode()
        for i in range(0, len(args), step)
    )


class Okx(OkxListing, Exchange):
    """OKX v5 SWAP perpetuals: trades, tickers, funding, open interest and liquidations on the
    public endpoint, 1m candles on the business one; candles, funding and open-interest
    history and current values over REST."""

    name = "okx"
    market: ClassVar[Market] = "perp"
    inst_type: ClassVar[str] = "SWAP"
    symbol_format: ClassVar[str] = "{base}-{quote}-SWAP"
    public: ClassVar[tuple[str, ...]] = (
        "tickers", "trades", "funding-rate", "open-interest", "mark-price",
    )  # fmt: skip
    business: ClassVar[tuple[str, ...]] = ("candle1m", "mark-price-candle1m")
    # instType-wide channels, subscribed once (on the first public connection)
    wide: ClassVar[tuple[dict[str, str], ...]] = (
        {"channel": "liquidation-orders", "instType": "SWAP"},
    )
    parsed_channels: ClassVar[frozenset[str]] = frozenset(
        {"tickers", "trades", "candle1m", "mark-price-candle1m", "funding-rate",
         "open-interest", "mark-price", "liquidation-orders"}
    )  # fmt: skip
    book_stream = "books"  # 400 levels: snapshot, then updates with seqId and checksum
    # mark prices are pushed every 200 ms while they move and every 10 s otherwise; the
    # business connection carries the mark-price candles
    always_flowing = "mark-price"
    ping_interval_s = 25.0  # OKX closes a connection that receives nothing for 30 s
    # OKX caps a subscribe request at 64 KB of args and 480 requests per hour per
    # connection; 100 args (~5 KB) per frame, 240 per connection
    max_streams_per_connection = 240
    subscribe_chunk: ClassVar[int] = 100
    # Market-data endpoints allow 20 requests / 2 s per IP (600/min); weights below scale
    # the tighter ones: funding-rate-history 10/2 s (2), rubik statistics 5/2 s (4)
    rest_weight_per_minute = 600
    kline_page_limit = 100  # history-candles maximum
    funding_page_limit = 100
    oi_page_limit = 100
    oi_period_ms = 300_000
    oi_history_max_age_ms = 2 * 86_400_000  # rubik 5m statistics reach back ~2 days

    # ----------------------------------------------------------------------- WebSocket
    def _args(self, channels: tuple[str, ...], symbols: tuple[str, ...]) -> list[dict[str, str]]:
        return [{"channel": c, "instId": self.to_venue(s)} for s in symbols for c in channels]

    def _plans(self, path: str, channels: tuple[str, ...], wide: bool) -> list[WsConnectionPlan]:
        per_conn = max(1, self.max_streams_per_connection // len(channels))
        kind = path.rsplit("/", 1)[-1]
        plans: list[WsConnectionPlan] = []
        for start in range(0, len(self.symbols), per_conn):
            chunk = self.symbols[start : start + per_conn]
            args = self._args(channels, chunk)
            if wide and not plans:
                args.extend(self.wide)
            frames = subscribe_frames(args, "subscribe", self.subscribe_chunk)
            label = f"{self.name}-{kind}#{len(plans)}"
            plans.append(WsConnectionPlan(label, f"{self.ws_url}{path}", frames, chunk))
        return plans

    def ws_connections(self) -> list[WsConnectionPlan]:
        """Public channels (plus books) and business candles on separate connections, each of
        at most `max_streams_per_connection` args; instType-wide channels once."""
        public = self._plans(PUBLIC, self.with_books(self.public), True)
        return public + self._plans(BUSINESS, self.business, False)

    def ping_message(self) -> str | None:
        return PING

    def book_resubscribe(self, venue_symbol: str) -> tuple[str, ...]:
        """Unsubscribe and subscribe `books`: OKX answers with a fresh snapshot."""
        args = [{"channel": self.book_stream, "instId": venue_symbol}]
        return (*subscribe_frames(args, "unsubscribe", 1), *subscribe_frames(args, "subscribe", 1))

    def new_parser(self) -> VenueParser:
        return OkxParser(self)

    # ----------------------------------------------------------------------- REST
    def check_rest_payload(self, payload: Any) -> None:
        """v5 envelope `{"code", "msg", "data"}`: code "0" is success (50011: rate limit)."""
        rest.check_envelope(payload)

    def _request(self, path: str, symbol: str, weight: int = 1, **params: str) -> RestRequest:
        return RestRequest(path, {"instId": self.to_venue(symbol), **params}, weight)

    def _swap(self, path: str, symbol: str, weight: int = 1, **params: str) -> RestRequest | None:
        """Funding and open interest exist for swaps only: None on spot."""
        return self._request(path, symbol, weight, **params) if self.market == "perp" else None

    def klines_request(self, symbol: str, start_ms: int, end_ms: int) -> RestRequest:
        """Bars with start_ms <= ts <= end_ms: `after` and `before` are exclusive bounds."""
        return self._request(
            "/api/v5/market/history-candles", symbol, bar="1m", after=str(end_ms + 1),
            before=str(start_ms - 1), limit=str(self.kline_page_limit),
        )  # fmt: skip

    def parse_klines(self, symbol: str, payload: Any, recv_ms: int) -> list[Kline]:
        spot = self.market == "spot"
        return rest.parse_candles(self.symbol_head(symbol), payload, recv_ms, spot)

    def funding_history_request(
        self, symbol: str, start_ms: int, end_ms: int
    ) -> RestRequest | None:
        return self._swap(
            "/api/v5/public/funding-rate-history", symbol, 2, after=str(end_ms + 1),
            before=str(start_ms - 1), limit=str(self.funding_page_limit),
        )  # fmt: skip

    def parse_funding_history(self, symbol: str, payload: Any, recv_ms: int) -> list[Funding]:
        head = self.symbol_head(symbol)
        interval = self.funding_interval_h(head["symbol"])  # as last seen in funding-rate
        return rest.parse_funding_history(head, payload, recv_ms, interval)

    def open_interest_history_request(
        self, symbol: str, start_ms: int, end_ms: int
    ) -> RestRequest | None:
        return self._swap(
            "/api/v5/rubik/stat/contracts/open-interest-history", symbol, 4, period="5m",
            begin=str(start_ms), end=str(end_ms), limit=str(self.oi_page_limit),
        )  # fmt: skip

    def parse_open_interest_history(
        self, symbol: str, payload: Any, recv_ms: int
    ) -> list[OpenInterest]:
        return rest.parse_open_interest_history(self.symbol_head(symbol), payload, recv_ms)

    def current_funding_request(self, symbol: str) -> RestRequest | None:
        return self._swap("/api/v5/public/funding-rate", symbol)

    def parse_current_funding(self, symbol: str, payload: Any, recv_ms: int) -> list[Funding]:
        head = self.symbol_head(symbol)
        default = self.funding_interval_h(head["symbol"])
        records = rest.parse_current_funding(head, payload, recv_ms, default)
        for record in records:
            self.funding_intervals[record.symbol] = record.funding_interval_h
        return records

    def current_open_interest_request(self, symbol: str) -> RestRequest | None:
        return self._swap("/api/v5/public/open-interest", symbol, instType="SWAP")

    def parse_current_open_interest(
        self, symbol: str, payload: Any, recv_ms: int
    ) -> list[OpenInterest]:
        return rest.parse_current_open_interest(self.symbol_head(symbol), payload, recv_ms)


class OkxSpot(Okx):
    """OKX v5 spot: trades, tickers and 1m candles; index tickers and index candles keep each
    connection flowing. No funding or open interest: those requests return None."""

    name = "okx_spot"
    market = "spot"
    inst_type = "SPOT"
    symbol_format = "{base}-{quote}"
    public = ("tickers", "trades", "index-tickers")
    business = ("candle1m", "index-candle1m")
    wide = ()
    parsed_channels = frozenset({"tickers", "trades", "candle1m", "index-candle1m",
                                 "index-tickers"})  # fmt: skip
    # index tickers: every 100 ms while the index moves, else once a minute (and the index
    # candles on the business connection)
    always_flowing = "index-"
