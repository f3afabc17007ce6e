"""`exchange.raw` records as JSON lines, the text `orjson.dumps(encode_raw(record))` gives.

`normalize` writes one line per record. For the hot types (trade, ticker, kline) a line is
one f-string: the header fields (exchange .. quote) are JSON-encoded by orjson once per
instrument and cached; numbers are `repr` of the float (what `raw_wire.num` gives a float),
kept per value in a bounded cache (market data repeats its prices and sizes: 60-78% of the
values in the Binance spot and Coinbase captures of ../shared/fixtures, ~100% in the
benchmark's frames, built from a few templates); times are the epoch-ms digits with a '.'
before the last three (what `raw_wire.seconds` gives from 1000 on), kept per value in a
bounded cache too (a frame's records share their receive time, a burst its event time: 53-61%
of the time fields in those captures, ~100% in the benchmark's). Neither ever holds a
character JSON escapes; the free-text body fields (side, trade id, interval) go in as they
are when alphanumeric (nothing to escape). A record outside those cases (a value not a
float, a time below 1000, a side with a quote in it) takes the reference path,
`orjson_line`, as other types always do. Tests compare both paths record by record."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, NamedTuple

import orjson

from microservices.common.raw_wire import FAST_ENCODERS, num
from microservices.common.records import Kline, RawRecord, Ticker, Trade

LineEncoder = Callable[[Any], str]  # a RawRecord of the type it is for
HEAD_CACHE_MAX: Final = 4096  # distinct instrument headers kept (cleared when full)
FLOAT_CACHE_MAX: Final = 4096  # float -> repr text kept (cleared when full)
TIME_CACHE_MAX: Final = 4096  # epoch ms -> text kept (cleared when full)
MIN_MS: Final = 1000  # epoch ms from here on are "<digits>.<3 digits>" by slicing (`seconds`)
F: Final = float


def orjson_line(record: RawRecord) -> str:
    """The reference: the record's exchange.raw fields as one JSON line (with its newline)."""
    from microservices.common.schemas import encode_raw  # the schema machinery: slow path only

    encode = FAST_ENCODERS.get(record.type, encode_raw)
    return orjson.dumps(encode(record), option=orjson.OPT_APPEND_NEWLINE).decode()


Head = Callable[[RawRecord], str]
Text = Callable[[float], str | None]
MsText = Callable[[int], str | None]


class Caches(NamedTuple):
    """One output stream's caches: header text of a record; a float's kept repr (or None) and
    the repr of a float, kept; an epoch-ms time's kept text (or None) and its text, kept."""

    head: Head
    num: Text
    num_kept: Callable[[float], str]
    time: MsText
    time_kept: Callable[[int], str]


def line_encoders() -> dict[str, LineEncoder]:
    """record type -> JSON line function, for the hot types, sharing one set of caches (one
    set per output stream); other types: `orjson_line`."""
    caches = _caches()
    return {"trade": _trade(caches), "ticker": _ticker(caches), "kline": _kline(caches)}


def _caches() -> Caches:
    heads: dict[tuple[str, str, str, str, str, str], str] = {}
    texts: dict[float, str] = {}  # nonzero floats only: 0.0 == -0.0 but their reprs differ
    times: dict[int, str] = {}

    def head(r: RawRecord) -> str:
        key = (r.exchange, r.market, r.symbol, r.venue_symbol, r.group, r.quote)
        text = heads.get(key)
        if text is None:
            if len(heads) >= HEAD_CACHE_MAX:
                heads.clear()
            fields = dict(zip(("exchange", "market", "symbol", "venue_symbol", "group",
                               "quote"), key, strict=True))  # fmt: skip
            text = heads[key] = orjson.dumps(fields).decode()[1:-1]
        return text

    def rr(value: float) -> str:
        """repr of a float not in `texts` (NaN never is: it equals nothing), kept there."""
        text = repr(value)
        if value:
            if len(texts) >= FLOAT_CACHE_MAX:
                texts.clear()
            texts[value] = text
        return text

    def tt(ms: int) -> str:
        """Text of an epoch-ms time from MIN_MS on, not in `times`, kept there."""
        digits = str(ms)
        if len(times) >= TIME_CACHE_MAX:
            times.clear()
        text = times[ms] = f"{digits[:-3]}.{digits[-3:]}"
        return text

    return Caches(head, texts.get, rr, times.get, tt)


def _trade(caches: Caches) -> LineEncoder:
    head, g, rr, tg, tt = caches

    def trade(r: Trade) -> str:
        ts, rc, p, sz, sd, ti = r.ts_ms, r.recv_ms, r.price, r.size, r.side, r.trade_id
        if ts < MIN_MS or rc < MIN_MS or type(p) is not F or type(sz) is not F:
            return orjson_line(r)
        if not (sd.isalnum() and ti.isalnum()):
            return orjson_line(r)
        return (
            f'{{"type":"trade",{head(r)},"timestamp":"{tg(ts) or tt(ts)}",'
            f'"received_at":"{tg(rc) or tt(rc)}","price":"{g(p) or rr(p)}",'
            f'"size":"{g(sz) or rr(sz)}","side":"{sd}","trade_id":"{ti}"}}\n'
        )

    return trade


def _ticker(caches: Caches) -> LineEncoder:
    head, g, rr, tg, tt = caches

    def ticker(r: Ticker) -> str:
        ts, rc, bid, bsz, ask, asz = r.ts_ms, r.recv_ms, r.bid, r.bid_size, r.ask, r.ask_size
        if ts < MIN_MS or rc < MIN_MS or type(bid) is not F or type(bsz) is not F:
            return orjson_line(r)
        if type(ask) is not F or type(asz) is not F:
            return orjson_line(r)
        last = "" if r.last is None else f',"last":"{num(r.last)}"'
        return (
            f'{{"type":"ticker",{head(r)},"timestamp":"{tg(ts) or tt(ts)}",'
            f'"received_at":"{tg(rc) or tt(rc)}","bid":"{g(bid) or rr(bid)}",'
            f'"bid_size":"{g(bsz) or rr(bsz)}","ask":"{g(ask) or rr(ask)}",'
            f'"ask_size":"{g(asz) or rr(asz)}"{last}}}\n'
        )

    return ticker


def _kline(caches: Caches) -> LineEncoder:
    head, g, rr, tg, tt = caches

    def kline(r: Kline) -> str:
        ts, rc, ot, iv = r.ts_ms, r.recv_ms, r.open_time_ms, r.interval
        if ts < MIN_MS or rc < MIN_MS or ot < MIN_MS or not iv.isalnum():
            return orjson_line(r)
        o, h, lo, cl, v = r.open, r.high, r.low, r.close, r.volume
        if not (type(o) is type(h) is type(lo) is type(cl) is type(v) is F):
            return orjson_line(r)
        return (
            f'{{"type":"kline",{head(r)},"timestamp":"{tg(ts) or tt(ts)}",'
            f'"received_at":"{tg(rc) or tt(rc)}","open_time":"{tg(ot) or tt(ot)}",'
            f'"interval":"{iv}","open":"{g(o) or rr(o)}","high":"{g(h) or rr(h)}",'
            f'"low":"{g(lo) or rr(lo)}","close":"{g(cl) or rr(cl)}",'
            f'"volume":"{g(v) or rr(v)}","closed":"{"true" if r.closed else "false"}"}}\n'
        )

    return kline
