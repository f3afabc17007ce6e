"""The synthetic L2 book of one venue and symbol: a ladder of levels around the quoted top.

`DepthLadder` keeps a few hundred levels per side at the instrument's tick, with its best bid
and ask always equal to the VenueBook's quote (`sync`), evolves deterministically from its own
random stream (`evolve`) and records every changed level until `take_changes`. Prices are
integer ticks. Pure: no I/O, no asyncio, never reads the clock.
"""

from __future__ import annotations

import random
from bisect import bisect_left, bisect_right, insort
from collections.abc import Collection
from typing import Final

from microservices.exchange_simulator.book import VenueBook
from microservices.exchange_simulator.events import DepthDiff, Event

LEVELS: Final = 300  # target levels per side
LEVEL_SLACK: Final = 30  # refill below LEVELS - slack, prune above LEVELS + slack
GRID_BPS: Final = 0.15  # typical spacing of levels (at least one tick): 300 levels ~ 0.6 %
FILL_RATIO: Final = 0.8  # share of grid steps near the top that hold a level
GAP_FILL: Final = 3  # levels added inside the gap a jumping top leaves behind
MEAN_DISTANCE: Final = 12.0  # mean distance in grid steps from the top of an evolving level
LEVEL_NOTIONAL: Final = 4_000.0  # typical notional of a level near the top, quote units
CHANGES_PER_EVENT: Final = 2.0  # level updates behind the top per market event
IDLE_MS: Final = 300_000  # a ladder nobody used (diff rendered, snapshot served) this long goes

Level = tuple[int, float]  # (price in ticks, size)


class DepthLadder:
    """Both sides of one book (ticks -> size, with the ticks sorted ascending) plus the
    changes not yet published."""

    __slots__ = (
        "ask_keys",
        "asks",
        "bid_keys",
        "bids",
        "carry",
        "changed_asks",
        "changed_bids",
        "grid",
        "last_id",
        "last_used_ms",
        "qty_dp",
        "quote",
        "rng",
        "step",
        "tick",
    )

    def __init__(self, book: VenueBook, seed: int, now_ms: int) -> None:
        inst = book.inst
        self.tick, self.step, self.qty_dp = inst.tick, inst.step, inst.qty_dp
        self.grid = max(1, round(book.mid * GRID_BPS / 1e4 / inst.tick))  # ticks
        self.rng = random.Random(f"{seed}:{book.venue}:{book.symbol}:depth")
        self.bids: dict[int, float] = {}
        self.asks: dict[int, float] = {}
        self.bid_keys: list[int] = []
        self.ask_keys: list[int] = []
        self.changed_bids: dict[int, float] = {}  # tick -> new size, 0.0 = removed
        self.changed_asks: dict[int, float] = {}
        self.last_id = book.update_id  # update id of the last published change
        self.last_used_ms = now_ms
        self.carry = 0.0
        self.quote = (book.bid, book.bid_qty, book.ask, book.ask_qty)  # the top last synced
        self._build(book)

    # ------------------------------------------------------------------ queries

    def ticks(self, price: float) -> int:
        return round(price / self.tick)

    @property
    def best_bid(self) -> int:
        return self.bid_keys[-1]

    @property
    def best_ask(self) -> int:
        return self.ask_keys[0]

    def top(self, depth: int | None = None) -> tuple[list[Level], list[Level]]:
        """(bids best first, asks best first), `depth` levels per side (None: all)."""
        bid_keys = self.bid_keys if depth is None else self.bid_keys[-depth:]
        ask_keys = self.ask_keys if depth is None else self.ask_keys[:depth]
        bids = [(t, self.bids[t]) for t in reversed(bid_keys)]
        return bids, [(t, self.asks[t]) for t in ask_keys]

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
        if bid:
            side, keys, changed = self.bids, self.bid_keys, self.changed_bids
        else:
            side, keys, changed = self.asks, self.ask_keys, self.changed_asks
        old = side.get(ticks)
        if size > 0.0:
            if old != size:
                if old is None:
                    insort(keys, ticks)
                side[ticks] = size
                changed[ticks] = size
        elif old is not None:
            del side[ticks]
            del keys[bisect_left(keys, ticks)]
            changed[ticks] = 0.0

    def _size(self, distance: int, mid: float) -> float:
        """A level's size: grows with the distance from the top, skewed (cheap: one draw)."""
        draw = self.rng.random()
        notional = LEVEL_NOTIONAL * (1.0 + distance / 40.0) * (0.2 + 3.0 * draw * draw)
        return max(round(notional / mid, self.qty_dp), self.step)

    def _build(self, book: VenueBook) -> None:
        mid, grid = book.mid, self.grid
        for side, keys, best, sign in (
            (self.bids, self.bid_keys, self.ticks(book.bid), -1),
            (self.asks, self.ask_keys, self.ticks(book.ask), 1),
        ):
            side[best] = book.bid_qty if sign < 0 else book.ask_qty
            distance = 1
            while len(side) < LEVELS:
                if self.rng.random() < FILL_RATIO:
                    side[best + sign * distance * grid] = self._size(distance, mid)
                distance += 1
            keys.extend(sorted(side))

    def sync(self, book: VenueBook) -> None:
        """Make the best levels the book's quote: levels better than the new best go (they
        were taken or pulled); a jump away from the old best leaves a gap, partly refilled.
        Each side only holds prices at or behind its best, so the book never crosses."""
        self.quote = (book.bid, book.bid_qty, book.ask, book.ask_qty)
        bid, ask = self.ticks(book.bid), self.ticks(book.ask)
        self._move_top(True, bid, book.mid)
        self._move_top(False, ask, book.mid)
        self._set(True, bid, book.bid_qty)
        self._set(False, ask, book.ask_qty)

    def _move_top(self, bid: bool, best: int, mid: float) -> None:
        keys = self.bid_keys if bid else self.ask_keys
        if bid:
            doomed = keys[bisect_right(keys, best) :]  # bids above the new best bid
            old = keys[-1]
        else:
            doomed = keys[: bisect_left(keys, best)]  # asks below the new best ask
            old = keys[0]
        for ticks in doomed:
            self._set(bid, ticks, 0.0)
        span = (best - old) if bid else (old - best)  # ticks the top improved by
        for _ in range(min(GAP_FILL, span // self.grid)):  # levels the old top leaves behind
            distance = 1 + self.rng.randrange(span - 1)
            self._set(bid, best - distance if bid else best + distance, self._size(1, mid))

    def evolve(self, changes: int, mid: float) -> None:
        """`changes` random level updates behind the top (new size, removal or a new level),
        then keep each side near LEVELS levels (refill at the far end, prune the farthest)."""
        rng, grid = self.rng, self.grid
        for _ in range(changes):
            bid = rng.random() < 0.5
            distance = 1 + int(rng.expovariate(1.0 / MEAN_DISTANCE))
            offset = distance * grid - rng.randrange(grid)
            ticks = self.best_bid - offset if bid else self.best_ask + offset
            if ticks in (self.bids if bid else self.asks) and rng.random() < 0.4:
                self._set(bid, ticks, 0.0)
            else:
                self._set(bid, ticks, self._size(distance, mid))
        self._rebalance(True, mid)
        self._rebalance(False, mid)

    def _rebalance(self, bid: bool, mid: float) -> None:
        keys = self.bid_keys if bid else self.ask_keys
        count = len(keys)
        if LEVELS - LEVEL_SLACK <= count <= LEVELS + LEVEL_SLACK:
            return
        if count > LEVELS:  # the farthest go
            for ticks in keys[: count - LEVELS] if bid else keys[LEVELS:]:
                self._set(bid, ticks, 0.0)
            return
        far, sign = (keys[0], -1) if bid else (keys[-1], 1)
        distance = 0
        while len(keys) < LEVELS:
            distance += 1
            if self.rng.random() < FILL_RATIO:
                self._set(bid, far + sign * distance * self.grid, self._size(LEVELS, mid))


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
        wanted = events * CHANGES_PER_EVENT + ladder.carry
        changes = int(wanted)
        ladder.carry = wanted - changes
        if not changes and ladder.quote == (book.bid, book.bid_qty, book.ask, book.ask_qty):
            continue  # nothing moved: the common case at low event rates
        ladder.sync(book)
        ladder.evolve(changes, book.mid)
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
