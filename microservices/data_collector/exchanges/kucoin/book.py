"""KuCoin books from the public 50-level depth channels: spot `/spotMarket/level2Depth50:{sym}`
and futures `/contractMarket/level2Depth50:{sym}` (subject `level2`).

KuCoin's full L2 REST snapshot needs an API key, so the public books are these channels:
every push (about every 100 ms) is a whole 50-level snapshot, so the book is 50 levels deep
and carries no sequence number. Each frame replaces the book; a frame older (by its
`timestamp`, ms) than the one applied is dropped (`out_of_order`). A lost frame cannot be
detected but does no harm: the next one is whole. A malformed level resyncs (`bad_level`),
a crossed book is never published (`crossed`); a resync resubscribes. Futures sizes are
contracts: with the exchange bound (`bind_exchange`, the collector's BookFeed) they become
base units through the contract multiplier of the listing. Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

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
    WireLevel,
)
from microservices.data_collector.exchanges.base import Exchange
from microservices.data_collector.exchanges.typed import Wire, decoder

DEPTH: Final = 50  # levels per push: the book's depth and cap
CHANNELS: Final = ("/spotMarket/level2Depth50:", "/contractMarket/level2Depth50:")
MARKER: Final = "level2Depth50:"


class DepthData(Wire):
    asks: list[WireLevel]  # [price, size], best first (futures sizes: contracts)
    bids: list[WireLevel]
    timestamp: int | UnsetType = UNSET  # push time (ms)


class DepthFrame(Wire):
    topic: str  # <channel><symbol>
    data: DepthData


class LaxFrame(Wire):
    """A depth frame that failed the typed decode: its topic, to resync the symbol."""

    topic: str
    data: Any


_DEPTH: Final = decoder(DepthFrame)
_LAX: Final = decoder(LaxFrame)


def book_symbol(topic: str) -> str | None:
    """The venue symbol of a depth topic; None for any other topic."""
    for channel in CHANNELS:
        if topic.startswith(channel):
            return topic[len(channel) :]
    return None


class KucoinBookSync:
    """The level2Depth50 books of one KuCoin connection (spot or futures)."""

    def __init__(self, on_applied: UpdateHook | None = None, max_depth: int = DEPTH) -> None:
        self.books = BookSet("resubscribe", max_depth, on_applied)
        self._last_ms: dict[str, int] = {}  # symbol -> timestamp of the frame applied
        self._exchange: Exchange | None = None
        self._lots: dict[str, float] = {}  # symbol -> base units per contract (futures)

    def bind_exchange(self, exchange: Exchange) -> None:
        """Read futures contract sizes from `exchange`'s listing (without it, or for an
        unlisted contract, sizes stay in contracts); spot sizes are base units already."""
        self._exchange = exchange if exchange.market != "spot" else None
        self._lots.clear()

    def _levels(self, symbol: str, levels: Sequence[Level]) -> Sequence[Level]:
        """Levels in base units: contracts x the contract size (futures, exchange bound)."""
        if self._exchange is None:
            return levels
        lot = self._lots.get(symbol)
        if lot is None:
            inst = self._exchange.listed_instrument(symbol)
            lot = self._lots[symbol] = 1.0 if inst is None else inst.contract_size
        return levels if lot == 1.0 else [(price, size * lot) for price, size in levels]

    def on_frame(self, frame: Frame) -> SyncResult | None:
        """Replace the book of the frame's symbol, or drop the frame; None for other frames."""
        try:
            message = _DEPTH(frame)
        except msgspec.DecodeError:
            return self._bad_frame(frame)
        symbol = book_symbol(message.topic)
        if symbol is None:
            return None
        data = message.data
        ts_ms = data.timestamp if isinstance(data.timestamp, int) else None
        last = self._last_ms.get(symbol)
        if ts_ms is not None and last is not None and ts_ms < last:
            return self.books.skip(symbol, "out_of_order")
        if ts_ms is not None:
            self._last_ms[symbol] = ts_ms
        bids, asks = self._levels(symbol, data.bids), self._levels(symbol, data.asks)
        if not self.books.live(symbol):  # first frame, or after a resync: a (re)load
            return self._settle(symbol, self.books.load(symbol, (bids, asks), None, ts_ms))
        self.books.book(symbol).load(bids, asks)  # the next whole snapshot
        return self._settle(symbol, self.books.applied(symbol, None, ts_ms, snapshot=True))

    def on_rest(self, url: str, body: Frame) -> list[SyncResult]:
        """KuCoin books come from the depth channel only: REST answers are not used."""
        return []

    def reconnect(self) -> list[Resync]:
        """A new connection: its subscriptions bring fresh snapshots."""
        self._last_ms.clear()
        return self.books.resync_all(ResyncReason.RECONNECT)

    def drop(self, symbol: str) -> None:
        """Forget `symbol` (idle or unsubscribed)."""
        self._last_ms.pop(symbol, None)
        self.books.drop(symbol)

    def _settle(self, symbol: str, result: SyncResult) -> SyncResult:
        if isinstance(result, Resync):
            self._last_ms.pop(symbol, None)
        return result

    def _bad_frame(self, frame: Frame) -> Resync | None:
        """A depth frame with a malformed level: never applied in part, the book is rebuilt;
        None when the frame is no depth frame at all."""
        try:
            lax = _LAX(frame)
        except msgspec.DecodeError:
            return None
        symbol = book_symbol(lax.topic)
        if symbol is None:
            return None
        self._last_ms.pop(symbol, None)
        return self.books.resync(symbol, ResyncReason.BAD_LEVEL)


def _build(on_applied: UpdateHook | None, max_depth: int) -> KucoinBookSync:
    return KucoinBookSync(on_applied, max_depth)


# venue id -> its book rules (the package's VenueSpec declares them; `normalize` reads them)
_SPEC: Final = BookSpec(_build, DEPTH, (MARKER,))
BOOKS: Final[dict[str, BookSpec]] = {"kucoin": _SPEC, "kucoin_futures": _SPEC}
