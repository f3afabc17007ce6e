"""Per-connection state of Bitget's full-state pushes: which `ticker` fields changed (a push
repeats every field), and when a `candle1m` bar is closed (the wire has no closed flag).

Frames arrive decoded and validated (`wire.py`). Pure: no I/O, no clock (times are the
frames' own `ts`).
"""

from __future__ import annotations

from typing import Final

from microservices.common.errors import BadMessage
from microservices.common.records import AnyRaw
from microservices.common.schema_fields import MAX_TS_MS, MIN_TS_MS
from microservices.data_collector.exchanges import _records as build
from microservices.data_collector.exchanges._records import Head
from microservices.data_collector.exchanges.bitget.wire import CandleRow, TickerItem

# Funding that moved only with the mark price, and open interest, are re-published at most
# this often (by the pushes' own `ts`): futures tickers are pushed several times a second.
THROTTLE_MS: Final = 1_000
MINUTE_MS: Final = 60_000


class SymbolTicker:
    """What was last published for one symbol: the quote, funding and open interest."""

    __slots__ = ("funding", "funding_ms", "oi", "oi_ms", "quote")

    def __init__(self) -> None:
        self.quote: tuple[float, float, float, float] | None = None
        self.funding: tuple[float, int, float | None] | None = None  # rate, next, mark
        self.funding_ms = 0
        self.oi: float | None = None
        self.oi_ms = 0


def _next_funding(item: TickerItem) -> int | None:
    """`nextFundingTime`, None when absent or "0" (nothing scheduled, dated futures);
    BadMessage for anything else outside 2009..2100."""
    value = item.nextFundingTime
    if not isinstance(value, int) or value == 0:
        return None
    if not MIN_TS_MS <= value <= MAX_TS_MS:
        raise BadMessage(f"bad nextFundingTime {value!r}")
    return value


def _optional(value: float | object) -> float | None:
    return value if isinstance(value, float) else None


class TickerState:
    """`ticker` pushes -> Ticker on a changed best bid/ask, Funding on a changed rate or next
    time (or a mark move after 1 s), OpenInterest on a change after 1 s."""

    __slots__ = ("_symbols",)

    def __init__(self) -> None:
        self._symbols: dict[str, SymbolTicker] = {}

    def records(
        self, head: Head, item: TickerItem, recv_ms: int, interval_h: float
    ) -> list[AnyRaw]:
        """Records of one push; `interval_h` is the symbol's funding interval. A bad push
        raises before any state changes."""
        next_ms = _next_funding(item)
        state = self._symbols.get(head["symbol"])
        if state is None:
            state = self._symbols[head["symbol"]] = SymbolTicker()
        out: list[AnyRaw] = []
        quote = (item.bidPr, item.bidSz, item.askPr, item.askSz)
        if quote != state.quote:
            state.quote = quote
            out.append(
                build.ticker(head, ts_ms=item.ts, recv_ms=recv_ms, bid=item.bidPr,
                             bid_size=item.bidSz, ask=item.askPr, ask_size=item.askSz,
                             last=_optional(item.lastPr))
            )  # fmt: skip
        if isinstance(item.fundingRate, float) and self._funding_due(state, item, next_ms):
            out.append(
                build.funding(head, ts_ms=item.ts, recv_ms=recv_ms, funding_rate=item.fundingRate,
                              funding_interval_h=interval_h,
                              next_funding_time_ms=next_ms,
                              mark_price=_optional(item.markPrice),
                              index_price=_optional(item.indexPrice))
            )  # fmt: skip
        oi = item.holdingAmount
        if isinstance(oi, float) and oi != state.oi and item.ts - state.oi_ms >= THROTTLE_MS:
            state.oi, state.oi_ms = oi, item.ts
            mark = _optional(item.markPrice)
            out.append(
                build.open_interest(head, ts_ms=item.ts, recv_ms=recv_ms, open_interest=oi,
                                    open_interest_usd=None if mark is None else oi * mark)
            )  # fmt: skip
        return out

    @staticmethod
    def _funding_due(state: SymbolTicker, item: TickerItem, next_ms: int | None) -> bool:
        """A new rate or next time: now; only the mark price moved: after THROTTLE_MS."""
        rate, mark = item.fundingRate, _optional(item.markPrice)
        last = state.funding
        due = (
            last is None
            or (rate, next_ms) != last[:2]
            or (mark != last[2] and item.ts - state.funding_ms >= THROTTLE_MS)
        )
        if due:
            state.funding, state.funding_ms = (rate, next_ms, mark), item.ts  # type: ignore[assignment]
        return due


class CandleCloser:
    """`candle1m`: the newest bar is open until its minute has passed by the push's `ts`; a
    push that starts a later bar closes the one before it (re-emitted with `closed=True`,
    once); older rows of a snapshot are closed bars."""

    __slots__ = ("_newest",)

    def __init__(self) -> None:
        self._newest: dict[str, tuple[CandleRow, bool]] = {}  # symbol -> (bar, sent closed)

    def records(
        self, head: Head, rows: list[CandleRow], ts_ms: int, recv_ms: int, snapshot: bool
    ) -> list[AnyRaw]:
        symbol = head["symbol"]
        if snapshot:
            self._newest.pop(symbol, None)
        out: list[AnyRaw] = []
        for row in sorted(rows, key=lambda r: r[0]):
            newest = self._newest.get(symbol)
            if newest is not None and row[0] < newest[0][0]:
                out.append(_bar(head, row, ts_ms, recv_ms, closed=True))
                continue
            if newest is not None and row[0] > newest[0][0] and not newest[1]:
                out.append(_bar(head, newest[0], ts_ms, recv_ms, closed=True))
            closed = row[0] + MINUTE_MS <= ts_ms
            self._newest[symbol] = (row, closed)
            out.append(_bar(head, row, ts_ms, recv_ms, closed=closed))
        return out


def _bar(head: Head, row: CandleRow, ts_ms: int, recv_ms: int, closed: bool) -> AnyRaw:
    start, o, h, low, c, volume = row[:6]
    if not (low <= o <= h and low <= c <= h):
        raise ValueError(f"bad candle o={o} h={h} l={low} c={c}")
    return build.kline(head, ts_ms=ts_ms, recv_ms=recv_ms, open_time_ms=start, interval="1m",
                       open=o, high=h, low=low, close=c, volume=volume,
                       closed=closed)  # fmt: skip
