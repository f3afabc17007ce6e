"""Gate.io v4 local books, spot and USDT futures: `*.order_book_update` (100 ms) deltas synced
from the REST snapshot (`/spot/order_book`, `/futures/usdt/order_book`, `with_id=true`), as
Gate documents "how to maintain a local order book":

deltas are buffered until the snapshot arrives; those with `u <= id` are covered by it and
dropped; the first applied must straddle it (`U <= id + 1 <= u`), else the snapshot is stale
and fetched again; afterwards `U == previous u + 1`, else the book is rebuilt from a new
snapshot. Futures sizes are contracts, converted to base units with the listing's
`quanto_multiplier` (the bound exchange's contract size; `sizes` caches it per contract).
Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final, Literal
from urllib.parse import parse_qs, urlsplit

import msgspec

from microservices.common.orderbook.book import Level
from microservices.common.orderbook.snapshot_sync import (
    SnapshotSync,
    buffer_delta,
    load_and_replay,
    snapshot_failed,
)
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
from microservices.data_collector.exchanges.base import Exchange, RestRequest
from microservices.data_collector.exchanges.typed import Wire, decoder

SNAPSHOT_LIMIT: Final = 100  # levels per side of the REST snapshot (its documented maximum)
MAX_BUFFERED: Final = 1000  # deltas kept per symbol while awaiting a snapshot (100 s)
MARKER: Final = "order_book_update"


class ObjLevel(Wire):
    """A futures level `{"p": "0.2983", "s": 803}` (size in contracts)."""

    p: WirePrice
    s: WireSize


class SpotDelta(Wire):
    s: str  # symbol
    U: int  # first update id of the event
    u: int  # last update id
    b: list[tuple[WirePrice, WireSize]]  # bids ["price", "size"]; size 0 removes the level
    a: list[tuple[WirePrice, WireSize]]  # asks
    t: int | None = None  # event time (ms)


class FuturesDelta(Wire):
    s: str  # contract
    U: int
    u: int
    b: list[ObjLevel]  # bids {"p", "s"}; size 0 removes the level
    a: list[ObjLevel]
    t: int | None = None


Delta = SpotDelta | FuturesDelta


class SpotFrame(Wire):
    channel: Literal["spot.order_book_update"]
    event: Literal["update"]
    result: SpotDelta


class FuturesFrame(Wire):
    channel: Literal["futures.order_book_update"]
    event: Literal["update"]
    result: FuturesDelta


class LaxDelta(Wire):
    s: str


class LaxFrame(Wire):
    """A delta frame whose levels or ids failed the typed decode: its symbol, to resync."""

    channel: Literal["spot.order_book_update", "futures.order_book_update"]
    event: Literal["update"]
    result: LaxDelta


class SubscribeRefused(Wire):
    """The venue's answer refusing a book subscription: `payload` echoes `[symbol, interval]`."""

    channel: Literal["spot.order_book_update", "futures.order_book_update"]
    event: Literal["subscribe"]
    error: dict[str, Any]
    payload: list[str]


class SpotSnapshot(Wire):
    id: int  # the book as of this update id
    bids: list[tuple[WirePrice, WireSize]]
    asks: list[tuple[WirePrice, WireSize]]


class FuturesSnapshot(Wire):
    id: int
    bids: list[ObjLevel]
    asks: list[ObjLevel]


_DELTAS: Final = {False: decoder(SpotFrame), True: decoder(FuturesFrame)}
_SNAPSHOTS: Final = {False: decoder(SpotSnapshot), True: decoder(FuturesSnapshot)}
_LAX: Final = decoder(LaxFrame)
_REFUSED: Final = decoder(SubscribeRefused)


_Sync = SnapshotSync[Delta]


class GateBookSync:
    """Spot or USDT-futures books of one connection, synced from REST snapshots."""

    def __init__(
        self, futures: bool = False, on_applied: UpdateHook | None = None,
        max_depth: int = SNAPSHOT_LIMIT, max_buffered: int = MAX_BUFFERED,
    ) -> None:  # fmt: skip
        self.futures = futures
        self.books = BookSet("rest_snapshot", max_depth, on_applied)
        self.max_buffered = max_buffered
        self.snapshot_path = "/futures/usdt/order_book" if futures else "/spot/order_book"
        self.symbol_param = "contract" if futures else "currency_pair"
        self.sizes: dict[str, float] = {}  # futures: contract -> base units per contract
        self._exchange: Exchange | None = None  # names the contract sizes once bound
        self._syncs: dict[str, _Sync] = {}
        self._delta = _DELTAS[futures]
        self._snapshot = _SNAPSHOTS[futures]

    def bind_exchange(self, exchange: Exchange) -> None:
        """Read futures contract sizes from `exchange`'s listing (the collector's BookFeed
        calls this; without it, or for an unlisted contract, sizes stay in contracts)."""
        self._exchange = exchange

    def snapshot_request(self, symbol: str) -> RestRequest:
        """The REST snapshot of `symbol` (venue spelling) with its update `id`."""
        params = {self.symbol_param: symbol, "limit": str(SNAPSHOT_LIMIT), "with_id": "true"}
        return RestRequest(self.snapshot_path, params)

    def on_frame(self, frame: Frame) -> SyncResult | None:
        """Buffer, apply or drop one delta; None when the frame is not one."""
        try:
            delta = self._delta(frame).result
        except msgspec.DecodeError:
            return self._bad_frame(frame)
        sync = self._syncs.get(delta.s)
        if sync is None:
            sync = self._syncs[delta.s] = _Sync()
        if sync.last_id is None:
            return self._buffer(sync, delta)
        return self._step(sync, delta)

    def on_rest(self, url: str, body: Frame) -> list[SyncResult]:
        """A recorded REST answer: the snapshot of the symbol in its query, else []."""
        parts = urlsplit(url)
        symbols = parse_qs(parts.query).get(self.symbol_param)
        if not parts.path.endswith(self.snapshot_path) or not symbols:
            return []
        return self.on_snapshot(symbols[0], body)

    def on_snapshot(self, symbol: str, body: Frame) -> list[SyncResult]:
        """Load the snapshot of `symbol`, then replay its buffered deltas."""
        sync = self._syncs.setdefault(symbol, _Sync())
        try:
            snapshot = self._snapshot(body)
        except msgspec.DecodeError:
            return [snapshot_failed(self.books, symbol, sync, _snapshot_fault(body))]
        bids, asks = self._levels(symbol, snapshot.bids), self._levels(symbol, snapshot.asks)
        return load_and_replay(self.books, symbol, sync, (snapshot.id, bids, asks), self._step)

    def reconnect(self) -> list[Resync]:
        """A new connection: every book waits for a new snapshot and fresh deltas."""
        self._syncs.clear()
        return self.books.resync_all(ResyncReason.RECONNECT)

    def drop(self, symbol: str) -> None:
        """Forget `symbol` (idle or unsubscribed): its next delta is buffered anew."""
        self._syncs.pop(symbol, None)
        self.sizes.pop(symbol, None)  # a listing refresh may have changed it
        self.books.drop(symbol)

    # ------------------------------------------------------------------ rules
    def _levels(self, symbol: str, raw: Iterable[Any]) -> list[Level]:
        """Wire levels as (price, base size): futures contracts times the contract size."""
        if not self.futures:
            return list(raw)
        scale = self.sizes.get(symbol)
        if scale is None:
            scale = self.sizes[symbol] = self._contract_size(symbol)
        return [(level.p, level.s * scale) for level in raw]  # ObjLevel

    def _contract_size(self, symbol: str) -> float:
        exchange = self._exchange
        inst = None if exchange is None else exchange.catalog.by_venue_symbol(exchange.name, symbol)
        return 1.0 if inst is None else inst.contract_size

    def _buffer(self, sync: _Sync, delta: Delta) -> SyncResult:
        key = (delta.s, delta.u, delta.t)
        return buffer_delta(self.books, sync, delta, key, self.max_buffered)

    def _step(self, sync: _Sync, delta: Delta) -> SyncResult:
        """Apply `delta` to a book loaded from a snapshot, drop it, or demand a resync."""
        last = sync.last_id
        assert last is not None  # only called once a snapshot is loaded
        reason: ResyncReason | None = None
        if delta.u <= last:
            cause = "duplicate" if sync.live else "stale"  # stale: the snapshot covers it
            return self.books.skip(delta.s, cause, delta.u)
        if sync.live and last + 1 != delta.U:
            reason = ResyncReason.GAP if last + 1 < delta.U else ResyncReason.OUT_OF_ORDER
        elif not sync.live and last + 1 < delta.U:
            reason = ResyncReason.STALE_SNAPSHOT
        if reason is not None:
            sync.restart(keep=[delta])
            return self.books.resync(delta.s, reason)
        bids, asks = self._levels(delta.s, delta.b), self._levels(delta.s, delta.a)
        self.books.book(delta.s).apply(bids, asks)
        sync.last_id, sync.live = delta.u, True
        result = self.books.applied(delta.s, delta.u, delta.t)
        if isinstance(result, Resync):  # crossed: start over from a new snapshot
            sync.last_id, sync.live = None, False
        return result

    def _bad_frame(self, frame: Frame) -> Resync | None:
        """A delta with a malformed level or id: never applied in part, the book is rebuilt; a
        refused book subscription: the book is dropped and the channel resubscribed (a new
        snapshot follows its first delta); None when the frame is neither."""
        try:
            symbol, reason = _LAX(frame).result.s, ResyncReason.BAD_LEVEL
        except msgspec.DecodeError:
            try:
                refused = _REFUSED(frame)
            except msgspec.DecodeError:
                return None
            if not refused.payload:
                return None
            symbol, reason = refused.payload[0], ResyncReason.SUBSCRIBE_FAILED
        self._syncs.setdefault(symbol, _Sync()).restart()
        resync = self.books.resync(symbol, reason)
        if reason is ResyncReason.SUBSCRIBE_FAILED:
            return Resync(symbol, reason, "resubscribe")
        return resync


def _snapshot_fault(body: Frame) -> ResyncReason:
    """Why a snapshot answer did not decode: bad levels, or not a snapshot at all."""
    try:
        raw = msgspec.json.decode(body)
    except msgspec.DecodeError:
        return ResyncReason.BAD_SNAPSHOT
    if not isinstance(raw, dict) or not {"id", "bids", "asks"} <= raw.keys():
        return ResyncReason.BAD_SNAPSHOT  # an error body, or no `with_id`
    return ResyncReason.BAD_LEVEL if isinstance(raw["id"], int) else ResyncReason.BAD_SNAPSHOT


def _factory(futures: bool) -> Any:
    def build(on_applied: UpdateHook | None, max_depth: int) -> GateBookSync:
        return GateBookSync(futures, on_applied, max_depth)

    return build


# venue id -> its book rules (the package's VenueSpec declares them; `normalize` reads them)
BOOKS: Final[dict[str, BookSpec]] = {
    "gateio": BookSpec(_factory(futures=False), SNAPSHOT_LIMIT, (MARKER,)),
    "gateio_futures": BookSpec(_factory(futures=True), SNAPSHOT_LIMIT, (MARKER,)),
}
