"""`exchange.raw` records as JSON lines, the text `orjson.dumps(encode_raw(record))` gives.

`normalize` writes one line per record. For the hot types (trade, ticker, kline) a line is
one f-string: the header fields (exchange .. quote) are JSON-encoded by orjson once per
instrument and cached; numbers are `repr` of the float (what `raw_wire.num` gives a float)
and times the epoch-ms digits with a '.' before the last three (what `raw_wire.seconds`
gives from 1000 on), neither ever holding a character JSON escapes; the free-text body
fields (side, trade id, interval) go in as they are when alphanumeric (nothing to escape).
A record outside those cases (a value not a float, a time below 1000, a side with a quote
in it) takes the reference path, `orjson_line`, as other types always do. Tests compare
both paths record by record."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

import orjson

from microservices.common.raw_wire import FAST_ENCODERS, num
from microservices.common.records import Kline, RawRecord, Ticker, Trade

LineEncoder = Callable[[Any], str]  # a RawRecord of the type it is for
HEAD_CACHE_MAX: Final = 4096  # distinct instrument headers kept (cleared when full)
MIN_MS: Final = 1000  # epoch ms from here on are "<digits>.<3 digits>" by slicing (`seconds`)
F: Final = float


def orjson_line(record: RawRecord) -> str:
    """The reference: the record's exchange.raw fields as one JSON line (with its newline)."""
    from microservices.common.schemas import encode_raw  # the schema machinery: slow path only

    encode = FAST_ENCODERS.get(record.type, encode_raw)
    return orjson.dumps(encode(record), option=orjson.OPT_APPEND_NEWLINE).decode()


def line_encoders() -> dict[str, LineEncoder]:
    """record type -> JSON line function, for the hot types, sharing one header cache (one
    set per output stream); other types: `orjson_line`."""
    heads: dict[tuple[str, str, str, str, str, str], str] = {}

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

    def trade(r: Trade) -> str:
        ts, rc, p, sz, sd, ti = r.ts_ms, r.recv_ms, r.price, r.size, r.side, r.trade_id
        if ts < MIN_MS or rc < MIN_MS or type(p) is not F or type(sz) is not F:
            return orjson_line(r)
        if not (sd.isalnum() and ti.isalnum()):
            return orjson_line(r)
        t, c = str(ts), str(rc)
        return (
            f'{{"type":"trade",{head(r)},"timestamp":"{t[:-3]}.{t[-3:]}",'
            f'"received_at":"{c[:-3]}.{c[-3:]}","price":"{p!r}","size":"{sz!r}",'
            f'"side":"{sd}","trade_id":"{ti}"}}\n'
        )

    def ticker(r: Ticker) -> str:
        ts, rc, bid, bsz, ask, asz = r.ts_ms, r.recv_ms, r.bid, r.bid_size, r.ask, r.ask_size
        if ts < MIN_MS or rc < MIN_MS or type(bid) is not F or type(bsz) is not F:
            return orjson_line(r)
        if type(ask) is not F or type(asz) is not F:
            return orjson_line(r)
        t, c = str(ts), str(rc)
        last = "" if r.last is None else f',"last":"{num(r.last)}"'
        return (
            f'{{"type":"ticker",{head(r)},"timestamp":"{t[:-3]}.{t[-3:]}",'
            f'"received_at":"{c[:-3]}.{c[-3:]}","bid":"{bid!r}","bid_size":"{bsz!r}",'
            f'"ask":"{ask!r}","ask_size":"{asz!r}"{last}}}\n'
        )

    def kline(r: Kline) -> str:
        ts, rc, ot, iv = r.ts_ms, r.recv_ms, r.open_time_ms, r.interval
        if ts < MIN_MS or rc < MIN_MS or ot < MIN_MS or not iv.isalnum():
            return orjson_line(r)
        o, h, lo, cl, v = r.open, r.high, r.low, r.close, r.volume
        if not (type(o) is type(h) is type(lo) is type(cl) is type(v) is F):
            return orjson_line(r)
        t, c, b = str(ts), str(rc), str(ot)
        return (
            f'{{"type":"kline",{head(r)},"timestamp":"{t[:-3]}.{t[-3:]}",'
            f'"received_at":"{c[:-3]}.{c[-3:]}","open_time":"{b[:-3]}.{b[-3:]}",'
            f'"interval":"{iv}","open":"{o!r}","high":"{h!r}","low":"{lo!r}",'
            f'"close":"{cl!r}","volume":"{v!r}","closed":"{"true" if r.closed else "false"}"}}\n'
        )

    return {"trade": trade, "ticker": ticker, "kline": kline}


def encode_line(encoders: Mapping[str, LineEncoder], record: RawRecord) -> str:
    """One record's line through `line_encoders()` (the hot loop inlines this)."""
    return encoders.get(record.type, orjson_line)(record)
