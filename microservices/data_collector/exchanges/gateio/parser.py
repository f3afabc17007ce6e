"""Gate.io v4 WebSocket parser (spot and USDT futures) on the typed skeleton: trades,
book_ticker, candlesticks and (futures) tickers frames into `exchange.raw` records.

The envelope's `channel` picks the frame model (`wire.py`); acks, pongs and error events are
control frames. Futures sizes are contracts: trades, quotes and candles are converted to base
units with the contract's `quanto_multiplier` (the listing's contract size); open interest
stays in contracts (consumers multiply by the contract size). Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

import msgspec

from microservices.common.errors import BadMessage
from microservices.common.records import AnyRaw
from microservices.common.schema_fields import MAX_TS_MS, MIN_TS_MS
from microservices.data_collector.exchanges import _records as build
from microservices.data_collector.exchanges._records import Head
from microservices.data_collector.exchanges.base import Dropped, check_ohlc, text_trade_id
from microservices.data_collector.exchanges.dedupe import TradeDeduper
from microservices.data_collector.exchanges.gateio import wire
from microservices.data_collector.exchanges.typed import (
    Decode,
    Frame,
    Handler,
    TypedParser,
    decoder,
)

if TYPE_CHECKING:
    from microservices.data_collector.exchanges.gateio.exchange import GateSpot

# channels Gate serves that these venues do not parse: counted "ignored", not "unknown_topic"
KNOWN_CHANNELS: Final = frozenset(
    {"spot.tickers", "spot.order_book_update", "spot.order_book", "spot.obu",
     "futures.order_book_update", "futures.order_book", "futures.public_liquidates",
     "futures.contract_stats", "futures.liquidates"}
)  # fmt: skip
CONTROL_EVENTS: Final = frozenset({"subscribe", "unsubscribe"})
DECODERS: Final[dict[str, Decode]] = {ch: decoder(model) for ch, model in wire.FRAMES.items()}
decode_envelope: Final = decoder(wire.Envelope)


def control_reason(envelope: wire.Envelope) -> str:
    """Why a frame that is not an "update" carries no data: a refused request
    ("subscribe_failed"), an ack, a pong or a channel we do not parse ("ignored"), anything
    else "unknown_event"."""
    if envelope.error is not None:
        return "subscribe_failed"
    channel = envelope.channel
    if envelope.event in CONTROL_EVENTS or channel.endswith(".pong") or channel in KNOWN_CHANNELS:
        return "ignored"
    return "unknown_event"


def frame_ms(time_ms: int | msgspec.UnsetType, time_s: int) -> int:
    """The push time of a frame: `time_ms`, else `time` (seconds) in ms."""
    return time_ms if isinstance(time_ms, int) else time_s * 1000


class GateParser(TypedParser):
    """Parser of one Gate.io connection (spot or futures, by the exchange's `channels`)."""

    def __init__(self, exchange: GateSpot) -> None:
        self._decoders = {c: DECODERS[c] for c in exchange.parsed_channels}
        self._futures = exchange.futures
        self._contract_size = exchange.contract_size
        super().__init__(exchange)
        self._sizes: dict[str, float] = {}  # venue symbol -> base units per size unit
        self._trade_ids = TradeDeduper()

    def decoder(self) -> Decode:
        return self._decode_frame

    def handlers(self) -> Mapping[type[msgspec.Struct], Handler]:
        return {
            wire.SpotTradeFrame: self._spot_trade,
            wire.BookTickerFrame: self._book_ticker,
            wire.SpotCandleFrame: self._spot_candle,
            wire.FuturesTradeFrame: self._futures_trades,
            wire.FuturesCandleFrame: self._futures_candles,
            wire.FuturesTickerFrame: self._futures_tickers,
        }

    def _decode_frame(self, frame: Frame) -> Any:
        envelope = decode_envelope(frame)
        if envelope.event != "update":
            raise Dropped(control_reason(envelope))
        decode = self._decoders.get(envelope.channel)
        if decode is None:
            raise Dropped(self._channel_reason(envelope.channel))
        return decode(frame)

    def _channel_reason(self, channel: str) -> str:
        known = channel in KNOWN_CHANNELS or channel in DECODERS
        return "ignored" if known else "unknown_topic"

    def _scale(self, vsym: str) -> float:
        """Base units per wire size unit of `vsym`: 1 on spot, the contract size on futures."""
        scale = self._sizes.get(vsym)
        if scale is None:
            scale = self._sizes[vsym] = self._contract_size(vsym)
        return scale

    # ----------------------------------------------------------------------- handlers
    def _trade(self, head: Head, ts_ms: int, recv_ms: int, price: float, size: float,
               taker_buy: bool, trade_id: Any) -> list[AnyRaw]:  # fmt: skip
        tid = text_trade_id(trade_id)
        if self._trade_ids.seen(head["symbol"], tid):
            raise Dropped("duplicate")
        return [
            build.trade(head, ts_ms=ts_ms, recv_ms=recv_ms, price=price, size=size,
                        side="buy" if taker_buy else "sell", trade_id=tid)
        ]  # fmt: skip

    def _spot_trade(self, msg: wire.SpotTradeFrame, recv_ms: int) -> list[AnyRaw]:
        t = msg.result
        head = self._heads.get(t.currency_pair) or self._head(t.currency_pair)
        ms = t.create_time_ms
        ts_ms = int(ms) if isinstance(ms, float) else t.create_time * 1000
        return self._trade(head, ts_ms, recv_ms, t.price, t.amount, t.side == "buy", t.id)

    def _futures_trades(self, msg: wire.FuturesTradeFrame, recv_ms: int) -> list[AnyRaw]:
        trades = []
        for t in msg.result:
            head = self._heads.get(t.contract) or self._head(t.contract)
            if t.size == 0:
                raise BadMessage("futures trade of size 0")
            ms = t.create_time_ms
            ts_ms = ms if isinstance(ms, int) else t.create_time * 1000
            size = abs(t.size) * self._scale(t.contract)
            trades.append(
                build.trade(head, ts_ms=ts_ms, recv_ms=recv_ms, price=t.price, size=size,
                            side="buy" if t.size > 0 else "sell", trade_id=text_trade_id(t.id))
            )  # fmt: skip
        seen = self._trade_ids.seen  # ids claimed once every trade of the frame is valid
        out: list[AnyRaw] = [t for t in trades if not seen(t.symbol, t.trade_id)]
        if len(out) < len(trades):
            if not out:
                raise Dropped("duplicate")
            self.stats.reject("duplicate", "futures.trades")
        return out

    def _book_ticker(self, msg: wire.BookTickerFrame, recv_ms: int) -> list[AnyRaw]:
        q = msg.result
        head = self._heads.get(q.s) or self._head(q.s)
        if q.b == "" or q.a == "":
            raise Dropped("empty_book")  # its `t` is 0
        if not MIN_TS_MS <= q.t <= MAX_TS_MS:
            raise BadMessage(f"bad book time {q.t!r}")
        if q.b > q.a:
            raise Dropped("crossed_quote")
        scale = self._scale(q.s) if self._futures else 1.0
        return [
            build.ticker(head, ts_ms=q.t, recv_ms=recv_ms, bid=q.b, bid_size=q.B * scale,
                         ask=q.a, ask_size=q.A * scale)
        ]  # fmt: skip

    def _candle(self, c: wire.Candle, ts_ms: int, recv_ms: int) -> AnyRaw:
        """A 1m candle; other intervals are "ignored". Volume in base units: `a` where sent,
        else futures contracts x contract size, else (spot before `a`) quote volume / close."""
        interval, _, vsym = c.n.partition("_")
        if interval != "1m":
            raise Dropped("ignored")
        head = self._heads.get(vsym) or self._head(vsym)
        check_ohlc(c.o, c.h, c.low, c.c)
        closed = c.w
        if closed is not msgspec.UNSET and type(closed) is not bool:
            raise BadMessage(f"bad window flag {closed!r}")
        if isinstance(c.a, float):
            volume = c.a
        else:
            volume = c.v * self._scale(vsym) if self._futures else c.v / c.c
        return build.kline(head, ts_ms=ts_ms, recv_ms=recv_ms, open_time_ms=c.t * 1000,
                           interval="1m", open=c.o, high=c.h, low=c.low, close=c.c,
                           volume=volume, closed=closed is True)  # fmt: skip

    def _spot_candle(self, msg: wire.SpotCandleFrame, recv_ms: int) -> list[AnyRaw]:
        return [self._candle(msg.result, frame_ms(msg.time_ms, msg.time), recv_ms)]

    def _futures_candles(self, msg: wire.FuturesCandleFrame, recv_ms: int) -> list[AnyRaw]:
        ts_ms = frame_ms(msg.time_ms, msg.time)
        return [self._candle(c, ts_ms, recv_ms) for c in msg.result]

    def _futures_tickers(self, msg: wire.FuturesTickerFrame, recv_ms: int) -> list[AnyRaw]:
        """Funding (rate per interval, mark and index price) and open interest (contracts)."""
        ts_ms = frame_ms(msg.time_ms, msg.time)
        rows = msg.result if isinstance(msg.result, list) else [msg.result]
        out: list[AnyRaw] = []
        interval_of = self.exchange.funding_interval_h
        for row in rows:
            head = self._heads.get(row.contract) or self._head(row.contract)
            index = row.index_price if isinstance(row.index_price, float) else None
            out.append(
                build.funding(head, ts_ms=ts_ms, recv_ms=recv_ms, funding_rate=row.funding_rate,
                              funding_interval_h=interval_of(head["symbol"]),
                              mark_price=row.mark_price, index_price=index)
            )  # fmt: skip
            out.append(build.open_interest(head, ts_ms=ts_ms, recv_ms=recv_ms,
                                           open_interest=row.total_size))  # fmt: skip
        return out
