"""`exchange.raw` records as JSON lines, the text `orjson.dumps(encode_raw(record))` gives.

`normalize` writes one line per record. For the hot types (trade, ticker, kline) a line is
one f-string: the header fields (exchange .. quote) are JSON-encoded by orjson once per
instrument and cached; numbers are `repr` of the float (what `raw_wire.num` gives a float),
kept per value in a bounded cache (market data repeats its prices and sizes: 60-78% of the
values in the Binance spot and Coinbase captures of ../shared/fixtures, ~100% in the
benchmark's frames, built from a few templates); times are the epoch-ms digits with a '.'
before the last three (what `raw_wire.seconds` gives from 1000 on): the seconds' text from a
bounded cache (a stream's times share their second with hundreds of others) and the three
digits from a table, two look-ups whether or not a time repeats. Neither ever holds a
character JSON escapes; the free-text body fields (side, trade id, interval) go in as they
are when alphanumeric (nothing to escape). A record outside those cases (a value not a
float, a time below 1000, a side with a quote in it) takes the reference path,
`orjson_line`, as other types always do. Tests compare both paths record by record."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import orjson

from microservices.common.raw_wire import FAST_ENCODERS, num
from microservices.common.records import Kline, RawRecord, Ticker, Trade

LineEncoder = Callable[[Any], str]  # a RawRecord of the type it is for
HEAD_CACHE_MAX: Final = 4096  # distinct instrument headers kept (cleared when full)
FLOAT_CACHE_MAX: Final = 4096  # float -> repr text kept (cleared when full)
SECOND_CACHE_MAX: Final = 4096  # epoch seconds -> text kept (cleared when full)
MIN_MS: Final = 1000  # epoch ms from here on are "<digits>.<3 digits>" by slicing (`seconds`)
F: Final = float


def orjson_line(record: RawRecord) -> str:
    """The reference: the record's exchange.raw fields as one JSON line (with its newline)."""
    from microservices.common.schemas import encode_raw  # the schema machinery: slow path only

    encode = FAST_ENCODERS.get(record.type, encode_raw)
    return orjson.dumps(encode(record), option=orjson.OPT_APPEND_NEWLINE).decode()


HeadKey = tuple[str, str, str, str, str, str]  # exchange, market, symbol, venue_symbol, ...


class HeadTexts(dict[HeadKey, str]):
    """Header fields -> their JSON text (orjson's, without the braces); a miss computes and
    keeps it (HEAD_CACHE_MAX at most, cleared when full)."""

    def __missing__(self, key: HeadKey) -> str:
        if len(self) >= HEAD_CACHE_MAX:
            self.clear()
        fields = dict(zip(("exchange", "market", "symbol", "venue_symbol", "group", "quote"),
                          key, strict=True))  # fmt: skip
        text = self[key] = orjson.dumps(fields).decode()[1:-1]
        return text


class FloatTexts(dict[float, str]):
    """A float -> its repr; a miss computes it and keeps it unless the float is zero (0.0 ==
    -0.0, one key, but their reprs differ; NaN is kept but never found: it equals nothing)."""

    def __missing__(self, value: float) -> str:
        text = repr(value)
        if value:
            if len(self) >= FLOAT_CACHE_MAX:
                self.clear()
            self[value] = text
        return text


class SecondTexts(dict[int, str]):
    """Epoch seconds -> "<seconds>." (a time's text up to its milliseconds, `MILLIS` the
    rest); a miss computes and keeps it. Times in a stream share their second with hundreds of
    others, whether or not their milliseconds repeat."""

    def __missing__(self, seconds: int) -> str:
        if len(self) >= SECOND_CACHE_MAX:
            self.clear()
        text = self[seconds] = f"{seconds}."
        return text


MILLIS: Final = tuple(f"{ms:03d}" for ms in range(1000))  # the three digits after the '.'


class Lines:
    """One output stream's JSON lines of the hot types, built from their fields and the
    header's text (`HeadTexts`), with the caches they share; None for a value an f-string
    cannot take (a value not a float, a time below MIN_MS, text that JSON would escape): the
    caller then takes the reference path. Record encoders (`line_encoders`) and the
    normalize line builder (`exchanges/_lines.py`) both write through one `Lines`."""

    __slots__ = ("heads", "nums", "seconds")

    def __init__(self) -> None:
        self.heads = HeadTexts()
        self.nums = FloatTexts()
        self.seconds = SecondTexts()

    def trade(
        self, head: str, ts: int, rc: int, p: float, sz: float, sd: str, ti: str
    ) -> str | None:
        if ts < MIN_MS or rc < MIN_MS or type(p) is not F or type(sz) is not F:
            return None
        if not (sd.isalnum() and ti.isalnum()):
            return None
        n, s, m = self.nums, self.seconds, MILLIS
        return (
            f'{{"type":"trade",{head},"timestamp":"{s[ts // 1000]}{m[ts % 1000]}",'
            f'"received_at":"{s[rc // 1000]}{m[rc % 1000]}",'
            f'"price":"{n[p]}","size":"{n[sz]}","side":"{sd}","trade_id":"{ti}"}}\n'
        )

    def ticker(
        self, head: str, ts: int, rc: int, bid: float, bsz: float, ask: float, asz: float,
        last: float | None,
    ) -> str | None:  # fmt: skip
        if ts < MIN_MS or rc < MIN_MS or type(bid) is not F or type(bsz) is not F:
            return None
        if type(ask) is not F or type(asz) is not F:
            return None
        n, s, m = self.nums, self.seconds, MILLIS
        tail = "" if last is None else f',"last":"{num(last)}"'
        return (
            f'{{"type":"ticker",{head},"timestamp":"{s[ts // 1000]}{m[ts % 1000]}",'
            f'"received_at":"{s[rc // 1000]}{m[rc % 1000]}",'
            f'"bid":"{n[bid]}","bid_size":"{n[bsz]}","ask":"{n[ask]}",'
            f'"ask_size":"{n[asz]}"{tail}}}\n'
        )

    def kline(
        self, head: str, ts: int, rc: int, ot: int, iv: str, o: float, h: float, lo: float,
        cl: float, v: float, closed: bool,
    ) -> str | None:  # fmt: skip
        if ts < MIN_MS or rc < MIN_MS or ot < MIN_MS or not iv.isalnum():
            return None
        if not (type(o) is type(h) is type(lo) is type(cl) is type(v) is F):
            return None
        n, s, m = self.nums, self.seconds, MILLIS
        return (
            f'{{"type":"kline",{head},"timestamp":"{s[ts // 1000]}{m[ts % 1000]}",'
            f'"received_at":"{s[rc // 1000]}{m[rc % 1000]}",'
            f'"open_time":"{s[ot // 1000]}{m[ot % 1000]}","interval":"{iv}","open":"{n[o]}",'
            f'"high":"{n[h]}",'
            f'"low":"{n[lo]}","close":"{n[cl]}","volume":"{n[v]}",'
            f'"closed":"{"true" if closed else "false"}"}}\n'
        )


def line_encoders(lines: Lines | None = None) -> dict[str, LineEncoder]:
    """record type -> JSON line function, for the hot types, through one `Lines` (one per
    output stream); other types: `orjson_line`."""
    out = Lines() if lines is None else lines
    heads, trade_text, ticker_text, kline_text = out.heads, out.trade, out.ticker, out.kline

    def trade(r: Trade) -> str:
        head = heads[r.exchange, r.market, r.symbol, r.venue_symbol, r.group, r.quote]
        line = trade_text(head, r.ts_ms, r.recv_ms, r.price, r.size, r.side, r.trade_id)
        return line or orjson_line(r)

    def ticker(r: Ticker) -> str:
        head = heads[r.exchange, r.market, r.symbol, r.venue_symbol, r.group, r.quote]
        line = ticker_text(head, r.ts_ms, r.recv_ms, r.bid, r.bid_size, r.ask, r.ask_size,
                           r.last)  # fmt: skip
        return line or orjson_line(r)

    def kline(r: Kline) -> str:
        head = heads[r.exchange, r.market, r.symbol, r.venue_symbol, r.group, r.quote]
        line = kline_text(head, r.ts_ms, r.recv_ms, r.open_time_ms, r.interval, r.open,
                          r.high, r.low, r.close, r.volume, r.closed)  # fmt: skip
        return line or orjson_line(r)

    return {"trade": trade, "ticker": ticker, "kline": kline}
