"""Bitget v2 local books (USDT-FUTURES and SPOT): the `books` channel, a `snapshot` then
`update` frames, each with a CRC32 `checksum` of the book after it.

Rules (Bitget "Depth Channel", v2 docs): a snapshot replaces the book; an update merges
(size "0" deletes, a new price inserts, a known one replaces); an update before any snapshot
is dropped. `seq`, where sent, increases: an update with `seq` <= the last is a duplicate or
out of order, dropped. After every frame the top 25 bids and asks, interleaved as
`bid1price:bid1size:ask1price:ask1size:bid2...` (a side that runs out is left out) with the
price and size strings exactly as received, must have the CRC32 (read as a signed 32-bit
integer) the frame states; a mismatch resyncs (`checksum`) by resubscribing, which brings a
fresh snapshot. Snapshots state checksum 0 (every recorded one does): not checked then.
Pure: no I/O, no clock.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
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

CHECKSUM_LEVELS: Final = 25  # levels a side the checksum covers
DEPTH: Final = 400  # levels a side kept by default (`books` sends the whole book)
MARKER: Final = '"channel":"books"'  # `books1/5/15` are other channels (not followed)

Strings = dict[float, tuple[str, str]]  # price -> (price, size) as received


class BookArg(Wire):
    instType: str
    channel: str
    instId: str


class BookData(Wire):
    asks: list[WireLevel]  # [price, size]; size 0 removes the level
    bids: list[WireLevel]
    checksum: int  # signed CRC32 of the top 25 levels after this frame
    ts: int  # match-engine time (ms, a string)
    seq: int | UnsetType = UNSET  # increasing update number (not contiguous)


class BookFrame(Wire):
    action: Literal["snapshot", "update"]
    arg: BookArg
    data: list[BookData]


class RawData(Wire):
    asks: list[tuple[str, str]]
    bids: list[tuple[str, str]]


class RawFrame(Wire):
    """The level strings of a frame (the checksum is over the text as sent)."""

    data: list[RawData]


class LaxFrame(Wire):
    """A book data frame that failed the typed decode: its symbol, to resync it (acks carry
    an `arg` but no `action` and no `data`)."""

    action: str
    arg: BookArg
    data: Any


_BOOK: Final = decoder(BookFrame)
_RAW: Final = msgspec.json.Decoder(RawFrame).decode
_LAX: Final = decoder(LaxFrame)


def checksum(bids: Iterable[tuple[str, str]], asks: Iterable[tuple[str, str]]) -> int:
    """Bitget's book checksum of the best-first level strings: CRC32 of the top 25 levels a
    side interleaved `bid:size:ask:size:...` (the longer side's rest after), as a signed
    32-bit integer."""
    top_bids, top_asks = list(bids)[:CHECKSUM_LEVELS], list(asks)[:CHECKSUM_LEVELS]
    pairs = min(len(top_bids), len(top_asks))
    parts = [f"{bp}:{bs}:{ap}:{az}" for (bp, bs), (ap, az) in zip(top_bids, top_asks, strict=False)]
    parts += [f"{p}:{z}" for p, z in (top_bids[pairs:] or top_asks[pairs:])]
    crc = zlib.crc32(":".join(parts).encode())
    return crc - (1 << 32) if crc >= 1 << 31 else crc


def _merge(strings: Strings, levels: list[tuple[str, str]], prices: list[Any]) -> None:
    """Keep the text of each level set by a frame (`prices`: the same levels decoded)."""
    for (price, _size), text in zip(prices, levels, strict=True):
        if _size == 0.0:
            strings.pop(price, None)
        else:
            strings[price] = text


class BitgetBookSync:
    """The `books` of one Bitget connection (futures or spot)."""

    def __init__(
        self, inst_type: str, on_applied: UpdateHook | None = None, max_depth: int = DEPTH
    ) -> None:
        self.inst_type = inst_type  # SPOT or USDT-FUTURES: other markets' frames are not ours
        # the checksum needs the top 25 levels: never keep fewer
        self.books = BookSet("resubscribe", max(max_depth, CHECKSUM_LEVELS), on_applied)
        self._seq: dict[str, int] = {}  # symbol -> seq of the last frame applied
        self._strings: dict[str, tuple[Strings, Strings]] = {}  # symbol -> bids, asks text

    def on_frame(self, frame: Frame) -> SyncResult | None:
        """Load, apply or drop one book frame; None for any other frame."""
        try:
            message = _BOOK(frame)
            raw = _RAW(frame).data
        except msgspec.DecodeError:
            return self._bad_frame(frame)
        if message.arg.channel != "books" or message.arg.instType != self.inst_type:
            return None
        if len(message.data) != 1 or len(raw) != 1:
            return self._resync_bad(message.arg)
        symbol, data = message.arg.instId, message.data[0]
        seq = data.seq if isinstance(data.seq, int) else None
        snapshot = message.action == "snapshot"
        if snapshot:
            if self.books.live(symbol):
                self.books.stats.resyncs[ResyncReason.VENUE_RESET.value] += 1
            self.books.book(symbol).load(data.bids, data.asks)
            self._strings[symbol] = ({}, {})
        else:
            if not self.books.live(symbol):
                return self.books.skip(symbol, "before_snapshot", seq)
            if seq is not None and seq <= self._seq.get(symbol, -1):
                return self.books.skip(symbol, "out_of_order", seq)
            self.books.book(symbol).apply(data.bids, data.asks)
        bid_text, ask_text = self._strings[symbol]
        _merge(bid_text, raw[0].bids, data.bids)
        _merge(ask_text, raw[0].asks, data.asks)
        # snapshots state 0 (no checksum); every update states the book's
        if (data.checksum != 0 or not snapshot) and self._checksum(symbol) != data.checksum:
            self._forget(symbol)
            return self.books.resync(symbol, ResyncReason.CHECKSUM)
        return self._publish(symbol, seq, data.ts, snapshot)

    def _checksum(self, symbol: str) -> int | None:
        """The checksum of the book as held (None when a level lost its text)."""
        book, (bid_text, ask_text) = self.books.book(symbol), self._strings[symbol]
        try:
            bids = [bid_text[price] for price, _ in book.bids(CHECKSUM_LEVELS)]
            asks = [ask_text[price] for price, _ in book.asks(CHECKSUM_LEVELS)]
        except KeyError:
            return None
        return checksum(bids, asks)

    def _publish(self, symbol: str, seq: int | None, ts_ms: int, snapshot: bool) -> SyncResult:
        """A verified book: published unless crossed (then resynced)."""
        result = self.books.applied(symbol, seq, ts_ms, snapshot=snapshot)
        if isinstance(result, Resync):  # crossed: wait for the resubscription's snapshot
            self._forget(symbol)
            return result
        if seq is not None:
            self._seq[symbol] = seq
        bid_text, ask_text = self._strings[symbol]
        if len(bid_text) + len(ask_text) > 4 * self.books.max_depth:
            self._prune(symbol)
        return result

    def _prune(self, symbol: str) -> None:
        """Drop the text of levels the depth cap removed from the book."""
        book, (bid_text, ask_text) = self.books.book(symbol), self._strings[symbol]
        self._strings[symbol] = (
            {p: bid_text[p] for p, _ in book.bids() if p in bid_text},
            {p: ask_text[p] for p, _ in book.asks() if p in ask_text},
        )

    def on_rest(self, url: str, body: Frame) -> list[SyncResult]:
        """Bitget books come from WebSocket snapshots only: REST answers are not used."""
        return []

    def reconnect(self) -> list[Resync]:
        """A new connection: its subscriptions bring a fresh snapshot per book."""
        self._seq.clear()
        self._strings.clear()
        return self.books.resync_all(ResyncReason.RECONNECT)

    def drop(self, symbol: str) -> None:
        """Forget `symbol` (idle or unsubscribed): updates wait for its next snapshot."""
        self._forget(symbol)
        self.books.drop(symbol)

    def _forget(self, symbol: str) -> None:
        self._seq.pop(symbol, None)
        self._strings.pop(symbol, None)

    def _resync_bad(self, arg: BookArg) -> Resync:
        self._forget(arg.instId)
        return self.books.resync(arg.instId, ResyncReason.BAD_LEVEL)

    def _bad_frame(self, frame: Frame) -> Resync | None:
        """A frame of a followed book with a malformed level (or field): never applied in
        part, the book is rebuilt; None when the frame is not a `books` frame at all."""
        try:
            lax = _LAX(frame)
        except msgspec.DecodeError:
            return None
        arg = lax.arg
        if arg.channel != "books" or arg.instType != self.inst_type or not arg.instId:
            return None
        return self._resync_bad(lax.arg)


def _futures(on_applied: UpdateHook | None, max_depth: int) -> BitgetBookSync:
    return BitgetBookSync("USDT-FUTURES", on_applied, max_depth=max_depth)


def _spot(on_applied: UpdateHook | None, max_depth: int) -> BitgetBookSync:
    return BitgetBookSync("SPOT", on_applied, max_depth=max_depth)


# venue id -> its book rules (the package's VenueSpec declares them; `normalize` reads them)
BOOKS: Final[dict[str, BookSpec]] = {
    "bitget": BookSpec(_futures, DEPTH, (MARKER,)),
    "bitget_spot": BookSpec(_spot, DEPTH, (MARKER,)),
}
