"""Deribit local books: `book.{instrument}.100ms` (public; `.raw` needs auth, same frames).

The first notification of a subscription is `type: "snapshot"` (every level `["new", price,
amount]`); then `type: "change"` notifications carry `["new"|"change"|"delete", price,
amount]` levels and chain by ids: a change's `prev_change_id` must equal the `change_id` of
the last frame applied, else updates were lost (`gap`). A change whose `change_id` is not
above the last one is a repeat, dropped. Frames of 2019 carry no `type`: one without
`prev_change_id` is a snapshot. Deribit publishes no checksum. A resync means resubscribing:
the venue answers with a fresh snapshot. Amounts of inverse futures and perpetuals are USD;
their levels are kept in base units (amount / price), like every other venue's book.
Pure: no I/O, no clock.
"""

from __future__ import annotations

from typing import Final, Literal

import msgspec
from msgspec import UNSET, UnsetType

from microservices.common.orderbook.book import Level
from microservices.common.orderbook.sync import (
    BookSet,
    BookSpec,
    Frame,
    Resync,
    ResyncReason,
    SyncResult,
    UpdateHook,
    WirePrice,
    WireSize,
)
from microservices.data_collector.exchanges.deribit.listing import symbol_instrument
from microservices.data_collector.exchanges.deribit.state import Contract
from microservices.data_collector.exchanges.typed import Wire, decoder

DEPTH: Final = 1000  # levels kept per side by default (the 100 ms book is the whole book)
INTERVALS: Final = frozenset({"100ms", "raw", "agg2"})  # book.{instrument}.{interval}
Action = Literal["new", "change", "delete"]
WireAction = tuple[Action, WirePrice, WireSize]


class BookData(Wire):
    instrument_name: str
    change_id: int
    bids: list[WireAction]
    asks: list[WireAction]
    type: Literal["snapshot", "change"] | UnsetType = UNSET
    prev_change_id: int | UnsetType = UNSET
    timestamp: int | UnsetType = UNSET  # ms


class BookParams(Wire):
    channel: str
    data: BookData


class BookFrame(Wire):
    params: BookParams


class LaxData(Wire):
    instrument_name: str


class LaxParams(Wire):
    channel: str
    data: LaxData


class LaxBookFrame(Wire):
    """A book frame that failed the typed decode: its instrument, to resync it."""

    params: LaxParams


_BOOK: Final = decoder(BookFrame)
_LAX: Final = decoder(LaxBookFrame)


def levels(actions: list[WireAction], usd_amounts: bool = False) -> list[Level]:
    """(price, size) changes of a frame's side: "delete" removes the level (size 0); USD
    amounts (inverse contracts) become base units at the level's price."""
    if usd_amounts:
        return [(p, 0.0 if a == "delete" else size / p) for a, p, size in actions]
    return [(price, 0.0 if action == "delete" else size) for action, price, size in actions]


def usd_amounts(venue_symbol: str) -> bool:
    """Whether the book's amounts are USD: an inverse future or perpetual by Deribit's naming
    (`BTC-PERPETUAL`, `BTC-27DEC24`; the listing agrees); options and linear contracts are
    in base coin."""
    inst = symbol_instrument(venue_symbol)
    return inst is not None and Contract.of(inst).usd_amounts


def is_book_channel(channel: str) -> bool:
    """`book.{instrument}.{interval}`: not the grouped `book.{inst}.{group}.{depth}.{ivl}`."""
    parts = channel.split(".")
    return len(parts) == 3 and parts[0] == "book" and parts[2] in INTERVALS


class DeribitBookSync:
    """The `book.{instrument}.100ms` books of one Deribit connection."""

    def __init__(self, on_applied: UpdateHook | None = None, max_depth: int = DEPTH) -> None:
        self.books = BookSet("resubscribe", max_depth, on_applied)
        self._last: dict[str, int] = {}  # instrument -> change_id of the last frame applied
        self._usd: dict[str, bool] = {}  # instrument -> whether its amounts are USD

    def on_frame(self, frame: Frame) -> SyncResult | None:
        """Load, apply or drop one book frame; None for any other frame."""
        try:
            message = _BOOK(frame)
        except msgspec.DecodeError:
            return self._bad_frame(frame)
        if not is_book_channel(message.params.channel):
            return None
        data = message.params.data
        symbol, ts_ms = data.instrument_name, data.timestamp or None
        usd = self._usd.get(symbol)
        if usd is None:
            usd = self._usd[symbol] = usd_amounts(symbol)
        snapshot = data.type == "snapshot" or (data.type is UNSET and data.prev_change_id is UNSET)
        if snapshot:
            self._last[symbol] = data.change_id
            sides = (levels(data.bids, usd), levels(data.asks, usd))
            loaded = self.books.load(symbol, sides, data.change_id, ts_ms)
            return self._settle(symbol, loaded)
        if not self.books.live(symbol):
            return self.books.skip(symbol, "before_snapshot", data.change_id)
        last = self._last[symbol]
        if data.change_id <= last:
            return self.books.skip(symbol, "duplicate", data.change_id)
        if data.prev_change_id != last:
            self._last.pop(symbol, None)
            return self.books.resync(symbol, ResyncReason.GAP)
        self._last[symbol] = data.change_id
        self.books.book(symbol).apply(levels(data.bids, usd), levels(data.asks, usd))
        return self._settle(symbol, self.books.applied(symbol, data.change_id, ts_ms))

    def on_rest(self, url: str, body: Frame) -> list[SyncResult]:
        """Deribit books come from WebSocket snapshots only: REST answers are not used."""
        return []

    def reconnect(self) -> list[Resync]:
        """A new connection: its subscriptions bring a fresh snapshot per book."""
        self._last.clear()
        return self.books.resync_all(ResyncReason.RECONNECT)

    def drop(self, symbol: str) -> None:
        """Forget `symbol` (idle or unsubscribed): changes wait for its next snapshot."""
        self._last.pop(symbol, None)
        self._usd.pop(symbol, None)
        self.books.drop(symbol)

    def _settle(self, symbol: str, result: SyncResult) -> SyncResult:
        if isinstance(result, Resync):  # crossed: wait for the resubscription's snapshot
            self._last.pop(symbol, None)
        return result

    def _bad_frame(self, frame: Frame) -> Resync | None:
        """A frame of a book with a malformed level or id: never applied in part, the book is
        rebuilt; None when the frame is not a book frame at all."""
        try:
            lax = _LAX(frame)
        except msgspec.DecodeError:
            return None
        if not is_book_channel(lax.params.channel):
            return None
        self._last.pop(lax.params.data.instrument_name, None)
        return self.books.resync(lax.params.data.instrument_name, ResyncReason.BAD_LEVEL)


def _build(on_applied: UpdateHook | None, max_depth: int) -> DeribitBookSync:
    return DeribitBookSync(on_applied, max_depth)


# the package's VenueSpec declares it; `normalize --books` reads it
BOOKS: Final = BookSpec(_build, DEPTH, ('"channel":"book.',))
