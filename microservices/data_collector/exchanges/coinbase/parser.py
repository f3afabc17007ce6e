"""Coinbase Exchange ws-feed parser on the typed skeleton: `ticker` -> Ticker, `match` and
`last_match` -> Trade (Coinbase `side` is the MAKER's side) plus the 1m Kline each finished
bar gives, `heartbeat` -> nothing but liveness.

The wire model is in `wire.py`, the candle building in `candles.py`; `TypedParser`
(exchanges/typed.py) decodes, dispatches and counts. Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import msgspec
import orjson

from microservices.common.errors import BadMessage
from microservices.common.records import AnyRaw, Side
from microservices.data_collector.exchanges import _records as build
from microservices.data_collector.exchanges._iso_time import iso_epoch_ms as iso_ms
from microservices.data_collector.exchanges.base import (
    Dropped,
    Exchange,
    text_trade_id,
)
from microservices.data_collector.exchanges.coinbase import wire
from microservices.data_collector.exchanges.coinbase.candles import CandleBuilder, minute_kline
from microservices.data_collector.exchanges.dedupe import TradeDeduper
from microservices.data_collector.exchanges.typed import Decode, Frame, Handler, TypedParser

# a match's `side` is the resting (maker) order's side; the taker went the other way
TAKER_SIDES: Final[dict[str, Side]] = {"buy": "sell", "sell": "buy"}
# message types this collector does not use (other channels, control frames): "ignored"
IGNORED_TYPES: Final = frozenset(
    {"subscriptions", "snapshot", "l2update", "status", "ticker_batch",
     "received", "open", "done", "change", "activate", "auction", "subscribe", "unsubscribe"}
)  # fmt: skip
HANDLED_TYPES: Final = frozenset({"ticker", "match", "last_match", "heartbeat"})


class CoinbaseParser(TypedParser):
    """Parser of one ws-feed connection; the message `type` picks the model."""

    def __init__(self, exchange: Exchange) -> None:
        super().__init__(exchange)
        self._trade_ids = TradeDeduper()
        self._candles = CandleBuilder()

    def decoder(self) -> Decode:
        return wire.decode_message

    def handlers(self) -> Mapping[type[msgspec.Struct], Handler]:
        return {
            wire.TickerMessage: self._ticker,
            wire.MatchMessage: self._match,
            wire.LastMatchMessage: self._match,
            wire.HeartbeatMessage: self._heartbeat,
        }

    def classify(self, frame: Frame) -> str:
        try:
            msg = orjson.loads(frame)
        except orjson.JSONDecodeError:
            return "malformed"
        if not isinstance(msg, dict) or "type" not in msg:
            return "malformed"
        kind = msg["type"]
        if isinstance(kind, list | dict) or kind in HANDLED_TYPES:
            return "malformed"
        if kind == "error":
            return "venue_error"
        return "ignored" if kind in IGNORED_TYPES else "unknown_topic"

    def _heartbeat(self, msg: wire.HeartbeatMessage, recv_ms: int) -> list[AnyRaw]:
        """The heartbeat channel (every second per product, with its sequence): no record, but
        it proves the feed alive while nothing trades (`parse_with_liveness`)."""
        if type(msg.sequence) is not int:
            raise BadMessage(f"bad heartbeat sequence {msg.sequence!r}")
        return []

    def _ticker(self, msg: wire.TickerMessage, recv_ms: int) -> list[AnyRaw]:
        """Best bid/ask with sizes and the last price; frames before 2022 lack
        `best_bid_size`/`best_ask_size`, whose sizes are then 0.0."""
        product = msg.product_id
        head = self._heads.get(product) or self._head(product)
        bid, ask = msg.best_bid, msg.best_ask
        if bid is None or ask is None:
            raise Dropped("no_quote")
        if bid > ask:
            raise Dropped("crossed_quote")
        bid_size, ask_size = msg.best_bid_size, msg.best_ask_size
        return [
            build.ticker(head, ts_ms=iso_ms(msg.time), recv_ms=recv_ms, bid=bid,
                         bid_size=0.0 if bid_size is None else bid_size, ask=ask,
                         ask_size=0.0 if ask_size is None else ask_size, last=msg.price)
        ]  # fmt: skip

    def _match(self, msg: wire.MatchMessage, recv_ms: int) -> list[AnyRaw]:
        """`match` and `last_match` (the last trade before we subscribed): a Trade, preceded
        by the 1m Kline it finished."""
        product, raw_id = msg.product_id, msg.trade_id
        head = self._heads.get(product) or self._head(product)
        ts_ms, px, size = iso_ms(msg.time), msg.price, msg.size
        tid = str(raw_id) if type(raw_id) is int else text_trade_id(raw_id)
        symbol = head["symbol"]
        if self._trade_ids.seen(symbol, tid):
            raise Dropped("duplicate")
        trade = build.trade(head, ts_ms=ts_ms, recv_ms=recv_ms, price=px, size=size,
                            side=TAKER_SIDES[msg.side], trade_id=tid)  # fmt: skip
        seq = raw_id if type(raw_id) is int else None
        bar, reason = self._candles.add(symbol, seq, ts_ms, px, size)
        if reason:
            self.stats.reject(reason, product)
        if bar is None:
            return [trade]
        return [minute_kline(head, bar, recv_ms), trade]
