"""Bybit v5 WebSocket parser (`/v5/public/{linear|spot}`) on the typed skeleton: publicTrade,
tickers, kline, orderbook.1 and allLiquidation frames into `exchange.raw` records.

The wire model is in `wire.py`, ticker-delta and level-1 book merging in `state.py`;
`TypedParser` (exchanges/typed.py) decodes, dispatches and counts. Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

import msgspec
import orjson

from microservices.common.errors import BadMessage
from microservices.common.records import AnyRaw, Side
from microservices.data_collector.exchanges import _records as build
from microservices.data_collector.exchanges._records import Head
from microservices.data_collector.exchanges.base import (
    Dropped,
    Exchange,
    text_trade_id,
)
from microservices.data_collector.exchanges.bybit import wire
from microservices.data_collector.exchanges.bybit.state import TickerMerger, TopOfBook
from microservices.data_collector.exchanges.dedupe import TradeDeduper
from microservices.data_collector.exchanges.typed import (
    Decode,
    Frame,
    Handler,
    TypedParser,
    decoder,
)

if TYPE_CHECKING:
    from microservices.data_collector.exchanges.bybit.exchange import Bybit

TAKER_SIDES: Final[dict[str, Side]] = {"Buy": "buy", "Sell": "sell"}
# liquidation `S` is the liquidated POSITION's side; the forced order goes the other way
FORCED_ORDER_SIDES: Final[dict[str, Side]] = {"Buy": "sell", "Sell": "buy"}
# v5 public topic prefixes: the ones a market does not parse are counted "ignored"
KNOWN_TOPICS: Final = frozenset(
    {"orderbook", "publicTrade", "tickers", "kline", "allLiquidation", "liquidation",
     "kline_lt", "tickers_lt", "lt", "insurance", "priceLimit", "adlAlert", "rpi_orderbook"}
)  # fmt: skip
LEVELED: Final = frozenset({"kline", "orderbook"})  # <prefix>.<interval or depth>.<symbol>
DECODERS: Final[dict[str, Decode]] = {prefix: decoder(m) for prefix, m in wire.FRAMES.items()}
decode_envelope: Final = decoder(wire.Envelope)
TOPIC_AT: Final = len(wire.TOPIC_PREFIX)


def record_head(exchange: Exchange, symbol: str) -> dict[str, Any]:
    """Header fields of a record about followed `symbol` (its primary instrument)."""
    return exchange.symbol_head(symbol)


def control_reason(success: Any, op: Any) -> str:
    """Frames without a topic: subscribe acks and pongs (`success`, `ret_msg`, `op`)."""
    if success is False:
        return "subscribe_failed"
    if success is not msgspec.UNSET or op in ("subscribe", "unsubscribe", "ping", "pong"):
        return "ignored"
    raise BadMessage("frame without topic")


def topic_reason(prefix: str) -> str:
    return "ignored" if prefix in KNOWN_TOPICS else "unknown_topic"


class BybitParser(TypedParser):
    """Parser of one Bybit connection; the topic's first segment picks the frame model."""

    def __init__(self, exchange: Bybit) -> None:
        self._decoders = {k: v for k, v in DECODERS.items() if k in exchange.parsed_topics}
        super().__init__(exchange)
        self._topics: dict[str, Head] = {}  # topic -> record header
        self._trade_ids = TradeDeduper()
        self._tickers = TickerMerger(exchange.funding_intervals)
        self._books = TopOfBook()

    def decoder(self) -> Decode:
        return self._decode_frame

    def handlers(self) -> Mapping[type[msgspec.Struct], Handler]:
        return {
            wire.TradeFrame: self._trades,
            wire.TickerFrame: self._ticker,
            wire.KlineFrame: self._klines,
            wire.BookFrame: self._book,
            wire.LiquidationFrame: self._liquidations,
        }

    def _decode_frame(self, frame: Frame) -> Any:
        """The frame's model by its topic: read from the text when it starts with it (as
        Bybit writes it), else from a first decode of the envelope."""
        if type(frame) is str and frame.startswith(wire.TOPIC_PREFIX):
            decode = self._decoders.get(frame[TOPIC_AT : frame.find(".", TOPIC_AT)])
            if decode is not None:
                return decode(frame)
        envelope = decode_envelope(frame)
        if envelope.topic is None:
            raise Dropped(control_reason(envelope.success, envelope.op))
        prefix = envelope.topic.partition(".")[0]
        decode = self._decoders.get(prefix)
        if decode is None:
            raise Dropped(topic_reason(prefix))
        return decode(frame)

    def classify(self, frame: Frame) -> str:
        try:
            msg = orjson.loads(frame)
        except orjson.JSONDecodeError:
            return "malformed"
        topic = msg.get("topic") if isinstance(msg, dict) else None
        if not isinstance(topic, str):
            return "malformed"
        prefix = topic.partition(".")[0]
        return "malformed" if prefix in self._decoders else topic_reason(prefix)

    def _topic_head(self, topic: str) -> Head:
        """Record header of a topic's symbol (cached per topic); klines other than 1m and
        books deeper than level 1 are "ignored"."""
        head = self._topics.get(topic)
        if head is None:
            prefix, _, vsym = topic.partition(".")
            if prefix in LEVELED:
                level, _, vsym = vsym.partition(".")
                if level != "1":
                    raise Dropped("ignored")
            head = self._topics[topic] = self._head(vsym)
        return head

    # ----------------------------------------------------------------------- handlers
    def _trades(self, msg: wire.TradeFrame, recv_ms: int) -> list[AnyRaw]:
        head = self._topics.get(msg.topic) or self._topic_head(msg.topic)
        trades = [
            build.trade(head, ts_ms=t.T, recv_ms=recv_ms, price=t.p, size=t.v,
                        side=TAKER_SIDES[t.S], trade_id=text_trade_id(t.i))
            for t in msg.data
        ]  # fmt: skip
        seen, symbol = self._trade_ids.seen, head["symbol"]  # ids claimed once all are valid
        out: list[AnyRaw] = [t for t in trades if not seen(symbol, t.trade_id)]
        if len(out) < len(trades):
            self.stats.reject("duplicate", msg.topic)
        return out

    def _klines(self, msg: wire.KlineFrame, recv_ms: int) -> list[AnyRaw]:
        head = self._topics.get(msg.topic) or self._topic_head(msg.topic)
        out: list[AnyRaw] = []
        for k in msg.data:
            o, h, low, c, closed = k.open, k.high, k.low, k.close, k.confirm
            if not (low <= o <= h and low <= c <= h) or type(closed) is not bool:
                raise BadMessage(f"bad candle o={o} h={h} l={low} c={c} confirm={closed!r}")
            out.append(
                build.kline(head, ts_ms=k.timestamp, recv_ms=recv_ms, open_time_ms=k.start,
                            interval="1m", open=o, high=h, low=low, close=c, volume=k.volume,
                            closed=closed)
            )  # fmt: skip
        return out

    def _ticker(self, msg: wire.TickerFrame, recv_ms: int) -> list[AnyRaw]:
        head = self._topics.get(msg.topic) or self._topic_head(msg.topic)
        snapshot = msg.type == "snapshot"
        result = self._tickers.records(head, msg.ts, recv_ms, snapshot, msg.data)
        if result is None:
            raise Dropped("no_snapshot")
        if result[1]:
            self.stats.reject("crossed_quote", msg.topic)
        return result[0]

    def _book(self, msg: wire.BookFrame, recv_ms: int) -> list[AnyRaw]:
        head = self._topics.get(msg.topic) or self._topic_head(msg.topic)
        levels = msg.data
        top = self._books.apply(head["symbol"], msg.type == "snapshot", levels.b, levels.a)
        if top is None:
            raise Dropped("no_snapshot")
        bid, ask = top
        if bid is None or ask is None:
            raise Dropped("empty_book")
        if bid[0] > ask[0]:
            raise Dropped("crossed_quote")
        return [
            build.ticker(head, ts_ms=msg.ts, recv_ms=recv_ms, bid=bid[0], bid_size=bid[1],
                         ask=ask[0], ask_size=ask[1])
        ]  # fmt: skip

    def _liquidations(self, msg: wire.LiquidationFrame, recv_ms: int) -> list[AnyRaw]:
        """`allLiquidation.S` items {T, s, S, v, p}; the deprecated `liquidation.S` carried one
        object {updatedTime, symbol, side, size, price}."""
        head = self._topics.get(msg.topic) or self._topic_head(msg.topic)
        data = msg.data
        if isinstance(data, wire.LegacyLiquidation):
            return [
                build.liquidation(head, ts_ms=data.updatedTime, recv_ms=recv_ms,
                                  price=data.price, size=data.size,
                                  side=FORCED_ORDER_SIDES[data.side])
            ]  # fmt: skip
        return [
            build.liquidation(head, ts_ms=i.T, recv_ms=recv_ms, price=i.p, size=i.v,
                              side=FORCED_ORDER_SIDES[i.S])
            for i in data
        ]  # fmt: skip
