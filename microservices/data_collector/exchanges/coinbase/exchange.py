"""Coinbase Exchange: `ws-feed.exchange.coinbase.com` ticker/matches and REST candles (USD books).

Owns the venue: the subscribe frames and `/products/{id}/candles` rows; the ws-feed messages
are parsed in `parser.py` (model in `wire.py`, candles built from matches in `candles.py`).
Pure: no I/O, no clock.
"""

from __future__ import annotations

from typing import Any, ClassVar

import orjson

from microservices.common.clock import iso_utc
from microservices.common.errors import BadMessage
from microservices.common.records import Kline, Market
from microservices.data_collector.exchanges.base import (
    PARSE_ERRORS,
    Exchange,
    RestRequest,
    VenueParser,
    WsConnectionPlan,
    epoch_ms,
    minute_bar,
)
from microservices.data_collector.exchanges.coinbase.candles import MINUTE_MS
from microservices.data_collector.exchanges.coinbase.listing import CoinbaseListing
from microservices.data_collector.exchanges.coinbase.parser import CoinbaseParser


class Coinbase(CoinbaseListing, Exchange):
    """Coinbase Exchange spot (USD books, followed under their USDT group): ticker, matches
    (trades, and 1m candles built from them) over WS; 1m candles over REST. No funding/OI."""

    name = "coinbase"
    market: ClassVar[Market] = "spot"
    channels: ClassVar[tuple[str, ...]] = ("ticker", "matches", "heartbeat")
    book_stream = "level2_batch"  # the unauthenticated L2 channel: snapshot, then l2update
    always_flowing = "heartbeat"  # every second per product
    rest_weight_per_minute = 600  # public REST: about 10 requests/s per IP
    # products per connection (Coinbase documents no cap; 8 connects/s per IP is the limit)
    max_streams_per_connection = 100
    kline_page_limit = 300  # candles per request

    def ws_connections(self) -> list[WsConnectionPlan]:
        """One subscribe frame per connection (sent at once: the feed drops a connection
        that has not subscribed within 5 s), at most `max_streams_per_connection` products
        each, so a slow reader of many products is not cut off (ErrSlowConsume)."""
        plans: list[WsConnectionPlan] = []
        step = self.max_streams_per_connection
        for start in range(0, len(self.symbols), step):
            chunk = self.symbols[start : start + step]
            products = [self.to_venue(s) for s in chunk]
            channels = self.with_books(self.channels)
            subscribe = {"type": "subscribe", "product_ids": products, "channels": channels}
            frame = orjson.dumps(subscribe).decode()
            label = f"{self.name}#{len(plans)}"
            plans.append(WsConnectionPlan(label, self.ws_url, (frame,), chunk))
        return plans

    def new_parser(self) -> VenueParser:
        return CoinbaseParser(self)

    def book_resubscribe(self, venue_symbol: str) -> tuple[str, ...]:
        """Unsubscribe and subscribe the product's level2_batch: a fresh snapshot follows."""
        return tuple(
            orjson.dumps(
                {"type": kind, "product_ids": [venue_symbol], "channels": [self.book_stream]}
            ).decode()
            for kind in ("unsubscribe", "subscribe")
        )

    def klines_request(self, symbol: str, start_ms: int, end_ms: int) -> RestRequest:
        params = {"granularity": "60", "start": iso_utc(start_ms), "end": iso_utc(end_ms)}
        return RestRequest(f"/products/{self.to_venue(symbol)}/candles", params)

    def parse_klines(self, symbol: str, payload: Any, recv_ms: int) -> list[Kline]:
        """Rows `[time (s), low, high, open, close, volume]` (numbers, newest first) -> oldest
        first; closed once time + 60 s <= recv_ms; ts_ms is the open time. Bad rows skipped."""
        if not isinstance(payload, list):
            raise BadMessage(f"coinbase candles: expected a list, got {type(payload).__name__}")
        head = self.symbol_head(symbol)
        out: list[Kline] = []
        for row in payload:
            try:
                start = epoch_ms(int(row[0]) * 1000)
                ohlcv = (row[3], row[2], row[1], row[4], row[5])  # the row is time, l, h, o, c, v
                out.append(minute_bar(head, recv_ms, start, ohlcv, start + MINUTE_MS <= recv_ms))
            except PARSE_ERRORS:
                continue
        out.sort(key=lambda k: k.open_time_ms)
        return out

    def check_rest_payload(self, payload: Any) -> None:
        """Coinbase errors are `{"message": "..."}` bodies."""
        if isinstance(payload, dict) and "message" in payload:
            raise BadMessage(f"coinbase error: {str(payload['message'])[:200]}")
