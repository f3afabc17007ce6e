"""Coinbase Exchange: `ws-feed.exchange.coinbase.com` ticker/matches and REST candles (USD books).

Owns the wire: the subscribe frame, `ticker` and `match` parsing (Coinbase `side` is the MAKER's
side), 1-minute candles built from matches (the feed has no candle channel), and
`/products/{id}/candles` rows. Pure: no I/O, no clock.
"""

from __future__ import annotations

from typing import Any, ClassVar, Final

import orjson

from microservices.common.clock import iso_utc
from microservices.common.errors import BadMessage
from microservices.common.records import AnyRaw, Kline, Market, Side
from microservices.data_collector.exchanges import _records as build
from microservices.data_collector.exchanges._iso_time import iso_epoch_ms as iso_ms
from microservices.data_collector.exchanges.base import (
    PARSE_ERRORS,
    Dropped,
    Exchange,
    RestRequest,
    TradeDeduper,
    VenueParser,
    WsConnectionPlan,
    check_ohlc,
    epoch_ms,
    price,
    qty,
    text_trade_id,
)
from microservices.data_collector.exchanges.coinbase.listing import CoinbaseListing

MINUTE_MS: Final = 60_000
# a match's `side` is the resting (maker) order's side; the taker went the other way
TAKER_SIDES: Final[dict[Any, Side]] = {"buy": "sell", "sell": "buy"}
# message types this collector does not use (other channels, control frames): "ignored"
IGNORED_TYPES: Final = frozenset(
    {"subscriptions", "snapshot", "l2update", "status", "ticker_batch",
     "received", "open", "done", "change", "activate", "auction", "subscribe", "unsubscribe"}
)  # fmt: skip


class Bar:
    """A 1-minute candle being built from matches."""

    __slots__ = ("close", "complete", "high", "low", "minute_ms", "open", "volume")

    def __init__(self, minute_ms: int, px: float, size: float, complete: bool) -> None:
        self.minute_ms = minute_ms
        self.open = self.high = self.low = self.close = px
        self.volume = size
        # False when the bar may miss trades from before we subscribed (see CandleBuilder)
        self.complete = complete

    def add(self, px: float, size: float) -> None:
        if px > self.high:
            self.high = px
        elif px < self.low:
            self.low = px
        self.close = px
        self.volume += size


class CandleBuilder:
    """1-minute bars per symbol from matches; the first trade of a later minute finishes a bar
    (minutes without trades produce none).

    Only bars known to hold every trade of their minute are published. Coinbase trade ids
    are consecutive per product, so a bar is complete when the trade before its first one is
    from an earlier minute and each later trade, up to the one that finishes the bar,
    directly follows the previous one. The first trade seen (normally `last_match`, the last
    one before we subscribed) only anchors the sequence. Bars we joined mid-minute or that
    span a gap (a reconnect) are dropped and counted as "partial_bar".
    """

    __slots__ = ("_bars", "_newest")

    def __init__(self) -> None:
        self._bars: dict[str, Bar] = {}
        self._newest: dict[str, tuple[int, int]] = {}  # symbol -> (trade id, minute) seen

    def add(
        self, symbol: str, seq: int | None, ts_ms: int, px: float, size: float
    ) -> tuple[Bar | None, str]:
        """Fold one trade in: (finished bar to publish or None, reject reason or "")."""
        minute = ts_ms - ts_ms % MINUTE_MS
        newest = self._newest.get(symbol)
        if seq is not None and (newest is None or seq > newest[0]):
            self._newest[symbol] = (seq, minute)
        if newest is None:
            return None, ""
        follows = seq == newest[0] + 1
        bar = self._bars.get(symbol)
        if bar is not None and minute <= bar.minute_ms:
            if minute < bar.minute_ms:
                return None, "late_trade"
            bar.add(px, size)
            bar.complete = bar.complete and follows
            return None, ""
        self._bars[symbol] = Bar(minute, px, size, follows and newest[1] < minute)
        if bar is None:
            return None, ""
        return (bar, "") if bar.complete and follows else (None, "partial_bar")


def minute_kline(head: dict[str, Any], bar: Bar, recv_ms: int) -> Kline:
    """The closed 1m Kline of a finished bar (ts_ms = the bar's last millisecond)."""
    return build.kline(
        head,
        ts_ms=bar.minute_ms + MINUTE_MS - 1,
        recv_ms=recv_ms,
        open_time_ms=bar.minute_ms,
        interval="1m",
        open=bar.open,
        high=bar.high,
        low=bar.low,
        close=bar.close,
        volume=round(bar.volume, 10),  # sizes have 8 decimals: drop float-sum noise
        closed=True,
    )


class CoinbaseParser(VenueParser):
    """Parser of one ws-feed connection; dispatches on the message `type`."""

    def __init__(self, exchange: Exchange) -> None:
        super().__init__(exchange)
        self._heads: dict[str, dict[str, Any]] = {}  # product id -> record header fields
        self._trade_ids = TradeDeduper()
        self._candles = CandleBuilder()
        self._handlers = {
            "ticker": self._ticker,
            "match": self._match,
            "last_match": self._match,
            "heartbeat": self._heartbeat,
        }

    def parse(self, frame: str | bytes, recv_ms: int) -> list[AnyRaw]:
        try:
            msg = orjson.loads(frame)
            kind = msg["type"]
            handler = self._handlers.get(kind)
            if handler is None:
                if kind == "error":
                    raise Dropped("venue_error")
                raise Dropped("ignored" if kind in IGNORED_TYPES else "unknown_topic")
            return self.stats.emit(handler(msg, recv_ms))
        except Dropped as exc:
            self.stats.reject(exc.reason, frame)
        except PARSE_ERRORS:
            self.stats.reject("malformed", frame)
        return []

    def _head(self, product: Any) -> dict[str, Any]:
        """Record header for a product id; Dropped("not_followed"/"unknown_symbol") when the
        product is not followed (`Exchange.unfollowed_reason`)."""
        head = self._heads.get(product)
        if head is None:
            found = self.exchange.record_head(product)  # AttributeError (malformed) if no str
            if found is None:
                raise Dropped(self.exchange.unfollowed_reason(product))
            head = self._heads[product] = found
        return head

    def _heartbeat(self, msg: dict[str, Any], recv_ms: int) -> list[AnyRaw]:
        """The heartbeat channel (every second per product, with its sequence): no record, but
        it proves the feed alive while nothing trades (`parse_with_liveness`)."""
        if type(msg["sequence"]) is not int or type(msg["product_id"]) is not str:
            raise BadMessage(f"bad heartbeat {msg!r}"[:200])
        return []

    def _ticker(self, msg: dict[str, Any], recv_ms: int) -> list[AnyRaw]:
        """Best bid/ask with sizes and the last price; frames before 2022 lack
        `best_bid_size`/`best_ask_size`, whose sizes are then 0.0."""
        product = msg["product_id"]
        head = self._heads.get(product) or self._head(product)
        raw_bid, raw_ask, last = msg.get("best_bid"), msg.get("best_ask"), msg.get("price")
        if raw_bid is None or raw_ask is None:
            raise Dropped("no_quote")
        bid, ask = price(raw_bid), price(raw_ask)
        if bid > ask:
            raise Dropped("crossed_quote")
        ts_ms = iso_ms(msg["time"])
        bid_size, ask_size = msg.get("best_bid_size"), msg.get("best_ask_size")
        return [
            build.ticker(
                head,
                ts_ms=ts_ms,
                recv_ms=recv_ms,
                bid=bid,
                bid_size=0.0 if bid_size is None else qty(bid_size),
                ask=ask,
                ask_size=0.0 if ask_size is None else qty(ask_size),
                last=None if last is None else price(last),
            )
        ]

    def _match(self, msg: dict[str, Any], recv_ms: int) -> list[AnyRaw]:
        """`match` and `last_match` (the last trade before we subscribed): a Trade, preceded
        by the 1m Kline it finished."""
        product = msg["product_id"]
        head, raw_id = self._heads.get(product) or self._head(product), msg["trade_id"]
        ts_ms, px, size = iso_ms(msg["time"]), price(msg["price"]), qty(msg["size"])
        side = TAKER_SIDES[msg["side"]]
        tid = str(raw_id) if type(raw_id) is int else text_trade_id(raw_id)
        trade = build.trade(head, ts_ms=ts_ms, recv_ms=recv_ms, price=px, size=size, side=side,
                            trade_id=tid)  # fmt: skip
        symbol = head["symbol"]
        if self._trade_ids.seen(symbol, tid):
            raise Dropped("duplicate")
        seq = raw_id if type(raw_id) is int else None
        bar, reason = self._candles.add(symbol, seq, ts_ms, px, size)
        if reason:
            self.stats.reject(reason, product)
        if bar is None:
            return [trade]
        return [minute_kline(head, bar, recv_ms), trade]


class Coinbase(CoinbaseListing, Exchange):
    """Coinbase Exchange spot (USD books, followed under their USDT group): ticker, matches
    (trades, and 1m candles built from them) over WS; 1m candles over REST. No funding/OI."""

    name = "coinbase"
    market: ClassVar[Market] = "spot"
    channels: ClassVar[tuple[str, ...]] = ("ticker", "matches", "heartbeat")
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
            subscribe = {"type": "subscribe", "product_ids": products, "channels": self.channels}
            frame = orjson.dumps(subscribe).decode()
            label = f"{self.name}#{len(plans)}"
            plans.append(WsConnectionPlan(label, self.ws_url, (frame,), chunk))
        return plans

    def new_parser(self) -> VenueParser:
        return CoinbaseParser(self)

    def klines_request(self, symbol: str, start_ms: int, end_ms: int) -> RestRequest:
        params = {"granularity": "60", "start": iso_utc(start_ms), "end": iso_utc(end_ms)}
        return RestRequest(f"/products/{self.to_venue(symbol)}/candles", params)

    def parse_klines(self, symbol: str, payload: Any, recv_ms: int) -> list[Kline]:
        """Rows `[time (s), low, high, open, close, volume]` (numbers, newest first) -> oldest
        first; closed once time + 60 s <= recv_ms; ts_ms is the open time. Bad rows skipped."""
        if not isinstance(payload, list):
            raise BadMessage(f"coinbase candles: expected a list, got {type(payload).__name__}")
        head: dict[str, Any] = {**self.symbol_head(symbol), "recv_ms": recv_ms}
        out: list[Kline] = []
        for row in payload:
            try:
                low, high, o, c = price(row[1]), price(row[2]), price(row[3]), price(row[4])
                check_ohlc(o, high, low, c)
                start = epoch_ms(int(row[0]) * 1000)
                out.append(
                    Kline(
                        **head,
                        ts_ms=start,
                        open_time_ms=start,
                        interval="1m",
                        open=o,
                        high=high,
                        low=low,
                        close=c,
                        volume=qty(row[5]),
                        closed=start + MINUTE_MS <= recv_ms,
                    )
                )
            except PARSE_ERRORS:
                continue
        out.sort(key=lambda k: k.open_time_ms)
        return out

    def check_rest_payload(self, payload: Any) -> None:
        """Coinbase errors are `{"message": "..."}` bodies."""
        if isinstance(payload, dict) and "message" in payload:
            raise BadMessage(f"coinbase error: {str(payload['message'])[:200]}")
