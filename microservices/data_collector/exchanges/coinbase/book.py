"""Coinbase Exchange local books: the public `level2_batch` channel (same messages as `level2`).

A `snapshot` message ({product_id, bids, asks}) loads the book, `l2update` messages
({product_id, changes: [["buy"|"sell", price, size]], time}) apply to it (size "0" deletes).
These messages carry NO sequence number, so a lost or reordered update cannot be detected:
only a crossed book (or a malformed level) and a reconnect trigger a resync, which means
resubscribing (the venue answers with a fresh snapshot). Updates before any snapshot are
dropped. Pure: no I/O, no clock.
"""

from __future__ import annotations

from typing import Any, Final, Literal

import msgspec

from microservices.common.orderbook.book import Level
from microservices.common.orderbook.sync import (
    BookSet,
    BookSpec,
    Frame,
    Resync,
    ResyncReason,
    SyncResult,
    UpdateHook,
    WireLevel,
    WirePrice,
    WireSize,
)
from microservices.data_collector.exchanges._iso_time import iso_epoch_ms
from microservices.data_collector.exchanges.base import PARSE_ERRORS
from microservices.data_collector.exchanges.typed import Wire, decoder

CHANNEL: Final = "level2_batch"
DEFAULT_DEPTH: Final = 1_000  # levels kept per side of the whole-book snapshot
Change = tuple[Literal["buy", "sell"], WirePrice, WireSize]


class Snapshot(Wire, tag_field="type", tag="snapshot"):
    product_id: str
    bids: list[WireLevel]
    asks: list[WireLevel]


class L2Update(Wire, tag_field="type", tag="l2update"):
    product_id: str
    changes: list[Change]  # [side, price, new size]; size 0 removes the level
    time: Any = None  # ISO-8601 (absent in some recorded frames)


class LaxBookMessage(Wire):
    """A book message that failed the typed decode: its product, to resync it."""

    type: Literal["snapshot", "l2update"]
    product_id: str


_DECODE: Final = decoder(Snapshot | L2Update)
_LAX: Final = decoder(LaxBookMessage)


def split_changes(changes: list[Change]) -> tuple[list[Level], list[Level]]:
    """(bids, asks) of an l2update's changes, in their order."""
    bids: list[Level] = []
    asks: list[Level] = []
    for side, price, size in changes:
        (bids if side == "buy" else asks).append((price, size))
    return bids, asks


def _time_ms(value: Any) -> int | None:
    """Epoch ms of an l2update's `time`, None when absent or out of range."""
    if value is None:
        return None
    try:
        return iso_epoch_ms(value)
    except PARSE_ERRORS:
        return None


class CoinbaseBookSync:
    """The `level2_batch` books of one Coinbase connection, by product id."""

    def __init__(
        self, on_applied: UpdateHook | None = None, max_depth: int = DEFAULT_DEPTH
    ) -> None:
        self.books = BookSet("resubscribe", max_depth, on_applied)

    def on_frame(self, frame: Frame) -> SyncResult | None:
        """Load or apply one level2 message; None for any other message."""
        try:
            message = _DECODE(frame)
        except msgspec.DecodeError:
            return self._bad_message(frame)
        product = message.product_id
        if isinstance(message, Snapshot):
            return self.books.load(product, (message.bids, message.asks), None, None)
        if not self.books.live(product):
            return self.books.skip(product, "before_snapshot")
        self.books.book(product).apply(*split_changes(message.changes))
        return self.books.applied(product, None, _time_ms(message.time))

    def on_rest(self, url: str, body: Frame) -> list[SyncResult]:
        """Coinbase books come from the WebSocket snapshot only: REST answers are not used."""
        return []

    def reconnect(self) -> list[Resync]:
        """A new connection: updates may have been lost, every book waits for its snapshot."""
        return self.books.resync_all(ResyncReason.RECONNECT)

    def drop(self, symbol: str) -> None:
        """Forget `symbol` (idle or unsubscribed): updates wait for its next snapshot."""
        self.books.drop(symbol)

    def _bad_message(self, frame: Frame) -> Resync | None:
        """A book message with a malformed level: never applied in part, the book is
        rebuilt; None when the frame is not a book message at all."""
        try:
            lax = _LAX(frame)
        except msgspec.DecodeError:
            return None
        return self.books.resync(lax.product_id, ResyncReason.BAD_LEVEL)


def _build(on_applied: UpdateHook | None, max_depth: int) -> CoinbaseBookSync:
    return CoinbaseBookSync(on_applied, max_depth)


# venue id -> its book rules (the package's VenueSpec declares them; `normalize` reads them).
# The level2 snapshot is the whole book (tens of thousands of levels on BTC-USD): 1,000 per
# side are kept, like Binance's snapshot
BOOKS: Final[dict[str, BookSpec]] = {
    "coinbase": BookSpec(_build, DEFAULT_DEPTH, ("l2update", '"snapshot"')),
}
