"""Record builders that give JSON lines: what `normalize` swaps in for `_records`.

A typed parser's handlers build their records through `self.build` (`TypedParser`): the
`_records` module, whose functions make RawRecords from a frame's record header and fields.
`LineBuilder` has the same functions, but each returns a `Line`: the record's type and its
exchange.raw JSON line, the text `raw_json.orjson_line` gives the record. The hot types
(trade, ticker, kline) go straight from their fields to an f-string (`raw_json.Lines`),
with no record built and none encoded: ~20% of `normalize`'s CPU per frame. The header's
text is kept per header object (a parser keeps one per instrument, and the builder holds it,
so its id stays its own). A value the f-string cannot take, and every other type, build the
record and take the reference path. The handlers, their checks and their counts are the same
either way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import msgspec

from microservices.common.raw_json import Lines, orjson_line
from microservices.data_collector.exchanges import _records as build
from microservices.data_collector.exchanges._records import Head

HEAD_FIELDS: Final = ("exchange", "market", "symbol", "venue_symbol", "group", "quote")
HEADS_MAX: Final = 4096  # header objects whose text is kept (cleared when full)


class Line(msgspec.Struct, gc=False):
    """One record as its exchange.raw JSON line (with its newline); `type` as a record's."""

    type: str
    text: str


def _by_record(make: Callable[..., Any]) -> Callable[..., Line]:
    """A builder function through the record and its reference line."""

    def line(self: LineBuilder, head: Head, **fields: Any) -> Line:
        record = make(head, **fields)
        return Line(record.type, orjson_line(record))

    return line


class LineBuilder:
    """`_records`' functions, giving `Line`s (one builder per output stream)."""

    def __init__(self, lines: Lines | None = None) -> None:
        self.lines = Lines() if lines is None else lines
        self._heads: dict[int, tuple[Head, str]] = {}  # id(header) -> (header, its text)

    def _head(self, head: Head) -> str:
        kept = self._heads.get(id(head))
        if kept is None:
            if len(self._heads) >= HEADS_MAX:
                self._heads.clear()
            key: Any = tuple(head[name] for name in HEAD_FIELDS)
            kept = self._heads[id(head)] = (head, self.lines.heads[key])
        return kept[1]

    def trade(
        self, head: Head, *, ts_ms: int, recv_ms: int, price: float, size: float, side: Any,
        trade_id: str,
    ) -> Line:  # fmt: skip
        text = self.lines.trade(self._head(head), ts_ms, recv_ms, price, size, side, trade_id)
        if text is None:
            text = orjson_line(build.trade(head, ts_ms=ts_ms, recv_ms=recv_ms, price=price,
                                           size=size, side=side, trade_id=trade_id))  # fmt: skip
        return Line("trade", text)

    def ticker(
        self, head: Head, *, ts_ms: int, recv_ms: int, bid: float, bid_size: float, ask: float,
        ask_size: float, last: float | None = None,
    ) -> Line:  # fmt: skip
        text = self.lines.ticker(self._head(head), ts_ms, recv_ms, bid, bid_size, ask,
                                 ask_size, last)  # fmt: skip
        if text is None:
            text = orjson_line(build.ticker(head, ts_ms=ts_ms, recv_ms=recv_ms, bid=bid,
                                            bid_size=bid_size, ask=ask, ask_size=ask_size,
                                            last=last))  # fmt: skip
        return Line("ticker", text)

    def kline(
        self, head: Head, *, ts_ms: int, recv_ms: int, open_time_ms: int, interval: str,
        open: float, high: float, low: float, close: float, volume: float, closed: bool,
    ) -> Line:  # fmt: skip
        text = self.lines.kline(self._head(head), ts_ms, recv_ms, open_time_ms, interval, open,
                                high, low, close, volume, closed)  # fmt: skip
        if text is None:
            text = orjson_line(build.kline(head, ts_ms=ts_ms, recv_ms=recv_ms,
                                           open_time_ms=open_time_ms, interval=interval,
                                           open=open, high=high, low=low, close=close,
                                           volume=volume, closed=closed))  # fmt: skip
        return Line("kline", text)

    funding = _by_record(build.funding)
    open_interest = _by_record(build.open_interest)
    liquidation = _by_record(build.liquidation)
