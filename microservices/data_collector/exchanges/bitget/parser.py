"""Bitget v2 public WebSocket parser (`/v2/ws/public`, SPOT and USDT-FUTURES): `trade`,
`ticker` and `candle1m` frames into `exchange.raw` records.

The wire model is in `wire.py`, ticker and candle state in `state.py`; `TypedParser`
(exchanges/typed.py) decodes, dispatches and counts. Book frames (`books`) are the book
rules' (`book.py`): counted "ignored" here. Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

import msgspec
import orjson

from microservices.common.errors import BadMessage
from microservices.common.records import AnyRaw
from microservices.data_collector.exchanges import _records as build
from microservices.data_collector.exchanges.base import Dropped
from microservices.data_collector.exchanges.bitget import wire
from microservices.data_collector.exchanges.bitget.state import CandleCloser, TickerState
from microservices.data_collector.exchanges.dedupe import TradeDeduper
from microservices.data_collector.exchanges.typed import (
    Decode,
    Frame,
    Handler,
    TypedParser,
    decoder,
)

if TYPE_CHECKING:
    from microservices.data_collector.exchanges.bitget.exchange import Bitget

# v2 public channels: the ones not parsed here are counted "ignored"
KNOWN_CHANNELS: Final = frozenset(
    {"trade", "ticker", "candle1m", "books", "books1", "books5", "books15", "index-price",
     "candle5m", "candle15m", "candle30m", "candle1H", "candle4H", "candle1D"}
)  # fmt: skip
CONTROL_EVENTS: Final = frozenset({"subscribe", "unsubscribe", "login"})
PONG: Final = "pong"
ACTION_KEY: Final = '"action":"'
DECODERS: Final[dict[str, Decode]] = {name: decoder(m) for name, m in wire.FRAMES.items()}
decode_envelope: Final = decoder(wire.Envelope)
CHANNEL_AT: Final = len(wire.CHANNEL_KEY)


def channel_reason(channel: str) -> str:
    return "ignored" if channel in KNOWN_CHANNELS else "unknown_topic"


def event_reason(event: str | None) -> str:
    """Frames without data: subscribe acks (`event` subscribe) and errors (`event` error)."""
    if event == "error":
        return "venue_error"
    if event in CONTROL_EVENTS:
        return "ignored"
    return "unknown_event"


def _channel_of(text: str) -> str | None:
    """The `arg.channel` of a frame, read from its text without decoding."""
    at = text.find(wire.CHANNEL_KEY)
    if at < 0:
        return None
    start = at + CHANNEL_AT
    return text[start : text.find('"', start)]


class BitgetParser(TypedParser):
    """Parser of one Bitget connection; the frame's channel picks its model."""

    def __init__(self, exchange: Bitget) -> None:
        super().__init__(exchange)
        self._bitget = exchange
        self._inst_type = exchange.inst_type
        self._trade_ids = TradeDeduper()
        self._tickers = TickerState()
        self._candles = CandleCloser()

    def decoder(self) -> Decode:
        return self._decode_frame

    def handlers(self) -> Mapping[type[msgspec.Struct], Handler]:
        return {
            wire.TradeFrame: self._trades,
            wire.TickerFrame: self._ticker,
            wire.CandleFrame: self._candle,
        }

    def _decode_frame(self, frame: Frame) -> Any:
        """The frame's model by its channel (read from the text), after a look at control
        frames: the text `pong`, and frames with an `event` and no data."""
        text = frame if isinstance(frame, str) else frame.decode("utf-8", "replace")
        if text == PONG:
            raise Dropped("ignored")
        channel = _channel_of(text)
        decode = DECODERS.get(channel) if channel is not None else None
        if decode is not None and ACTION_KEY in text:  # data frames; acks have no action
            message = decode(frame)
            if message.arg.instType != self._inst_type:  # another market's subscription
                raise Dropped("ignored")
            return message
        envelope = decode_envelope(frame)
        if envelope.event is not None or envelope.arg is None:
            raise Dropped(event_reason(envelope.event))
        raise Dropped(channel_reason(envelope.arg.channel))

    def classify(self, frame: Frame) -> str:
        try:
            msg = orjson.loads(frame)
        except orjson.JSONDecodeError:
            return "malformed"
        arg = msg.get("arg") if isinstance(msg, dict) else None
        channel = arg.get("channel") if isinstance(arg, dict) else None
        if not isinstance(channel, str):  # v3 (UTA) frames name a `topic` instead
            return "unknown_topic" if isinstance(arg, dict) and "topic" in arg else "malformed"
        return "malformed" if channel in DECODERS else channel_reason(channel)

    # ----------------------------------------------------------------------- handlers
    def _trades(self, msg: wire.TradeFrame, recv_ms: int) -> list[AnyRaw]:
        """Trades, newest first on the wire; `side` is the taker's."""
        vsym = msg.arg.instId
        head = self._heads.get(vsym) or self._head(vsym)
        trades = []
        for t in msg.data:
            if type(t.tradeId) is not str or not t.tradeId:
                raise BadMessage(f"bad tradeId {t.tradeId!r}")
            trades.append(
                build.trade(head, ts_ms=t.ts, recv_ms=recv_ms, price=t.price, size=t.size,
                            side=t.side, trade_id=t.tradeId)
            )  # fmt: skip
        seen, symbol = self._trade_ids.seen, head["symbol"]  # ids claimed once all are valid
        out: list[AnyRaw] = [t for t in reversed(trades) if not seen(symbol, t.trade_id)]
        if len(out) < len(trades):
            self.stats.reject("duplicate", vsym)
        return out

    def _ticker(self, msg: wire.TickerFrame, recv_ms: int) -> list[AnyRaw]:
        vsym = msg.arg.instId
        head = self._heads.get(vsym) or self._head(vsym)
        interval = self._bitget.interval_of(head["symbol"])
        out: list[AnyRaw] = []
        for item in msg.data:
            if item.bidPr > item.askPr:
                raise Dropped("crossed_quote")
            out.extend(self._tickers.records(head, item, recv_ms, interval))
        return out

    def _candle(self, msg: wire.CandleFrame, recv_ms: int) -> list[AnyRaw]:
        vsym = msg.arg.instId
        head = self._heads.get(vsym) or self._head(vsym)
        snapshot = msg.action == "snapshot"
        return self._candles.records(head, msg.data, msg.ts, recv_ms, snapshot)
