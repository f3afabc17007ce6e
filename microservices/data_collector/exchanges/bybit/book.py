"""Bybit v5 local books (linear and spot): `orderbook.50.<SYM>` snapshot and delta frames.

A `snapshot` (or any frame with `u == 1`, the venue's service restart) replaces the book;
a `delta` applies (size "0" deletes); a delta before any snapshot is dropped. `u` must
increase: a delta with `u` <= the last one is a duplicate or out of order, dropped and
counted. There is no previous-`u` field, so a jump in `u` is not a gap. A resync means
resubscribing: the venue answers with a fresh snapshot. Pure: no I/O, no clock.
"""

from __future__ import annotations

from typing import Any, Final, Literal

import msgspec
from msgspec import UNSET, UnsetType

from microservices.common.orderbook.sync import (
    BookSet,
    BookSpec,
    Frame,
    Resync,
    ResyncReason,
    SyncResult,
    UpdateHook,
    WireLevel,
)
from microservices.data_collector.exchanges.typed import Wire, decoder

DEPTH: Final = 50  # levels of `orderbook.50`: the topic followed and the book cap
RESTART_U: Final = 1  # `u == 1`: Bybit restarted its service, the frame is a snapshot


class BookData(Wire):
    s: str  # symbol
    b: list[WireLevel]  # bids [price, size]; size 0 removes the level
    a: list[WireLevel]  # asks
    u: int  # update id, increasing
    seq: int | UnsetType = UNSET  # cross sequence (not contiguous)


class BookFrame(Wire):
    topic: str  # orderbook.<depth>.<symbol>
    type: Literal["snapshot", "delta"]
    data: BookData
    ts: int | UnsetType = UNSET  # push time (ms)


class LaxData(Wire):
    s: str


class LaxBookFrame(Wire):
    """A book frame that failed the typed decode: its symbol, to resync it."""

    topic: str
    type: Any
    data: LaxData


_BOOK: Final = decoder(BookFrame)
_LAX: Final = decoder(LaxBookFrame)


class BybitBookSync:
    """The `orderbook.<depth>` books of one Bybit connection (linear or spot)."""

    def __init__(
        self, on_applied: UpdateHook | None = None, depth: int = DEPTH, max_depth: int = DEPTH
    ) -> None:
        self.prefix = f"orderbook.{depth}."  # other depths (orderbook.1 tickers) are ignored
        self.books = BookSet("resubscribe", max_depth, on_applied)
        self._last_u: dict[str, int] = {}  # symbol -> u of the last frame applied

    def topic(self, symbol: str) -> str:
        """The subscription topic of `symbol`'s book."""
        return f"{self.prefix}{symbol}"

    def on_frame(self, frame: Frame) -> SyncResult | None:
        """Load, apply or drop one book frame; None for any other frame."""
        try:
            message = _BOOK(frame)
        except msgspec.DecodeError:
            return self._bad_frame(frame)
        if not message.topic.startswith(self.prefix):
            return None
        data = message.data
        symbol = data.s
        ts_ms = message.ts if isinstance(message.ts, int) else None
        if message.type == "snapshot" or data.u == RESTART_U:
            self._last_u[symbol] = data.u
            return self._settle(symbol, self.books.load(symbol, (data.b, data.a), data.u, ts_ms))
        if not self.books.live(symbol):
            return self.books.skip(symbol, "before_snapshot", data.u)
        if data.u <= self._last_u[symbol]:
            return self.books.skip(symbol, "out_of_order", data.u)
        self._last_u[symbol] = data.u
        self.books.book(symbol).apply(data.b, data.a)
        return self._settle(symbol, self.books.applied(symbol, data.u, ts_ms))

    def on_rest(self, url: str, body: Frame) -> list[SyncResult]:
        """Bybit books come from WebSocket snapshots only: REST answers are not used."""
        return []

    def reconnect(self) -> list[Resync]:
        """A new connection: its subscriptions bring a fresh snapshot per book."""
        self._last_u.clear()
        return self.books.resync_all(ResyncReason.RECONNECT)

    def drop(self, symbol: str) -> None:
        """Forget `symbol` (idle or unsubscribed): deltas wait for its next snapshot."""
        self._last_u.pop(symbol, None)
        self.books.drop(symbol)

    def _settle(self, symbol: str, result: SyncResult) -> SyncResult:
        if isinstance(result, Resync):  # crossed: wait for the resubscription's snapshot
            self._last_u.pop(symbol, None)
        return result

    def _bad_frame(self, frame: Frame) -> Resync | None:
        """A frame of a followed book with a malformed level (or id): never applied in part,
        the book is rebuilt; None when the frame is not a book frame at all."""
        try:
            lax = _LAX(frame)
        except msgspec.DecodeError:
            return None
        if not lax.topic.startswith(self.prefix):
            return None
        self._last_u.pop(lax.data.s, None)
        return self.books.resync(lax.data.s, ResyncReason.BAD_LEVEL)


def _build(on_applied: UpdateHook | None, max_depth: int) -> BybitBookSync:
    return BybitBookSync(on_applied, max_depth=max_depth)


# venue id -> its book rules (the package's VenueSpec declares them; `normalize` reads them)
_SPEC: Final = BookSpec(_build, DEPTH, (f"orderbook.{DEPTH}.",))
BOOKS: Final[dict[str, BookSpec]] = {"bybit": _SPEC, "bybit_spot": _SPEC}
