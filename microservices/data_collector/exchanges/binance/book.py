"""Binance local books, spot and USDⓈ-M: `<sym>@depth@100ms` diffs synced from the REST
depth snapshot (`/api/v3/depth`, `/fapi/v1/depth`) by Binance's documented procedure.

Events are buffered until a snapshot arrives; events older than it are dropped (spot
`u <= lastUpdateId`, futures `u < lastUpdateId`); the first applied event must straddle it
(spot `U <= lastUpdateId+1 <= u`, futures `U <= lastUpdateId <= u`), else the snapshot is
stale and fetched again; afterwards spot needs `U == prev_u + 1`, futures `pu == prev_u`, else
the book is rebuilt from a new REST snapshot. Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, Literal
from urllib.parse import parse_qs, urlsplit

import msgspec
from msgspec import UNSET, UnsetType

from microservices.common.orderbook.snapshot_sync import (
    SnapshotSync,
    buffer_delta,
    load_and_replay,
    snapshot_failed,
)
from microservices.common.orderbook.sync import (
    BadLevel,
    BookSet,
    BookSpec,
    BookSyncFactory,
    Frame,
    Resync,
    ResyncReason,
    SyncResult,
    UpdateHook,
    WireLevel,
    parse_levels,
)
from microservices.data_collector.exchanges.base import RestRequest
from microservices.data_collector.exchanges.typed import Wire, decoder

DEPTH_STREAM: Final = "depth@100ms"  # stream suffix: `<sym>@depth@100ms`
SNAPSHOT_LIMIT: Final = 1000  # levels per side of the REST snapshot by default (the book cap)
# (limit, request weight) of the depth snapshot endpoints (exchange-protocols.md 1.1, 2.1)
SPOT_LIMITS: Final = ((100, 5), (500, 25), (1000, 50), (5000, 250))
FUTURES_LIMITS: Final = ((50, 2), (100, 5), (500, 10), (1000, 20))
MAX_BUFFERED: Final = 1000  # events kept per symbol while awaiting a snapshot (100 s)


class DepthUpdate(Wire):
    e: Literal["depthUpdate"]  # required: a tag alone may be absent (spot bookTicker has none)
    s: str  # symbol
    U: int  # first update id in the event
    u: int  # last update id in the event
    b: list[WireLevel]  # bids [price, size]; size 0 removes the level
    a: list[WireLevel]  # asks
    E: int | UnsetType = UNSET  # event time (ms)
    pu: int | UnsetType = UNSET  # USDⓈ-M: the previous event's `u`


class DepthFrame(Wire):
    data: DepthUpdate  # combined stream `{"stream": "<sym>@depth@100ms", "data": {...}}`


class LaxDepth(Wire):
    """A depth event whose levels failed the typed decode: its symbol, to resync it."""

    e: Literal["depthUpdate"]
    s: str
    b: Any
    a: Any


class LaxDepthFrame(Wire):
    data: LaxDepth


class DepthSnapshot(Wire):
    lastUpdateId: int  # the book as of this update id
    bids: list[WireLevel]
    asks: list[WireLevel]


_FRAME: Final = decoder(DepthFrame)
_RAW: Final = decoder(DepthUpdate)
_LAX_FRAME: Final = decoder(LaxDepthFrame)
_LAX_RAW: Final = decoder(LaxDepth)
_SNAPSHOT: Final = decoder(DepthSnapshot)
# tried in turn: typed first (the usual frame), lax only to name the symbol of a bad one
_READERS: Final[tuple[Callable[[Frame], DepthUpdate | LaxDepth], ...]] = (
    lambda frame: _FRAME(frame).data,
    _RAW,
    lambda frame: _LAX_FRAME(frame).data,
    _LAX_RAW,
)


def decode_depth(frame: Frame) -> DepthUpdate | LaxDepth | None:
    """The depth event of a combined-stream or raw frame; LaxDepth when its levels (or ids)
    are not valid numbers; None for any other frame."""
    for read in _READERS:
        try:
            return read(frame)
        except msgspec.DecodeError:
            continue
    return None


_Sync = SnapshotSync[DepthUpdate]


class BinanceBookSync:
    """Spot or USDⓈ-M books of one connection, synced from REST depth snapshots."""

    def __init__(
        self,
        futures: bool = False,
        on_applied: UpdateHook | None = None,
        max_depth: int = SNAPSHOT_LIMIT,
        max_buffered: int = MAX_BUFFERED,
    ) -> None:
        self.futures = futures
        self.books = BookSet("rest_snapshot", max_depth, on_applied)
        self.max_buffered = max_buffered
        self.snapshot_path = "/fapi/v1/depth" if futures else "/api/v3/depth"
        self._syncs: dict[str, _Sync] = {}

    def snapshot_request(self, symbol: str) -> RestRequest:
        """The REST depth snapshot of `symbol` (venue spelling): the smallest documented
        `limit` covering the book's cap, at that limit's request weight."""
        table = FUTURES_LIMITS if self.futures else SPOT_LIMITS
        cap = self.books.max_depth or SNAPSHOT_LIMIT
        limit, weight = next(((n, w) for n, w in table if n >= cap), table[-1])
        params = {"symbol": symbol, "limit": str(limit)}
        return RestRequest(self.snapshot_path, params, weight)

    def on_frame(self, frame: Frame) -> SyncResult | None:
        """Buffer, apply or drop one depth event; None when the frame is not one."""
        event = decode_depth(frame)
        if event is None:
            return None
        if isinstance(event, LaxDepth):
            return self._bad_event(event)
        sync = self._syncs.get(event.s)
        if sync is None:
            sync = self._syncs[event.s] = _Sync()
        if sync.last_id is None:
            return self._buffer(sync, event)
        return self._step(sync, event)

    def on_rest(self, url: str, body: Frame) -> list[SyncResult]:
        """A recorded REST answer: the depth snapshot of the symbol in its query, else []."""
        parts = urlsplit(url)
        symbols = parse_qs(parts.query).get("symbol")
        if not parts.path.endswith(self.snapshot_path) or not symbols:
            return []
        return self.on_snapshot(symbols[0].upper(), body)

    def on_snapshot(self, symbol: str, body: Frame) -> list[SyncResult]:
        """Load the depth snapshot of `symbol`, then replay its buffered events."""
        sync = self._syncs.setdefault(symbol, _Sync())
        try:
            snapshot = _SNAPSHOT(body)
        except msgspec.DecodeError:
            return [snapshot_failed(self.books, symbol, sync, self._snapshot_fault(body))]
        loaded = (snapshot.lastUpdateId, snapshot.bids, snapshot.asks)
        return load_and_replay(self.books, symbol, sync, loaded, self._step)

    def reconnect(self) -> list[Resync]:
        """A new connection: every book waits for a new snapshot and fresh events."""
        self._syncs.clear()
        return self.books.resync_all(ResyncReason.RECONNECT)

    def drop(self, symbol: str) -> None:
        """Forget `symbol` (idle or unsubscribed): its next event is buffered anew."""
        self._syncs.pop(symbol, None)
        self.books.drop(symbol)

    # ------------------------------------------------------------------ rules
    def _buffer(self, sync: _Sync, event: DepthUpdate) -> SyncResult:
        key = (event.s, event.u, _event_ms(event))
        return buffer_delta(self.books, sync, event, key, self.max_buffered)

    def _step(self, sync: _Sync, event: DepthUpdate) -> SyncResult:
        """Apply `event` to a book loaded from a snapshot, drop it, or demand a resync."""
        last = sync.last_id
        assert last is not None  # only called once a snapshot is loaded
        first = event.U
        if sync.live:
            if event.u <= last:
                return self.books.skip(event.s, "duplicate", event.u)
            reason = self._chain_break(last, event)
        elif event.u < last or (event.u == last and not self.futures):
            return self.books.skip(event.s, "stale", event.u)  # the snapshot covers it
        elif first <= last + (0 if self.futures else 1):
            reason = None  # straddles the snapshot
        else:
            reason = ResyncReason.STALE_SNAPSHOT
        if reason is not None:
            return self._restart(sync, event, reason)
        self.books.book(event.s).apply(event.b, event.a)
        sync.last_id, sync.live = event.u, True
        result = self.books.applied(event.s, event.u, _event_ms(event))
        if isinstance(result, Resync):  # crossed: start over from a new snapshot
            sync.last_id, sync.live = None, False
        return result

    def _chain_break(self, last: int, event: DepthUpdate) -> ResyncReason | None:
        """None when `event` continues the chain after update id `last`, else why the book
        must be rebuilt (a skipped id, or an event overlapping the last one applied)."""
        previous = event.pu if self.futures and isinstance(event.pu, int) else event.U - 1
        if previous == last:
            return None
        return ResyncReason.GAP if previous > last else ResyncReason.OUT_OF_ORDER

    def _restart(self, sync: _Sync, event: DepthUpdate, reason: ResyncReason) -> Resync:
        """Drop the book and buffer `event` as the first of the next sync: after a gap it may
        straddle the next snapshot; after a stale snapshot the events were fine."""
        sync.restart(keep=[event])
        return self.books.resync(event.s, reason)

    def _bad_event(self, event: LaxDepth) -> Resync:
        """An event with a malformed level: never applied in part; the book is rebuilt."""
        self._syncs.setdefault(event.s, _Sync()).restart()
        return self.books.resync(event.s, ResyncReason.BAD_LEVEL)

    def _snapshot_fault(self, body: Frame) -> ResyncReason:
        """Why a snapshot answer did not decode: bad levels, or not a snapshot at all."""
        try:
            raw = msgspec.json.decode(body)
        except msgspec.DecodeError:
            return ResyncReason.BAD_SNAPSHOT
        if not isinstance(raw, dict) or "bids" not in raw or "asks" not in raw:
            return ResyncReason.BAD_SNAPSHOT  # an error body, or no answer of this endpoint
        try:
            parse_levels(raw["bids"]), parse_levels(raw["asks"])
        except BadLevel:
            return ResyncReason.BAD_LEVEL
        return ResyncReason.BAD_SNAPSHOT  # levels fine, the ids are not


def _event_ms(event: DepthUpdate) -> int | None:
    return event.E if isinstance(event.E, int) else None


def _factory(futures: bool) -> BookSyncFactory:
    def build(on_applied: UpdateHook | None, max_depth: int) -> BinanceBookSync:
        return BinanceBookSync(futures, on_applied, max_depth)

    return build


# venue id -> its book rules (the package's VenueSpec declares them; `normalize` reads them)
BOOKS: Final[dict[str, BookSpec]] = {
    "binance": BookSpec(_factory(futures=False), SNAPSHOT_LIMIT, ("depthUpdate",)),
    "binance_futures": BookSpec(_factory(futures=True), SNAPSHOT_LIMIT, ("depthUpdate",)),
}
