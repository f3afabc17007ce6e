"""KuCoin WebSocket parser (spot and futures) on the typed skeleton: ticker, match, candles
(spot), tickerV2 and execution (futures) frames into `exchange.raw` records.

The wire model is in `wire.py`; `TypedParser` (exchanges/typed.py) decodes, dispatches and
counts. Futures sizes are contracts: they are converted to base units with the contract's
`multiplier` from the listing. Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import msgspec
import orjson

from microservices.common.errors import BadMessage
from microservices.common.records import AnyRaw
from microservices.data_collector.exchanges import _records as build
from microservices.data_collector.exchanges._records import Head
from microservices.data_collector.exchanges.base import Dropped, Exchange
from microservices.data_collector.exchanges.dedupe import TradeDeduper
from microservices.data_collector.exchanges.kucoin import wire
from microservices.data_collector.exchanges.kucoin.wire import NS_PER_MS
from microservices.data_collector.exchanges.typed import (
    Decode,
    Frame,
    Handler,
    TypedParser,
    decoder,
)

MINUTE_MS: Final = 60_000
CANDLE_SUFFIX: Final = "_1min"  # /market/candles:<symbol>_<interval>
CONTROL_TYPES: Final = frozenset({"welcome", "ack", "pong"})
# subjects of public channels not subscribed here (incremental /market/level2, level 1 and
# level 3, futures v1 ticker, klines and 24 h snapshot): "ignored", not "unknown_topic"
UNPARSED_SUBJECTS: Final = frozenset(
    {"trade.l2update", "level1", "level3", "ticker", "candle.stick", "snapshot.24h",
     "trade.l3received", "trade.l3open", "trade.l3done", "trade.l3change", "trade.l3update"}
)  # fmt: skip
_DECODE: Final = decoder(wire.FRAME)


def trade_id(value: object) -> str:
    """KuCoin trade ids are non-empty strings (hex on spot, decimal on futures)."""
    if type(value) is not str or not value:
        raise BadMessage(f"bad trade id {value!r}")
    return value


def control_reason(msg: object) -> str:
    """Why a frame without a known subject was refused: welcome/ack/pong are "ignored",
    `type: error` is "venue_error", a message of a channel not subscribed "ignored", of an
    unknown subject "unknown_topic"."""
    if not isinstance(msg, dict):
        return "malformed"
    kind = msg.get("type")
    if not isinstance(kind, str):
        return "malformed"
    if kind in CONTROL_TYPES:
        return "ignored"
    if kind == "error":
        return "venue_error"
    subject = msg.get("subject")
    if kind != "message" or not isinstance(subject, str) or subject in wire.SUBJECTS:
        return "malformed"
    return "ignored" if subject in UNPARSED_SUBJECTS else "unknown_topic"


class KucoinParser(TypedParser):
    """Parser of one KuCoin connection (spot or futures)."""

    def __init__(self, exchange: Exchange) -> None:
        super().__init__(exchange)
        self._topics: dict[str, tuple[Head, float]] = {}  # topic -> (header, base per size)
        self._trade_ids = TradeDeduper()

    def decoder(self) -> Decode:
        return _DECODE

    def handlers(self) -> Mapping[type[msgspec.Struct], Handler]:
        return {
            wire.SpotTicker: self._spot_ticker,
            wire.SpotMatch: self._spot_match,
            wire.CandleUpdate: self._candle,
            wire.CandleAdd: self._candle,
            wire.SnapshotFrame: self._heartbeat,
            wire.FuturesTicker: self._futures_ticker,
            wire.FuturesExecution: self._execution,
            wire.InstrumentFrame: self._heartbeat,
            wire.FundingRateFrame: self._heartbeat,
            wire.BookFrame: self._ignored,
        }

    def classify(self, frame: Frame) -> str:
        try:
            return control_reason(orjson.loads(frame))
        except orjson.JSONDecodeError:
            return "malformed"

    def _topic(self, topic: str) -> tuple[Head, float]:
        """(record header, base units per wire size) of a topic's symbol, cached per topic;
        candles other than 1 min are "ignored"."""
        found = self._topics.get(topic)
        if found is None:
            channel, _, vsym = topic.partition(":")
            if channel == "/market/candles":
                vsym, suffix = vsym[: -len(CANDLE_SUFFIX)], vsym[-len(CANDLE_SUFFIX) :]
                if suffix != CANDLE_SUFFIX:
                    raise Dropped("ignored")
            head = self._head(vsym)
            inst = self.exchange.listed_instrument(vsym)
            size = 1.0 if inst is None or self.exchange.market == "spot" else inst.contract_size
            found = self._topics[topic] = (head, size)
        return found

    # ----------------------------------------------------------------------- handlers
    def _spot_ticker(self, msg: wire.SpotTicker, recv_ms: int) -> list[AnyRaw]:
        head = (self._topics.get(msg.topic) or self._topic(msg.topic))[0]
        d = msg.data
        if d.bestBid > d.bestAsk:
            raise Dropped("crossed_quote")
        return [
            build.ticker(head, ts_ms=d.time, recv_ms=recv_ms, bid=d.bestBid,
                         bid_size=d.bestBidSize, ask=d.bestAsk, ask_size=d.bestAskSize,
                         last=d.price)
        ]  # fmt: skip

    def _futures_ticker(self, msg: wire.FuturesTicker, recv_ms: int) -> list[AnyRaw]:
        head, lot = self._topics.get(msg.topic) or self._topic(msg.topic)
        d = msg.data
        if d.bestBidPrice > d.bestAskPrice:
            raise Dropped("crossed_quote")
        return [
            build.ticker(head, ts_ms=d.ts // NS_PER_MS, recv_ms=recv_ms, bid=d.bestBidPrice,
                         bid_size=d.bestBidSize * lot, ask=d.bestAskPrice,
                         ask_size=d.bestAskSize * lot)
        ]  # fmt: skip

    def _spot_match(self, msg: wire.SpotMatch, recv_ms: int) -> list[AnyRaw]:
        head = (self._topics.get(msg.topic) or self._topic(msg.topic))[0]
        d = msg.data
        return self._trade(head, d.time // NS_PER_MS, recv_ms, d.price, d.size, d.side, d.tradeId)

    def _execution(self, msg: wire.FuturesExecution, recv_ms: int) -> list[AnyRaw]:
        head, lot = self._topics.get(msg.topic) or self._topic(msg.topic)
        d = msg.data
        return self._trade(head, d.ts // NS_PER_MS, recv_ms, d.price, d.size * lot, d.side,
                           d.tradeId)  # fmt: skip

    def _trade(
        self, head: Head, ts_ms: int, recv_ms: int, price: float, size: float, side: wire.Side,
        raw_id: object,
    ) -> list[AnyRaw]:  # fmt: skip
        """One trade record (`side` is the taker's), or a dropped duplicate."""
        tid = trade_id(raw_id)
        if self._trade_ids.seen(head["symbol"], tid):
            raise Dropped("duplicate")
        return [build.trade(head, ts_ms=ts_ms, recv_ms=recv_ms, price=price, size=size,
                            side=side, trade_id=tid)]  # fmt: skip

    def _candle(self, msg: wire.CandleUpdate | wire.CandleAdd, recv_ms: int) -> list[AnyRaw]:
        """The 1 min candle's state; closed once its minute ended by the venue's push time."""
        head = (self._topics.get(msg.topic) or self._topic(msg.topic))[0]
        start_s, o, c, h, low, volume, _ = msg.data.candles
        if not (low <= o <= h and low <= c <= h):
            raise BadMessage(f"bad candle o={o} h={h} l={low} c={c}")
        ts_ms, open_ms = msg.data.time // NS_PER_MS, start_s * 1000
        return [
            build.kline(head, ts_ms=ts_ms, recv_ms=recv_ms, open_time_ms=open_ms, interval="1m",
                        open=o, high=h, low=low, close=c, volume=volume,
                        closed=open_ms + MINUTE_MS <= ts_ms)
        ]  # fmt: skip

    def _heartbeat(self, msg: wire.Tagged, recv_ms: int) -> list[AnyRaw]:
        """A frame that proves the feed alive and carries no record (of a followed symbol:
        others are counted not_followed)."""
        self._topics.get(msg.topic) or self._topic(msg.topic)
        return []

    def _ignored(self, msg: wire.Tagged, recv_ms: int) -> list[AnyRaw]:
        raise Dropped("ignored")
