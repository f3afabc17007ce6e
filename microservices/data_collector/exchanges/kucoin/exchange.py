"""KuCoin spot (`kucoin`): `/market/*` topics over a bullet-public WebSocket, REST candles.

Owns what spot and futures share (`KucoinBase`: the per-connection endpoint, welcome, ping,
subscribe frames, the `{"code": "200000"}` envelope) and the spot venue. Futures are in
`futures.py`, the frames in `wire.py`/`parser.py`. Pure but for `resolve_ws_url`, whose one
HTTP call lives in `bullet.py`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any, ClassVar, Final, TypeVar

import orjson

from microservices.common.errors import BadMessage
from microservices.common.records import Kline, Market
from microservices.data_collector.exchanges.base import (
    Exchange,
    RestRequest,
    VenueParser,
    WsConnectionPlan,
    epoch_ms,
    minute_bar,
)
from microservices.data_collector.exchanges.kucoin import bullet
from microservices.data_collector.exchanges.kucoin.listing import OK, KucoinListing
from microservices.data_collector.exchanges.kucoin.parser import MINUTE_MS, KucoinParser
from microservices.data_collector.exchanges.rest_rows import parse_rows

R = TypeVar("R")
PING: Final = orjson.dumps({"id": "ping", "type": "ping"}).decode()
BULLET_TIMEOUT_S: Final = 10.0
SYMBOLS_PER_TOPIC: Final = 100  # a topic names at most 100 symbols


def data_rows(payload: Any, parse_row: Callable[[Any], R]) -> list[R]:
    """`parse_row` over the `data` list of a KuCoin answer, skipping bad rows; BadMessage when
    the answer is not a success envelope with a list."""
    rows = payload.get("data") if isinstance(payload, dict) else None
    return parse_rows(rows, parse_row, "kucoin data")


def subscribe_frame(request_id: int, topic: str) -> str:
    return orjson.dumps(
        {"id": str(request_id), "type": "subscribe", "topic": topic, "privateChannel": False,
         "response": True}
    ).decode()  # fmt: skip


class KucoinBase(Exchange):
    """What KuCoin spot and futures share: a token per connection, `welcome` before
    subscribing, `{"type": "ping"}` every 18 s (bullet-public's pingInterval), subscriptions
    of `channels` (one topic naming many symbols, or one per symbol) within 100 per
    connection, and the REST envelope."""

    ws_welcome = '"welcome"'
    ping_interval_s = 18.0  # pingInterval 18000 ms; the server drops a socket after 10 s more
    # subscriptions (symbol x channel) per connection: "exceed max subscription count
    # limitation of 100 per session"
    max_streams_per_connection = 100
    channels: ClassVar[tuple[str, ...]] = ()
    batched: ClassVar[bool] = True  # a topic may name many symbols (`a,b,c`)
    # public REST pool: 2,000 weight per 30 s per IP (4,000/min); stay at three quarters
    rest_weight_per_minute = 3000

    def ws_connections(self) -> list[WsConnectionPlan]:
        """Connections of at most `max_streams_per_connection` symbol-channel subscriptions."""
        channels = self.with_books(self.channels)
        per_conn = max(1, self.max_streams_per_connection // len(channels))
        plans: list[WsConnectionPlan] = []
        for start in range(0, len(self.symbols), per_conn):
            chunk = self.symbols[start : start + per_conn]
            ids = itertools.count(1)
            frames = tuple(subscribe_frame(next(ids), t) for t in self.topics(channels, chunk))
            plans.append(WsConnectionPlan(f"{self.name}#{len(plans)}", self.ws_url, frames, chunk))
        return plans

    def topics(self, channels: tuple[str, ...], symbols: tuple[str, ...]) -> list[str]:
        """`<channel>:<sym>[,<sym>...]` topics of `symbols` (candles: `<sym>_1min`, one each)."""
        vsyms = [self.to_venue(s) for s in symbols]
        out: list[str] = []
        for channel in channels:
            if channel == "/market/candles" or not self.batched:
                suffix = "_1min" if channel == "/market/candles" else ""
                out.extend(f"{channel}:{v}{suffix}" for v in vsyms)
                continue
            for i in range(0, len(vsyms), SYMBOLS_PER_TOPIC):
                out.append(f"{channel}:{','.join(vsyms[i : i + SYMBOLS_PER_TOPIC])}")
        return out

    async def resolve_ws_url(self, plan: WsConnectionPlan) -> str:
        """A fresh token and endpoint from bullet-public on the venue's REST host, never
        inside a Retry-After window the venue's REST answers opened."""
        import asyncio  # here: the venue registry imports no event loop machinery (normalize)

        wait = self.rest_blocked_for()
        if wait > 0.0:
            await asyncio.sleep(wait)
        return await bullet.fetch_ws_url(self.rest_url, BULLET_TIMEOUT_S)

    def ping_message(self) -> str | None:
        return PING

    def book_resubscribe(self, venue_symbol: str) -> tuple[str, ...]:
        """Unsubscribe and subscribe the symbol's depth topic: a fresh snapshot follows."""
        topic = f"{self.book_stream}:{venue_symbol}"
        return tuple(
            orjson.dumps({"id": f"book-{kind}", "type": kind, "topic": topic,
                          "privateChannel": False, "response": True}).decode()
            for kind in ("unsubscribe", "subscribe")
        )  # fmt: skip

    def new_parser(self) -> VenueParser:
        return KucoinParser(self)

    def check_rest_payload(self, payload: Any) -> None:
        """`{"code": "200000", "data": ...}` is success; anything else (`429000` Too Many
        Requests, `400100` bad parameter, ...) an error."""
        code = payload.get("code") if isinstance(payload, dict) else None
        if code != OK:
            message = payload.get("msg") if isinstance(payload, dict) else payload
            raise BadMessage(f"kucoin code {code!r}: {str(message)[:200]}")


class Kucoin(KucoinListing, KucoinBase):
    """KuCoin spot: ticker (best bid/ask, last), match (trades), 1 min candles over WS, the
    50-level book; 1 min candles over REST. No funding or open interest."""

    name = "kucoin"
    market: ClassVar[Market] = "spot"
    channels = ("/market/ticker", "/market/match", "/market/candles", "/market/snapshot")
    always_flowing = "/market/snapshot"  # every 2 s per symbol, trades or not
    book_stream = "/spotMarket/level2Depth50"  # 50-level snapshots (book.py)
    kline_page_limit = 1500  # rows per /api/v1/market/candles answer

    def klines_request(self, symbol: str, start_ms: int, end_ms: int) -> RestRequest:
        params = {"type": "1min", "symbol": self.to_venue(symbol),
                  "startAt": str(start_ms // 1000), "endAt": str(end_ms // 1000)}  # fmt: skip
        return RestRequest("/api/v1/market/candles", params, weight=3)

    def parse_klines(self, symbol: str, payload: Any, recv_ms: int) -> list[Kline]:
        """Rows `[start (s), open, close, high, low, volume, turnover]` (strings, newest first)
        -> oldest first; closed once start + 60 s <= recv_ms; ts_ms is the open time."""
        head = self.symbol_head(symbol)

        def row_to_kline(row: Any) -> Kline:
            start = epoch_ms(int(row[0]) * 1000)
            ohlcv = (row[1], row[3], row[4], row[2], row[5])  # open, high, low, close, volume
            return minute_bar(head, recv_ms, start, ohlcv, start + MINUTE_MS <= recv_ms)

        return sorted(data_rows(payload, row_to_kline), key=lambda k: k.open_time_ms)
