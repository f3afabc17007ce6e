"""Per-connection merge state of Bybit's snapshot + delta streams and the records it yields:
linear `tickers.*` (best bid/ask, funding, open interest) and the level-1 book `orderbook.1.*`.

Frames arrive decoded and validated (`wire.py`), so a bad delta never reaches the merged
state. Pure: no I/O, no clock.
"""

from __future__ import annotations

from typing import Any, Final

from msgspec.structs import astuple

from microservices.common.errors import BadMessage
from microservices.common.records import AnyRaw, Funding
from microservices.common.schema_fields import MIN_TS_MS
from microservices.data_collector.exchanges import _records as build
from microservices.data_collector.exchanges._records import Head
from microservices.data_collector.exchanges.bybit.wire import TICKER_KEYS, TickerData

# Funding and open interest that moved only with the mark price are re-published at most this
# often (by the frames' own `ts`): linear tickers deltas arrive every 100 ms.
THROTTLE_MS: Final = 1_000
DEFAULT_FUNDING_INTERVAL_H: Final = 8.0

Level = tuple[float, float]  # (price, size)


NUMBERS: Final = frozenset({float, int})  # decoded values; absent, "" and null are not


def ticker_updates(data: TickerData) -> dict[str, Any]:
    """The values one `tickers` frame sets. A field that is absent, "" or null keeps its
    merged value, and so does `nextFundingTime` 0 (nothing scheduled)."""
    updates = {k: v for k, v in zip(TICKER_KEYS, astuple(data), strict=True) if type(v) in NUMBERS}
    next_ms = updates.get("nextFundingTime")
    if next_ms is not None and next_ms < MIN_TS_MS:
        if next_ms != 0:
            raise BadMessage(f"bad nextFundingTime {next_ms!r}")
        del updates["nextFundingTime"]
    return updates


BOOK_KEYS: Final = frozenset({"bid1Price", "bid1Size", "ask1Price", "ask1Size"})
FUNDING_KEYS: Final = frozenset({"fundingRate", "nextFundingTime", "fundingIntervalHour"})
OI_KEYS: Final = frozenset({"openInterest", "openInterestValue"})


class SymbolTicker:
    """Merged ticker fields of one symbol and when funding / open interest were last emitted."""

    __slots__ = ("funding_ms", "mark_pending", "oi_ms", "oi_pending", "values")

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.funding_ms = 0
        self.oi_ms = 0
        self.mark_pending = False  # mark price moved since the last Funding
        self.oi_pending = False  # open interest moved since the last OpenInterest

    def due(self, changed: set[str], ts_ms: int) -> tuple[bool, bool, bool]:
        """Which records this frame produces: (ticker, funding, open_interest).

        Ticker: a best bid/ask field changed and all four are known. Funding: the rate, next
        time or interval changed; or the mark price moved and the last Funding is >= 1 s old.
        Open interest: it moved and the last one is >= 1 s old. A throttled change stays
        pending and goes out with the first frame after the second has passed.
        """
        values = self.values
        ticker = not changed.isdisjoint(BOOK_KEYS) and values.keys() >= BOOK_KEYS
        funding = False
        if "fundingRate" in values:
            self.mark_pending = self.mark_pending or "markPrice" in changed
            if not changed.isdisjoint(FUNDING_KEYS) or (
                self.mark_pending and ts_ms - self.funding_ms >= THROTTLE_MS
            ):
                funding, self.funding_ms, self.mark_pending = True, ts_ms, False
        oi = False
        if "openInterest" in values:
            self.oi_pending = self.oi_pending or not changed.isdisjoint(OI_KEYS)
            if self.oi_pending and ts_ms - self.oi_ms >= THROTTLE_MS:
                oi, self.oi_ms, self.oi_pending = True, ts_ms, False
        return ticker, funding, oi


class TickerMerger:
    """`tickers.*`: a snapshot resets a symbol; deltas carry only the fields that changed."""

    __slots__ = ("_symbols", "funding_intervals")

    def __init__(self, funding_intervals: dict[str, float]) -> None:
        self._symbols: dict[str, SymbolTicker] = {}
        # canonical symbol -> funding interval (h) seen in tickers; shared with the REST side
        self.funding_intervals = funding_intervals

    def apply(
        self, symbol: str, snapshot: bool, data: TickerData
    ) -> tuple[SymbolTicker, set[str]] | None:
        """Merge one frame's `data`: the state and the fields whose value changed, or None
        for a delta before any snapshot of the symbol."""
        updates = ticker_updates(data)
        if snapshot:
            state = self._symbols[symbol] = SymbolTicker()
        else:
            found = self._symbols.get(symbol)
            if found is None:
                return None
            state = found
        values = state.values
        changed = {key for key, value in updates.items() if values.get(key) != value}
        values.update(updates)
        return state, changed

    def records(
        self, head: Head, ts_ms: int, recv_ms: int, snapshot: bool, data: TickerData
    ) -> tuple[list[AnyRaw], bool] | None:
        """Records of one tickers frame and whether its best bid/ask was crossed (then no
        Ticker is emitted); None for a delta before any snapshot."""
        merged = self.apply(head["symbol"], snapshot, data)
        if merged is None:
            return None
        state, changed = merged
        ticker, funding, oi = state.due(changed, ts_ms)
        v = state.values
        out: list[AnyRaw] = []
        crossed: bool = ticker and v["bid1Price"] > v["ask1Price"]
        if ticker and not crossed:
            out.append(
                build.ticker(
                    head,
                    ts_ms=ts_ms,
                    recv_ms=recv_ms,
                    bid=v["bid1Price"],
                    bid_size=v["bid1Size"],
                    ask=v["ask1Price"],
                    ask_size=v["ask1Size"],
                    last=v.get("lastPrice"),
                )
            )
        if funding:
            out.append(self._funding(head, ts_ms, recv_ms, v))
        if oi:
            out.append(
                build.open_interest(
                    head,
                    ts_ms=ts_ms,
                    recv_ms=recv_ms,
                    open_interest=v["openInterest"],
                    open_interest_usd=v.get("openInterestValue"),
                )
            )
        return out, crossed

    def _funding(self, head: Head, ts_ms: int, recv_ms: int, v: dict[str, Any]) -> Funding:
        """Funding from merged values; a known interval is remembered for REST history."""
        interval = v.get("fundingIntervalHour")
        if interval is None:
            interval = DEFAULT_FUNDING_INTERVAL_H
        else:
            self.funding_intervals[head["symbol"]] = interval
        return build.funding(
            head,
            ts_ms=ts_ms,
            recv_ms=recv_ms,
            funding_rate=v["fundingRate"],
            funding_interval_h=interval,
            next_funding_time_ms=v.get("nextFundingTime"),
            mark_price=v.get("markPrice"),
            index_price=v.get("indexPrice"),
        )


def _first(levels: list[Level]) -> Level | None:
    """A snapshot's best level: the first with a non-zero size."""
    for level in levels:
        if level[1] > 0.0:
            return level
    return None


def _apply(current: Level | None, levels: list[Level]) -> Level | None:
    """Level-1 delta: a non-zero size replaces the top; size 0 at the top's price deletes it."""
    for level in levels:
        if level[1] > 0.0:
            current = level
        elif current is not None and current[0] == level[0]:
            current = None
    return current


class TopOfBook:
    """`orderbook.1.*`: best bid and ask per symbol (None while a side is empty).

    Current Bybit sends level-1 snapshots only; sessions recorded in 2023 also carried
    level-1 deltas, which are merged here rather than mistaken for snapshots.
    """

    __slots__ = ("_tops",)

    def __init__(self) -> None:
        self._tops: dict[str, tuple[Level | None, Level | None]] = {}

    def apply(
        self, symbol: str, snapshot: bool, bid_levels: list[Level], ask_levels: list[Level]
    ) -> tuple[Level | None, Level | None] | None:
        """(bid, ask) after one frame; None for a delta before any snapshot."""
        if snapshot:
            top = (_first(bid_levels), _first(ask_levels))
        else:
            old = self._tops.get(symbol)
            if old is None:
                return None
            top = (_apply(old[0], bid_levels), _apply(old[1], ask_levels))
        self._tops[symbol] = top
        return top
