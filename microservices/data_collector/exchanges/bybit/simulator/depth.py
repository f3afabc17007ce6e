"""Bybit v5 `orderbook.{50,200,500,1000}.{symbol}`: the top-N view of a pair's L2 ladder.

A subscription gets a `type:"snapshot"` of the view, then `type:"delta"` frames with the
levels of the view that changed (size "0" deletes, levels entering the view are sent with
their size), each with the next `u` of the topic; `seq` is the book's update id. The view and
`u` of a topic are shared by all clients of the server, like the venue's one stream.
"""

from __future__ import annotations

from typing import Any, Final

from microservices.data_collector.exchanges.bybit.simulator.frames import BybitFormat
from microservices.exchange_simulator.depth import Level
from microservices.exchange_simulator.events import unit

L2_DEPTHS: Final = ("50", "200", "500", "1000")  # orderbook.1 is the quote (frames.py)

View = tuple[dict[int, float], dict[int, float]]  # bids, asks: ticks -> size


class BybitBooks:
    """The published view and update id (`u`) of every subscribed orderbook topic."""

    def __init__(self, fmt_: BybitFormat) -> None:
        self.fmt, self.market, self.venue = fmt_, fmt_.market, fmt_.market_venue
        self._views: dict[str, View] = {}
        self._u: dict[str, int] = {}

    def forget(self, key: str) -> None:
        """Nobody follows the topic: its next subscriber starts from a fresh snapshot."""
        self._views.pop(key, None)

    def _view(self, key: str, symbol: str) -> View:
        depth = int(key.split(".")[1])
        bids, asks = self.market.depth(self.venue, symbol).top(depth)
        return dict(bids), dict(asks)

    def snapshot(self, key: str, sym: str, symbol: str, ts: int) -> dict[str, Any]:
        """The topic's current view; deltas continue from it (same `u`)."""
        view = self._views[key] = self._view(key, symbol)
        u = self._u.setdefault(key, 1_000 + int(unit(self.venue + key) * 1e8))
        bids = sorted(view[0].items(), reverse=True)
        asks = sorted(view[1].items())
        return self._frame(key, "snapshot", sym, symbol, ts, u, bids, asks)

    def delta(self, key: str, sym: str, symbol: str, ts: int) -> dict[str, Any] | None:
        """The changes of the view since the last frame, or None when it did not change."""
        old = self._views.get(key)
        if old is None:
            return None  # not snapshotted yet: initial_frames sends the snapshot
        new = self._views[key] = self._view(key, symbol)
        bids = sorted(_changes(old[0], new[0]).items(), reverse=True)
        asks = sorted(_changes(old[1], new[1]).items())
        if not bids and not asks:
            return None
        self._u[key] += 1
        return self._frame(key, "delta", sym, symbol, ts, self._u[key], bids, asks)

    def _frame(
        self,
        key: str,
        kind: str,
        sym: str,
        symbol: str,
        ts: int,
        u: int,
        bids: list[Level],
        asks: list[Level],
    ) -> dict[str, Any]:
        book = self.market.book(self.venue, symbol)
        data = {
            "s": sym,
            "b": self._levels(symbol, bids),
            "a": self._levels(symbol, asks),
            "u": u,
            "seq": book.update_id,
        }
        return {"topic": key, "type": kind, "ts": ts, "data": data, "cts": ts}

    def _levels(self, symbol: str, rows: list[Level]) -> list[list[str]]:
        tick = self.market.instruments[symbol].tick
        price, qty = self.fmt.price, self.fmt.qty
        return [[price(symbol, t * tick), qty(symbol, q) if q else "0"] for t, q in rows]


def _changes(old: dict[int, float], new: dict[int, float]) -> dict[int, float]:
    """Levels whose size differs (0.0: left the view)."""
    changed = {t: q for t, q in new.items() if old.get(t) != q}
    changed.update((t, 0.0) for t in old if t not in new)
    return changed
