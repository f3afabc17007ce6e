"""OKX v5 local books (swap and spot): the `books` channel, 400 levels a side.

`action: snapshot` replaces the book, `update`s apply (size "0" deletes). Sequence: every
frame carries `seqId` and `prevSeqId` (-1 on a snapshot); an update applies only when its
`prevSeqId` is the last `seqId` (equal ids and no levels: nothing changed), else the book
has a gap. A `seqId` below its `prevSeqId` is the venue's reset after maintenance and chains
on normally. Checksum: CRC32 (as a signed 32-bit int) of the top 25 bids and asks
interleaved, `bid_px:bid_sz:ask_px:ask_sz:...` with the strings exactly as sent (a side
that runs out leaves the other's levels in order); since 2026-06-23 OKX sends 0 there
(deprecated), which is not checked. Frames of 2022 carry no seqId: the checksum alone
guards them. A resync means resubscribing: OKX answers with a fresh snapshot. Swap sizes
are sent in contracts: given the exchange (`bind_exchange`, the collector's book feed does),
they are kept in base units (linear: x contract value; inverse: x USD value / price), else
(`normalize --books`) as sent. Pure: no I/O, no clock.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, Literal

import msgspec
from msgspec import UNSET, UnsetType

from microservices.common.orderbook.book import Level
from microservices.common.orderbook.sync import (
    BadLevel,
    BookSet,
    BookSpec,
    Frame,
    Resync,
    ResyncReason,
    SyncResult,
    UpdateHook,
    parse_level,
)
from microservices.data_collector.exchanges.typed import EpochMs, Wire, decoder

if TYPE_CHECKING:
    from microservices.data_collector.exchanges.base import Exchange

DEPTH: Final = 400  # levels a side of `books`: its snapshot and the default cap
CHECKED_LEVELS: Final = 25  # levels a side the checksum covers
CHANNEL: Final = "books"
MARKER: Final = '"channel":"books"'
Texts = dict[float, str]  # price -> "px:sz" as sent
Contract = tuple[float, bool]  # contract value, inverse
SPOT_CONTRACT: Final = (1.0, False)  # sizes already in base units


class Arg(Wire):
    channel: str
    instId: str


class BookData(Wire):
    asks: list[list[str]]  # [px, sz, "0" (deprecated), orders]; sz "0" removes the level
    bids: list[list[str]]
    ts: EpochMs | UnsetType = UNSET
    checksum: int = 0  # 0: none (deprecated since 2026-06-23)
    seqId: int | UnsetType = UNSET
    prevSeqId: int | UnsetType = UNSET


class BookFrame(Wire):
    arg: Arg
    action: Literal["snapshot", "update"]
    data: list[BookData]


class LaxBookFrame(Wire):
    """A book frame that failed the typed decode: its symbol, to resync it."""

    arg: Arg
    action: Any
    data: Any


_BOOK: Final = decoder(BookFrame)
_LAX: Final = decoder(LaxBookFrame)


def checksum(bids: list[str], asks: list[str]) -> int:
    """OKX's book checksum of the top levels' "px:sz" texts (best first), signed 32 bits."""
    parts: list[str] = []
    for i in range(max(len(bids), len(asks))):
        if i < len(bids):
            parts.append(bids[i])
        if i < len(asks):
            parts.append(asks[i])
    crc = zlib.crc32(":".join(parts).encode())
    return crc - (1 << 32) if crc >= 1 << 31 else crc


def _levels(raw: list[list[str]], texts: Texts, load: bool, contract: Contract) -> list[Level]:
    """Levels as floats in base units, and their texts as sent into `texts` (BadLevel before
    any is written)."""
    levels = [parse_level(item[0], item[1]) for item in raw]
    if load:
        texts.clear()
    for (px, size), item in zip(levels, raw, strict=True):
        if size:
            texts[px] = f"{item[0]}:{item[1]}"
        else:
            texts.pop(px, None)
    value, inverse = contract
    if value == 1.0 and not inverse:
        return levels
    if inverse:
        return [(px, size * value / px) for px, size in levels]
    return [(px, size * value) for px, size in levels]


class OkxBookSync:
    """The `books` of one OKX connection (swap or spot)."""

    def __init__(self, on_applied: UpdateHook | None = None, max_depth: int = DEPTH) -> None:
        self.books = BookSet("resubscribe", max_depth, on_applied)
        # the checksum needs the top 25 levels: a smaller cap cannot verify it
        self.verify = max_depth == 0 or max_depth >= CHECKED_LEVELS
        self._seq: dict[str, int] = {}  # symbol -> seqId of the last frame applied
        self._texts: dict[str, tuple[Texts, Texts]] = {}  # symbol -> (bids, asks)
        self._contract: Callable[[str], Contract] = _as_sent
        self._contracts: dict[str, Contract] = {}

    def bind_exchange(self, exchange: Exchange) -> None:
        """Keep swap sizes in base units, by the contract terms of `exchange`'s listing."""

        def contract(symbol: str) -> Contract:
            inst = exchange.listed_instrument(symbol)
            if inst is None or inst.market == "spot":
                return SPOT_CONTRACT
            return inst.contract_size, inst.inverse

        self._contract = contract
        self._contracts.clear()

    def _terms(self, symbol: str) -> Contract:
        terms = self._contracts.get(symbol)
        if terms is None:
            terms = self._contracts[symbol] = self._contract(symbol)
        return terms

    def on_frame(self, frame: Frame) -> SyncResult | None:
        """Load, apply or drop one book frame; None for any other frame."""
        try:
            message = _BOOK(frame)
        except msgspec.DecodeError:
            return self._bad_frame(frame)
        if message.arg.channel != CHANNEL:
            return None
        symbol = message.arg.instId
        if len(message.data) != 1:
            return self._resync(symbol, ResyncReason.BAD_LEVEL)
        data = message.data[0]
        if message.action == "snapshot":
            return self._snapshot(symbol, data)
        return self._update(symbol, data)

    def _snapshot(self, symbol: str, data: BookData) -> SyncResult:
        texts = self._texts.setdefault(symbol, ({}, {}))
        try:
            terms = self._terms(symbol)
            bids = _levels(data.bids, texts[0], True, terms)
            asks = _levels(data.asks, texts[1], True, terms)
        except (BadLevel, IndexError):
            return self._resync(symbol, ResyncReason.BAD_LEVEL)
        self._seq.pop(symbol, None)
        if isinstance(data.seqId, int):
            self._seq[symbol] = data.seqId
        ts_ms = data.ts if isinstance(data.ts, int) else None
        self.books.book(symbol).load(bids, asks)
        if not self._checksum_ok(symbol, data.checksum):
            return self._resync(symbol, ResyncReason.CHECKSUM)
        return self._settle(symbol, self.books.applied(symbol, self._seq.get(symbol), ts_ms, True))

    def _update(self, symbol: str, data: BookData) -> SyncResult:
        seq, prev = data.seqId, data.prevSeqId
        if not self.books.live(symbol):
            return self.books.skip(symbol, "before_snapshot", seq if isinstance(seq, int) else None)
        last = self._seq.get(symbol)
        if isinstance(seq, int):
            if last is not None and prev != last:
                return self._resync(symbol, ResyncReason.GAP)
            self._seq[symbol] = seq
            if seq == prev and not data.bids and not data.asks:
                return self.books.skip(symbol, "unchanged", seq)
        texts = self._texts[symbol]
        try:
            terms = self._terms(symbol)
            bids = _levels(data.bids, texts[0], False, terms)
            asks = _levels(data.asks, texts[1], False, terms)
        except (BadLevel, IndexError):
            return self._resync(symbol, ResyncReason.BAD_LEVEL)
        book = self.books.book(symbol)
        book.apply(bids, asks)
        self._prune(symbol)
        if not self._checksum_ok(symbol, data.checksum):
            return self._resync(symbol, ResyncReason.CHECKSUM)
        ts_ms = data.ts if isinstance(data.ts, int) else None
        return self._settle(symbol, self.books.applied(symbol, self._seq.get(symbol), ts_ms))

    def _checksum_ok(self, symbol: str, expected: int) -> bool:
        """The book's top 25 levels against the frame's checksum (0: none sent)."""
        if expected == 0 or not self.verify:
            return True
        book = self.books.book(symbol)
        bid_texts, ask_texts = self._texts[symbol]
        try:
            bids = [bid_texts[px] for px, _ in book.bids(CHECKED_LEVELS)]
            asks = [ask_texts[px] for px, _ in book.asks(CHECKED_LEVELS)]
        except KeyError:
            return False
        return checksum(bids, asks) == expected

    def _prune(self, symbol: str) -> None:
        """Forget the texts of levels the depth cap dropped (they only pile up)."""
        cap = self.books.max_depth
        bid_texts, ask_texts = self._texts[symbol]
        if cap and len(bid_texts) + len(ask_texts) > 4 * cap:
            book = self.books.book(symbol)
            kept = (
                {p: bid_texts[p] for p, _ in book.bids()},
                {p: ask_texts[p] for p, _ in book.asks()},
            )
            self._texts[symbol] = kept

    def on_rest(self, url: str, body: Frame) -> list[SyncResult]:
        """OKX books come from WebSocket snapshots only: REST answers are not used."""
        return []

    def reconnect(self) -> list[Resync]:
        """A new connection: its subscriptions bring a fresh snapshot per book."""
        self._seq.clear()
        self._texts.clear()
        self._contracts.clear()  # the listing may have changed meanwhile
        return self.books.resync_all(ResyncReason.RECONNECT)

    def drop(self, symbol: str) -> None:
        """Forget `symbol` (idle or unsubscribed): updates wait for its next snapshot."""
        self._seq.pop(symbol, None)
        self._texts.pop(symbol, None)
        self.books.drop(symbol)

    def _resync(self, symbol: str, reason: ResyncReason) -> Resync:
        self._seq.pop(symbol, None)
        return self.books.resync(symbol, reason)

    def _settle(self, symbol: str, result: SyncResult) -> SyncResult:
        if isinstance(result, Resync):  # crossed: wait for the resubscription's snapshot
            self._seq.pop(symbol, None)
        return result

    def _bad_frame(self, frame: Frame) -> Resync | None:
        """A book frame with a malformed level or id: never applied in part, the book is
        rebuilt; None when the frame is not a book frame (an ack, another channel)."""
        try:
            lax = _LAX(frame)
        except msgspec.DecodeError:
            return None
        if lax.arg.channel != CHANNEL:
            return None
        return self._resync(lax.arg.instId, ResyncReason.BAD_LEVEL)


def _as_sent(symbol: str) -> Contract:
    return SPOT_CONTRACT


def _build(on_applied: UpdateHook | None, max_depth: int) -> OkxBookSync:
    return OkxBookSync(on_applied, max_depth)


# venue id -> its book rules (the package's VenueSpec declares them; `normalize` reads them)
_SPEC: Final = BookSpec(_build, DEPTH, (MARKER,))
BOOKS: Final[dict[str, BookSpec]] = {"okx": _SPEC, "okx_spot": _SPEC}
