"""Cross-venue arbitrage opportunities and how long each has lasted. Pure.

An opportunity is a symbol whose newest normalized entry has its best bid and best ask on
different venues with profit_bps = (best_bid - best_ask) / mid x 1e4 above `min_profit_bps`:
buy on the best-ask venue, sell on the best-bid one (USD prices, before fees). Its
persistence is the idea of the features' `nbbo_crossed_ms`: the newest entry's time minus the
time of the first entry of the current unbroken run of entries above the threshold, at entry
resolution. `scan` (`RunScanner`) folds entries newest first (as XREVRANGE returns them) and
stops following a symbol at its first entry under the threshold; a run still unbroken when
the entries run out is flagged `at_least` (longer than the history read).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from pydantic import BaseModel, Field

from microservices.common.records import NormalizedSnapshot


class Opportunity(BaseModel):
    symbol: str
    buy_venue: str = Field(description="the best-ask venue")
    buy_price: float = Field(description="its ask, USD")
    sell_venue: str = Field(description="the best-bid venue")
    sell_price: float = Field(description="its bid, USD")
    profit_bps: float = Field(description="(bid - ask) / mid x 1e4, before fees")
    persisted_ms: int = Field(description="time above the threshold without a break")
    at_least: bool = Field(description="the run started before the oldest entry read")
    ts_ms: int = Field(description="time of the newest entry")


def profit_bps(snap: NormalizedSnapshot) -> float | None:
    """(best_bid - best_ask) / mid x 1e4 with the two on different venues; else None."""
    bid, ask = snap.best_bid, snap.best_ask
    if bid is None or ask is None or snap.best_bid_exchange == snap.best_ask_exchange:
        return None
    mid = (bid + ask) / 2.0
    return (bid - ask) / mid * 1e4 if mid > 0 else None


@dataclass(slots=True)
class _Run:
    newest: NormalizedSnapshot
    profit: float
    start_ms: int
    open: bool = True  # still unbroken in the entries seen so far


def _above(snap: NormalizedSnapshot, min_profit_bps: float) -> float | None:
    found = profit_bps(snap)
    return found if found is not None and found > min_profit_bps else None


class RunScanner:
    """The fold of `scan`, fed page by page so the reader can stop early (`settled`)."""

    def __init__(self, min_profit_bps: float, fresh_after_ms: int) -> None:
        self.min_profit_bps, self.fresh_after_ms = min_profit_bps, fresh_after_ms
        self.runs: dict[str, _Run | None] = {}  # None: the newest entry is no opportunity

    def feed(self, snap: NormalizedSnapshot) -> None:
        if snap.symbol not in self.runs:
            fresh = snap.ts_ms >= self.fresh_after_ms
            found = _above(snap, self.min_profit_bps) if fresh else None
            self.runs[snap.symbol] = None if found is None else _Run(snap, found, snap.ts_ms)
            return
        run = self.runs[snap.symbol]
        if run is None or not run.open or snap.ts_ms > run.start_ms:
            return
        if _above(snap, self.min_profit_bps) is None:
            run.open = False
        else:
            run.start_ms = snap.ts_ms

    def settled(self, oldest_ms: int) -> bool:
        """True when older entries can change nothing: every run seen has broken and the
        entries fed reach back past the freshness limit (no unseen symbol is fresh)."""
        still_open = any(run is not None and run.open for run in self.runs.values())
        return not still_open and oldest_ms < self.fresh_after_ms

    def opportunities(self) -> list[Opportunity]:
        """Most profitable first."""
        out = [_opportunity(run) for run in self.runs.values() if run is not None]
        return sorted(out, key=lambda o: (-o.profit_bps, o.symbol))


def scan(
    newest_first: Iterable[NormalizedSnapshot],
    min_profit_bps: float,
    fresh_after_ms: int,
) -> list[Opportunity]:
    """The opportunities among the symbols whose newest entry is at or after
    `fresh_after_ms`, most profitable first."""
    scanner = RunScanner(min_profit_bps, fresh_after_ms)
    for snap in newest_first:
        scanner.feed(snap)
    return scanner.opportunities()


def _opportunity(run: _Run) -> Opportunity:
    snap = run.newest
    return Opportunity(
        symbol=snap.symbol, buy_venue=snap.best_ask_exchange or "",
        buy_price=snap.best_ask or 0.0, sell_venue=snap.best_bid_exchange or "",
        sell_price=snap.best_bid or 0.0, profit_bps=run.profit,
        persisted_ms=snap.ts_ms - run.start_ms, at_least=run.open, ts_ms=snap.ts_ms,
    )  # fmt: skip
