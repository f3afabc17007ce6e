"""The synthetic L2 book of one venue and symbol: a ladder of levels around the quoted top.

`DepthLadder` keeps a few hundred levels per side at the instrument's tick, with its best bid
and ask always equal to the VenueBook's quote (`sync`), evolves deterministically from its own
random stream (`evolve`) and records every changed level until `take_changes`. Prices are
integer ticks. Pure: no I/O, no asyncio, never reads the clock.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Collection
from typing import Final

from microservices.exchange_simulator.book import VenueBook
from microservices.exchange_simulator.events import DepthDiff, Event

LEVELS: Final = 300  # target levels per side
LEVEL_SLACK: Final = 30  # refill below LEVELS - slack, prune above LEVELS + slack
FILL_RATIO: Final = 0.8  # share of ticks near the top that hold a level
GAP_FILL: Final = 3  # levels added inside the gap a jumping top leaves behind
MEAN_DISTANCE: Final = 25.0  # mean distance in ticks from the top of an evolving level
LEVEL_NOTIONAL: Final = 4_000.0  # typical notional of a level near the top, quote units
CHANGES_PER_EVENT: Final = 2.0  # level updates behind the top per market event
IDLE_MS: Final = 300_000  # a ladder nobody used (diff rendered, snapshot served) this long goes

Level = tuple[int, float]  # (price in ticks, size)


class DepthLadder:
    """Both sides of one book (ticks -> size) plus the changes not yet published."""

    __slots__ = (
        "asks",
        "best_ask",
        "best_bid",
        "bids",
        "carry",
        "changed_asks",
        "changed_bids",
        "last_id",
        "last_used_ms",
        "qty_dp",
        "rng",
        "step",
        "tick",
    )

    def __init__(self, book: VenueBook, seed: int, now_ms: int) -> None:
        inst = book.inst
        self.tick, self.step, self.qty_dp = inst.tick, inst.step, inst.qty_dp
        self.rng = random.Random(f"{seed}:{book.venue}:{book.symbol}:depth")
        self.bids: dict[int, float] = {}
        self.asks: dict[int, float] = {}
        self.changed_bids: dict[int, float] = {}  # tick -> new size, 0.0 = removed
        self.changed_asks: dict[int, float] = {}
        self.best_bid = self.ticks(book.bid)
        self.best_ask = self.ticks(book.ask)
        self.last_id = book.update_id  # update id of the last published change
        self.last_used_ms = now_ms
        self.carry = 0.0
        self._build(book)

    # ------------------------------------------------------------------ queries

    def ticks(self, price: float) -> int:
        return round(price / self.tick)

    def price(self, ticks: int) -> float:
        return ticks * self.tick

    def top(self, depth: int | None = None) -> tuple[list[Level], list[Level]]:
        """(bids best first, asks best first), `depth` levels per side (None: all)."""
        if depth is None:
            bids = sorted(self.bids.items(), reverse=True)
            asks = sorted(self.asks.items())
        else:
            bids = heapq.nlargest(depth, self.bids.items())
            asks = heapq.nsmallest(depth, self.asks.items())
        return bids, asks

    def has_changes(self) -> bool:
        return bool(self.changed_bids or self.changed_asks)

    def take_changes(self) -> tuple[list[Level], list[Level]]:
        """Changed levels since the last call (size 0.0 = removed), best first; then forget."""
        bids = sorted(self.changed_bids.items(), reverse=True)
        asks = sorted(self.changed_asks.items())
        self.changed_bids, self.changed_asks = {}, {}
        return bids, asks

    # ------------------------------------------------------------------ changes

    def _set(self, bid: bool, ticks: int, size: float) -> None:
        side, changed = (self.bids, self.changed_bids) if bid else (self.asks, self.changed_asks)
        if size > 0.0:
            if side.get(ticks) != size:
                side[ticks] = size
                changed[ticks] = size
        elif side.pop(ticks, None) is not None:
            changed[ticks] = 0.0

    def _size(self, distance: int, mid: float) -> float:
        notional = LEVEL_NOTIONAL * (1.0 + distance / 40.0)
        raw = notional / mid * math.exp(self.rng.gauss(0.0, 0.8))
        return max(round(raw, self.qty_dp), self.step)

    def _build(self, book: VenueBook) -> None:
        mid = book.mid
        for bid, best, sign in ((True, self.best_bid, -1), (False, self.best_ask, 1)):
            side = self.bids if bid else self.asks
            distance = 1
            while len(side) < LEVELS - 1:
                if self.rng.random() < FILL_RATIO:
                    side[best + sign * distance] = self._size(distance, mid)
                distance += 1
        self.bids[self.best_bid] = book.bid_qty
        self.asks[self.best_ask] = book.ask_qty

    def sync(self, book: VenueBook) -> None:
        """Make the best levels the book's quote: levels better than the new best go (they
        were taken or pulled); a jump away from the old best leaves a gap, partly refilled.
        Each side only holds prices at or behind its best, so the book never crosses."""
        bid, ask = self.ticks(book.bid), self.ticks(book.ask)
        self._move_top(True, bid, book.mid)
        self._move_top(False, ask, book.mid)
        self._set(True, bid, book.bid_qty)
        self._set(False, ask, book.ask_qty)
        self.best_bid, self.best_ask = bid, ask

    def _move_top(self, bid: bool, best: int, mid: float) -> None:
        side, old = (self.bids, self.best_bid) if bid else (self.asks, self.best_ask)
        sign = 1 if bid else -1  # +1: a higher price is better
        gone = (old - best) * sign  # ticks the top moved away from the other side
        if gone > 0:
            if gone <= len(side):
                doomed = [best + sign * k for k in range(1, gone + 1)]
            else:
                doomed = [t for t in side if (t - best) * sign > 0]
            for ticks in doomed:
                if ticks in side:
                    self._set(bid, ticks, 0.0)
        elif gone < 0:  # the top improved: the old best and a few levels stay behind it
            span = -gone
            for _ in range(min(GAP_FILL, span - 1)):
                distance = 1 + self.rng.randrange(span - 1)
                self._set(bid, best - sign * distance, self._size(distance, mid))

    def evolve(self, changes: int, mid: float) -> None:
        """`changes` random level updates behind the top (new size, removal or a new level),
        then keep each side near LEVELS levels (refill at the far end, prune the farthest)."""
        rng = self.rng
        for _ in range(changes):
            bid = rng.random() < 0.5
            side, best = (self.bids, self.best_bid) if bid else (self.asks, self.best_ask)
            distance = 1 + int(rng.expovariate(1.0 / MEAN_DISTANCE))
            ticks = best - distance if bid else best + distance
            if ticks in side and rng.random() < 0.4:
                self._set(bid, ticks, 0.0)
            else:
                self._set(bid, ticks, self._size(distance, mid))
        self._rebalance(True, mid)
        self._rebalance(False, mid)

    def _rebalance(self, bid: bool, mid: float) -> None:
        side, best = (self.bids, self.best_bid) if bid else (self.asks, self.best_ask)
        if LEVELS - LEVEL_SLACK <= len(side) <= LEVELS + LEVEL_SLACK:
            return
        if len(side) > LEVELS:
            ordered = sorted(side, reverse=not bid)  # farthest first
            for ticks in ordered[: len(side) - LEVELS]:
                self._set(bid, ticks, 0.0)
            return
        far = min(side) if bid else max(side)
        sign = -1 if bid else 1
        distance = abs(far - best)
        while len(side) < LEVELS:
            distance += 1
            if self.rng.random() < FILL_RATIO:
                self._set(bid, best + sign * distance, self._size(distance, mid))


def snapshot_id(ladder: DepthLadder, book: VenueBook) -> int:
    """lastUpdateId of a REST snapshot of `ladder` now. When nothing moved since the last
    published diff the book's id is bumped, so the next diff straddles it (Binance spot:
    U <= id+1 <= u; USD-M: U <= id <= u) and no published diff ends exactly at it."""
    if book.update_id == ladder.last_id:
        book.update_id += 1
    return book.update_id


def step_ladders(
    ladders: dict[tuple[str, str], DepthLadder],
    books: dict[tuple[str, str], VenueBook],
    now_ms: int,
    events: float,
    active: Collection[tuple[str, str]],
    out: list[Event],
) -> None:
    """After a market step: drop idle ladders, sync and evolve the others (about `events`
    market events each), and publish one DepthDiff per changed ladder of an active pair."""
    for key, ladder in list(ladders.items()):
        if now_ms - ladder.last_used_ms > IDLE_MS:
            del ladders[key]
            continue
        book = books[key]
        ladder.sync(book)
        wanted = events * CHANGES_PER_EVENT + ladder.carry
        ladder.carry = wanted - int(wanted)
        ladder.evolve(int(wanted), book.mid)
        if not ladder.has_changes():
            continue
        book.update_id += 1
        bids, asks = ladder.take_changes()
        if key in active:
            tick = ladder.tick
            out.append(
                DepthDiff(
                    book.venue,
                    book.symbol,
                    now_ms,
                    ladder.last_id + 1,
                    book.update_id,
                    ladder.last_id,
                    tuple((t * tick, q) for t, q in bids),
                    tuple((t * tick, q) for t, q in asks),
                )
            )
        ladder.last_id = book.update_id
