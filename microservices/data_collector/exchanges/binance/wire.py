"""Binance WebSocket wire model, spot and USDⓈ-M: the payloads the collector reads, as typed
msgspec Structs tagged by the event type `e`, and the decoders of combined-stream frames
(`{"stream", "data"}`) and raw payloads.

Only the fields a handler reads are declared; others are skipped. Prices and sizes are JSON
strings on the wire (numbers are accepted too); flags and ids are checked by the handlers
(exact JSON bool / integer). Pure: no I/O, no clock.
"""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal

import msgspec
from msgspec import UNSET, UnsetType

from microservices.common.schema_fields import MAX_TS_MS
from microservices.data_collector.exchanges.typed import (
    Decode,
    EpochMs,
    Frame,
    Price,
    Rate,
    Size,
    Wire,
    decoder,
)

# Binance kline intervals; anything else in `k.i` is rejected
Interval = Literal[
    "1s", "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w",
    "1M",
]  # fmt: skip
# markPrice `T`: next funding time, 0 when none is scheduled (checked by the handler)
NextMs = Annotated[int, msgspec.Meta(ge=0, le=MAX_TS_MS)]


class AggTrade(Wire, tag_field="e", tag="aggTrade"):
    s: str  # symbol
    p: Price
    q: Size
    T: EpochMs  # trade time
    m: Any  # buyer is the maker (JSON bool): m=true means the taker sold
    a: Any  # aggregate trade id (JSON integer >= 0)


class TradeEvent(Wire, tag_field="e", tag="trade"):
    s: str
    p: Price
    q: Size
    T: EpochMs
    m: Any
    t: Any  # trade id, a sequence of its own (not aggTrade's `a`)
    X: Any = None  # USDⓈ-M: MARKET, or INSURANCE_FUND / ADL fills (not market trades)


class BookTicker(Wire, tag_field="e", tag="bookTicker"):
    s: str
    b: Price  # best bid
    B: Size
    a: Price  # best ask
    A: Size
    E: EpochMs | UnsetType = UNSET  # event time (USDⓈ-M; spot has none)


class UntypedBookTicker(Wire):
    """Spot bookTicker payloads carry no `e` (nor an event time)."""

    s: str
    b: Price
    B: Size
    a: Price
    A: Size
    u: Any  # order book update id: its presence marks the payload
    E: EpochMs | UnsetType = UNSET
    e: None = None  # absent (or null): any event type is another payload


class Bar(Wire):
    t: EpochMs  # open time
    i: Interval
    o: Price
    h: Price
    low: Price = msgspec.field(name="l")
    c: Price
    v: Size  # base volume
    x: Any  # closed (JSON bool)


class KlineEvent(Wire, tag_field="e", tag="kline"):
    s: str
    E: EpochMs
    k: Bar


class MarkPrice(Wire, tag_field="e", tag="markPriceUpdate"):
    s: str
    p: Price  # mark price
    r: Rate | Literal[""]  # funding rate; "" for delivery contracts
    T: NextMs
    E: EpochMs
    i: Price | Literal[""] | None = None  # index price; absent in 2019 payloads


class Order(Wire):
    s: str
    S: Literal["BUY", "SELL"]  # side of the forced order: SELL = a long was liquidated
    p: Price  # order price
    q: Size  # order quantity
    T: EpochMs  # trade time
    ap: Size = 0.0  # average fill price, 0 until filled
    z: Size = 0.0  # filled quantity


class ForceOrder(Wire, tag_field="e", tag="forceOrder"):
    o: Order


SpotPayload = AggTrade | TradeEvent | BookTicker | KlineEvent
FuturesPayload = AggTrade | TradeEvent | BookTicker | KlineEvent | MarkPrice | ForceOrder


class SpotFrame(Wire):
    data: SpotPayload


class FuturesFrame(Wire):
    data: FuturesPayload


class UntypedBookFrame(Wire):
    data: UntypedBookTicker


def _payload_decoder(wrapped: Decode, others: tuple[Decode, ...]) -> Decode:
    """Decode a combined-stream frame (the usual case) or else, in turn, an untyped
    bookTicker frame, a raw payload or a raw untyped bookTicker; msgspec.DecodeError when
    none fits."""
    decode_book_frame = decoder(UntypedBookFrame)

    def decode(frame: Frame) -> Any:
        try:
            return wrapped(frame).data
        except msgspec.DecodeError:
            pass
        try:
            return decode_book_frame(frame).data
        except msgspec.DecodeError:
            pass
        for other in others[:-1]:
            try:
                return other(frame)
            except msgspec.DecodeError:
                continue
        return others[-1](frame)

    return decode


_BOOK: Final = decoder(UntypedBookTicker)
decode_spot: Final = _payload_decoder(decoder(SpotFrame), (decoder(SpotPayload), _BOOK))
decode_futures: Final = _payload_decoder(decoder(FuturesFrame), (decoder(FuturesPayload), _BOOK))
