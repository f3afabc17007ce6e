"""Fast path of the Binance WS parser: combined-stream aggTrade, bookTicker and kline frames
decoded by msgspec into typed Structs, for the frames that are plainly valid.

The fast path never rejects anything itself. It returns None for every frame it is not sure
about (a decode or type error, an unknown field, an unknown or not yet cached symbol, any value
out of range, zero sizes, a duplicate trade id) and `BinanceParser.parse` then runs the
reference parser (orjson + dict handlers), which emits or rejects exactly as before. When it
returns records they are the reference's records: tests/unit/exchanges/test_fast_path_equivalence.py
checks that on generated, mutated and real frames.

Where msgspec and orjson differ, and what keeps the results equal:
- unknown fields would be skipped by msgspec without checking their numbers (orjson rejects a
  frame with `1e400` anywhere): every field Binance documents is declared and
  `forbid_unknown_fields` sends anything else to the reference parser;
- integers beyond 64 bits are Python ints in msgspec, floats in orjson (and an error beyond
  ~1e308): ids must be `0 <= id < 2**64`, timestamps in range, prices and sizes below 2**63,
  and the fields the parser ignores are typed with 64-bit bounds rather than `Any`;
- `strict=False` turns numeric strings into floats with a subset of Python's `float()`
  syntax (no spaces, `_`, leading `+` or `.`; `nan`/`inf` fail the range checks); it maps "-0"
  to 0.0 where `float()` gives -0.0, so zero sizes and volumes take the reference path;
- it would also turn "1" or 1 into True for a bool field and "17" into 17 for an int field:
  flags, ids and timestamps are declared `Any` and must be a JSON bool / int exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, ClassVar, Final

import msgspec

from microservices.common.records import AnyRaw, Funding, Kline, Market, Ticker, Trade
from microservices.common.schema_fields import MAX_TS_MS, MIN_TS_MS  # epoch_ms() bounds
from microservices.data_collector.exchanges._records import (
    funding_init,
    kline_init,
    new_record,
    ticker_init,
    trade_init,
)
from microservices.data_collector.exchanges.base import Exchange, ParseStats, TradeDeduper, price

FAST_MAX: Final = 2.0**63  # prices and sizes at or above this take the reference path
U64_MAX: Final = 2**64 - 1  # orjson decodes larger integers as floats
# Binance kline intervals; anything else in `k.i` is rejected (by the reference parser)
KLINE_INTERVALS: Final = frozenset(
    {"1s", "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w",
     "1M"}
)  # fmt: skip


# Fields the parser does not read are typed, not `Any`: msgspec reads any integer into `Any`,
# where orjson rejects the frame when an integer does not fit a double (321 digits).
Int64 = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]
# a followed symbol's (canonical name, venue spelling, group, quote), cached per venue symbol
Known = tuple[str, str, str, str]


class _Struct(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    pass


class AggTrade(_Struct, tag_field="e", tag="aggTrade"):
    s: str
    p: float
    q: float
    T: Any
    m: Any
    a: Any
    E: Int64 = 0
    f: Int64 = 0
    last_id: Int64 = msgspec.field(default=0, name="l")
    M: bool = False  # spot only
    nq: str = ""  # futures, since 2025


class BookTicker(_Struct, tag_field="e", tag="bookTicker"):
    s: str
    b: float
    B: float
    a: float
    A: float
    E: Any
    u: Int64 = 0
    T: Int64 = 0


class SpotBookTicker(_Struct):
    """Spot bookTicker payloads carry no `e` (nor an event time)."""

    s: str
    b: float
    B: float
    a: float
    A: float
    u: Int64


class MarkPrice(_Struct, tag_field="e", tag="markPriceUpdate"):
    s: str
    p: float
    r: float
    T: Any
    E: Any
    i: Any = None  # not `float | None`: strict=False would read the string "null" as None
    P: str = ""


class Bar(_Struct):
    t: Any
    i: Any
    o: float
    h: float
    low: float = msgspec.field(name="l")
    c: float
    v: float
    x: Any
    T: Int64 = 0
    s: str = ""
    f: Int64 = 0
    L: Int64 = 0
    n: Int64 = 0
    q: str = ""
    V: str = ""
    Q: str = ""
    B: str = ""


class KlineEvent(_Struct, tag_field="e", tag="kline"):
    s: str
    E: Any
    k: Bar


class SpotFrame(_Struct):
    data: AggTrade | BookTicker | KlineEvent
    stream: str = ""


class SpotBookFrame(_Struct):
    data: SpotBookTicker
    stream: str = ""


class FuturesFrame(_Struct):
    data: AggTrade | BookTicker | KlineEvent | MarkPrice
    stream: str = ""


Decode = Callable[[str | bytes], SpotFrame | SpotBookFrame | FuturesFrame]
SPOT_DECODERS: Final[tuple[Decode, ...]] = (
    msgspec.json.Decoder(SpotFrame, strict=False).decode,
    msgspec.json.Decoder(SpotBookFrame, strict=False).decode,  # tried second
)
FUTURES_DECODERS: Final[tuple[Decode, ...]] = (
    msgspec.json.Decoder(FuturesFrame, strict=False).decode,
)


def _epoch(value: Any) -> bool:
    return type(value) is int and MIN_TS_MS <= value <= MAX_TS_MS


class BinanceFastPath:
    """Mixed into BinanceParser, which provides the state below."""

    fast_decoders: ClassVar[tuple[Decode, ...]] = SPOT_DECODERS
    _venue: str
    _market: Market
    _known: dict[str, Known]
    _agg_ids: TradeDeduper
    stats: ParseStats
    exchange: Exchange

    def _fast(self, frame: str | bytes, recv_ms: int) -> list[AnyRaw] | None:
        """The frame's records, or None to let the reference parser decide."""
        try:
            data = self.fast_decoders[0](frame).data
        except Exception:  # any decode, type or encoding error
            data = self._fast_decode_again(frame)
            if data is None:
                return None
        known = self._known.get(data.s)
        if known is None:
            return None
        record = FAST_HANDLERS[type(data)](self, data, known, recv_ms)
        if record is None:
            return None
        emitted = self.stats.emitted
        emitted[record.type] = emitted.get(record.type, 0) + 1
        return [record]

    def _fast_decode_again(self, frame: str | bytes) -> Any:
        """The payload by the other decoders (spot bookTicker), or None."""
        for decode in self.fast_decoders[1:]:
            try:
                return decode(frame).data
            except Exception:
                continue
        return None

    def _fast_agg_trade(self, d: AggTrade, known: Known, recv_ms: int) -> Trade | None:
        px, size, ts, tid, maker = d.p, d.q, d.T, d.a, d.m
        if not (
            0.0 < px < FAST_MAX
            and 0.0 < size < FAST_MAX
            and _epoch(ts)
            and type(tid) is int
            and 0 <= tid <= U64_MAX
            and (maker is True or maker is False)
        ):
            return None
        symbol, vsym, group, quote = known
        trade_id = str(tid)
        record = new_record(Trade)
        trade_init(record, exchange=self._venue, market=self._market, symbol=symbol,
                    venue_symbol=vsym, group=group, quote=quote, ts_ms=ts, recv_ms=recv_ms,
                    price=px, size=size, side="sell" if maker else "buy",
                    trade_id=trade_id)  # fmt: skip
        if self._agg_ids.seen(symbol, trade_id):
            return None  # the reference path counts the duplicate
        return record

    def _fast_book_ticker(
        self, d: BookTicker | SpotBookTicker, known: Known, recv_ms: int
    ) -> Ticker | None:
        bid, bid_size, ask, ask_size = d.b, d.B, d.a, d.A
        ts = d.E if type(d) is BookTicker else recv_ms  # spot bookTicker: no event time
        if not (
            0.0 < bid <= ask < FAST_MAX
            and 0.0 < bid_size < FAST_MAX
            and 0.0 < ask_size < FAST_MAX
            and _epoch(ts)
        ):
            return None
        record = new_record(Ticker)
        ticker_init(record, exchange=self._venue, market=self._market, symbol=known[0],
                     venue_symbol=known[1], group=known[2], quote=known[3], ts_ms=ts,
                     recv_ms=recv_ms, bid=bid, bid_size=bid_size, ask=ask,
                     ask_size=ask_size)  # fmt: skip
        return record

    def _fast_kline(self, d: KlineEvent, known: Known, recv_ms: int) -> Kline | None:
        bar, ts = d.k, d.E
        o, h, low, c, volume = bar.o, bar.h, bar.low, bar.c, bar.v
        interval, closed, open_ms = bar.i, bar.x, bar.t
        if not (
            0.0 < low <= o <= h < FAST_MAX
            and low <= c <= h
            and 0.0 < volume < FAST_MAX
            and type(interval) is str
            and interval in KLINE_INTERVALS
            and (closed is True or closed is False)
            and _epoch(ts)
            and _epoch(open_ms)
        ):
            return None
        record = new_record(Kline)
        kline_init(record, exchange=self._venue, market=self._market, symbol=known[0],
                    venue_symbol=known[1], group=known[2], quote=known[3],
                    ts_ms=ts, recv_ms=recv_ms, open_time_ms=open_ms,
                    interval=interval, open=o, high=h, low=low, close=c, volume=volume,
                    closed=closed)  # fmt: skip
        return record

    def _fast_mark_price(self, d: MarkPrice, known: Known, recv_ms: int) -> Funding | None:
        mark, funding_rate, next_ms, index = d.p, d.r, d.T, d.i
        if not (
            0.0 < mark < FAST_MAX
            and -1.0 < funding_rate < 1.0
            and funding_rate != 0.0  # "-0" decodes as 0.0, float("-0") is -0.0
            and _epoch(d.E)
            and (_epoch(next_ms) or (type(next_ms) is int and next_ms == 0))
        ):
            return None
        if index is not None and index != "":
            try:
                index = price(index)  # reference semantics: a JSON string or number
            except Exception:
                return None
            if not index < FAST_MAX:
                return None
        else:
            index = None
        record = new_record(Funding)
        funding_init(record, exchange=self._venue, market=self._market, symbol=known[0],
                      venue_symbol=known[1], group=known[2], quote=known[3], ts_ms=d.E,
                      recv_ms=recv_ms,
                      funding_rate=funding_rate,
                      funding_interval_h=self.exchange.funding_interval_h(known[0]),
                      next_funding_time_ms=next_ms or None, mark_price=mark,
                      index_price=index)  # fmt: skip
        return record


Handler = Callable[[BinanceFastPath, Any, Known, int], AnyRaw | None]
FAST_HANDLERS: Final[dict[type, Handler]] = {
    AggTrade: BinanceFastPath._fast_agg_trade,
    BookTicker: BinanceFastPath._fast_book_ticker,
    SpotBookTicker: BinanceFastPath._fast_book_ticker,
    KlineEvent: BinanceFastPath._fast_kline,
    MarkPrice: BinanceFastPath._fast_mark_price,
}
