"""The L2 books of one WebSocket connection, between its frames and what the collector sends.

A `BookFeed` wraps the venue's book rules (`VenueSpec.books`): the connection's runner hands it
every frame that may be a book frame (`is_book`, a substring test); it says what the shell must
do, and the collector's book loop (`book_loop.py`) does it:
- `entries(now)`: the `exchange.orderbook` entries due: a book that changed, at most one per
  `interval_ms`, with its top `levels` levels and its depth within 10 and 50 bps of mid;
- `full_books(now)`: every book that changed since the last call, whole (the API's hash);
- `snapshots_wanted` (Binance: a REST depth snapshot per symbol, asked once at a time) and
  `resubscribe_wanted` (Bybit, Coinbase: a fresh WebSocket snapshot);
- `drop_idle(now)`: books with no update for `idle_ms` are forgotten (an unfollowed or
  delisted symbol), so memory follows the followed symbols.
Pure: no I/O, no clock (times are the frames' receive times and the loop's `now`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Protocol, cast

from microservices.common.book_schema import BookTop
from microservices.common.orderbook.book import OrderBook
from microservices.common.orderbook.depth import book_depth_within_bps
from microservices.common.orderbook.sync import (
    BookSpec,
    BookUpdate,
    Frame,
    Resync,
    SyncResult,
)
from microservices.data_collector.exchanges.base import Exchange, RestRequest

NO_DEPTH: Final = (0.0, 0.0)


class RestSync(Protocol):
    """Book rules synced from REST snapshots (action `rest_snapshot`: Binance)."""

    def snapshot_request(self, symbol: str) -> RestRequest: ...

    def on_snapshot(self, symbol: str, body: Frame) -> list[SyncResult]: ...


@dataclass(frozen=True, slots=True)
class BookParams:
    levels: int = 20  # levels per side in a stream entry
    interval_ms: int = 250  # at most one entry per book this often
    idle_ms: int = 300_000  # a book without updates this long is dropped
    max_depth: int = 0  # levels kept per side; 0 = the venue's default


@dataclass(slots=True)
class _Changed:
    sequence: int | None
    ts_ms: int  # venue time of the last applied update, else its receive time
    recv_ms: int


def book_router(markers: tuple[str, ...]) -> Callable[[str | bytes], bool]:
    """frame -> whether it may be a book frame: `BookSpec.router`'s substring test, with no
    generator per frame (every frame of a connection with books goes through it)."""
    if len(markers) == 1:
        text, raw = markers[0], markers[0].encode()

        def one(frame: str | bytes) -> bool:
            return text in frame if type(frame) is str else raw in frame

        return one
    texts, raws = markers, tuple(m.encode() for m in markers)

    def many(frame: str | bytes) -> bool:
        for marker in texts if type(frame) is str else raws:  # noqa: SIM110 (no genexpr)
            if marker in frame:  # type: ignore[operator]
                return True
        return False

    return many


class BookFeed:
    """The books of one connection of `exchange` under its venue's book rules."""

    def __init__(self, exchange: Exchange, spec: BookSpec, params: BookParams) -> None:
        self.exchange = exchange
        self.params = params
        self.sync = spec.new(self._applied, params.max_depth)
        bind = getattr(self.sync, "bind_exchange", None)
        if bind is not None:  # rules that read the venue's instruments (contract sizes)
            bind(exchange)
        self.is_book = book_router(spec.markers)
        self.wants_rest = self.sync.books.action == "rest_snapshot"
        self.snapshots_wanted: set[str] = set()  # venue symbols awaiting a REST snapshot
        self.resubscribe_wanted: set[str] = set()
        self.in_flight: set[str] = set()  # REST snapshots asked, not answered yet
        self._recv_ms = 0
        self._changed: dict[str, _Changed] = {}  # not published yet
        self._full: dict[str, _Changed] = {}  # not written to the full-book hash yet
        self._published: dict[str, int] = {}  # venue symbol -> last entry time
        self._touched: dict[str, int] = {}  # venue symbol -> last update (receive time)

    # ------------------------------------------------------------------ frames in
    def on_frame(self, frame: Frame, recv_ms: int) -> bool | None:
        """Handle a frame `is_book` let through: True when it was a book frame (the feed is
        alive), None when it was not one after all (the record parser takes it)."""
        self._recv_ms = recv_ms
        result = self.sync.on_frame(frame)
        if result is None:
            return None
        self._settle(result)
        return True

    def on_snapshot(self, symbol: str, body: Frame, recv_ms: int) -> None:
        """The REST depth snapshot of `symbol` (venue spelling) arrived."""
        self._recv_ms = recv_ms
        self.in_flight.discard(symbol)
        if not self.wants_rest:
            return
        for result in cast(RestSync, self.sync).on_snapshot(symbol, body):
            self._settle(result)

    def snapshot_request(self, symbol: str) -> RestRequest:
        """The REST depth snapshot request of `symbol` (venues whose books sync from REST)."""
        return cast(RestSync, self.sync).snapshot_request(symbol)

    def snapshot_failed(self, symbol: str) -> None:
        """The snapshot request failed (after the REST client's retries): ask again later."""
        self.in_flight.discard(symbol)
        if not self.sync.books.live(symbol):
            self.snapshots_wanted.add(symbol)

    def reconnected(self) -> None:
        """A new socket: every book waits for fresh frames (and snapshots)."""
        self.sync.reconnect()
        self.snapshots_wanted.clear()
        self.resubscribe_wanted.clear()
        self._changed.clear()

    def _settle(self, result: SyncResult) -> None:
        symbol = result.symbol
        if isinstance(result, Resync):
            self._changed.pop(symbol, None)
            if result.action == "resubscribe":
                self.resubscribe_wanted.add(symbol)
            elif symbol not in self.in_flight:
                self.snapshots_wanted.add(symbol)
        elif self.wants_rest and not self.sync.books.live(symbol) and symbol not in self.in_flight:
            self.snapshots_wanted.add(symbol)  # buffering: the snapshot it waits for

    def _applied(self, update: BookUpdate, book: OrderBook) -> None:
        recv = self._recv_ms
        changed = _Changed(update.sequence, update.ts_ms or recv, recv)
        self._changed[update.symbol] = self._full[update.symbol] = changed
        self._touched[update.symbol] = recv

    # ------------------------------------------------------------------ what to send
    def entries(self, now_ms: int) -> list[BookTop]:
        """The stream entries due at `now_ms` (changed books past their interval)."""
        due: list[BookTop] = []
        interval = self.params.interval_ms
        for symbol in [s for s in self._changed if now_ms - self._published.get(s, 0) >= interval]:
            changed = self._changed.pop(symbol)
            top = self.top(symbol, changed, self.params.levels)
            if top is not None:
                due.append(top)
                self._published[symbol] = now_ms
        return due

    def full_books(self) -> list[BookTop]:
        """Every book changed since the last call, with all its levels."""
        changed, self._full = self._full, {}
        tops = (self.top(symbol, c, 0) for symbol, c in changed.items())
        return [top for top in tops if top is not None]

    def drop_idle(self, now_ms: int) -> list[str]:
        """Forget the books without an update for `idle_ms`; returns their venue symbols."""
        idle = [s for s, t in self._touched.items() if now_ms - t >= self.params.idle_ms]
        for symbol in idle:
            self.sync.drop(symbol)
            for held in (self._touched, self._changed, self._full, self._published):
                held.pop(symbol, None)
        return idle

    def top(self, symbol: str, changed: _Changed, levels: int) -> BookTop | None:
        """The entry of a synced, two-sided book of a followed symbol; None otherwise."""
        book = self.sync.books.get(symbol)
        head = self.exchange.record_head(symbol)
        if book is None or head is None:
            return None
        bids, asks = book.bids(levels), book.asks(levels)
        if not bids or not asks:
            return None
        (bid10, ask10), (bid50, ask50) = (
            book_depth_within_bps(book, bps) or NO_DEPTH for bps in (10.0, 50.0)
        )
        return BookTop(
            exchange=head["exchange"], market=head["market"], symbol=head["symbol"],
            venue_symbol=head["venue_symbol"], group=head["group"], quote=head["quote"],
            ts_ms=changed.ts_ms, recv_ms=changed.recv_ms, sequence=changed.sequence,
            bids=bids, asks=asks, bid_levels=book.bid_levels, ask_levels=book.ask_levels,
            bid_depth_10bps=bid10, ask_depth_10bps=ask10,
            bid_depth_50bps=bid50, ask_depth_50bps=ask50,
        )  # fmt: skip
