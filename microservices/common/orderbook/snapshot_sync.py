"""The snapshot-then-straddle procedure that Binance and Gate.io books share.

Deltas are buffered while a book waits for its REST snapshot. When the snapshot arrives the
book is loaded and the buffered deltas are replayed through the venue's own step rule (which
drops those the snapshot covers, applies the one straddling it, or demands a resync); after a
resync the deltas that came later stay buffered for the next snapshot. Each venue keeps only
its id arithmetic (its `step`). Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from microservices.common.orderbook.book import Level
from microservices.common.orderbook.sync import (
    BookSet,
    BookUpdate,
    Resync,
    ResyncReason,
    SyncResult,
)

E = TypeVar("E")  # a venue's delta type


@dataclass(slots=True)
class SnapshotSync(Generic[E]):
    """Where one symbol stands: `last_id` None while awaiting a snapshot (deltas buffered),
    else the snapshot's id until the first delta straddles it (`live`), then the last id
    applied."""

    buffer: list[E] = field(default_factory=list)
    last_id: int | None = None
    live: bool = False

    def restart(self, keep: Sequence[E] = ()) -> None:
        """Wait for a new snapshot, buffering `keep` first."""
        self.last_id, self.live, self.buffer = None, False, list(keep)


def buffer_delta(
    books: BookSet,
    sync: SnapshotSync[E],
    delta: E,
    key: tuple[str, int, int | None],
    max_buffered: int,
) -> SyncResult:
    """Buffer `delta` (symbol, last id, event ms = `key`) until the snapshot comes; when the
    buffer is full the snapshot never came: ask again and keep only the newest delta."""
    symbol, last_id, ts_ms = key
    if len(sync.buffer) >= max_buffered:
        sync.buffer = [delta]
        return books.resync(symbol, ResyncReason.BUFFER_OVERFLOW)
    sync.buffer.append(delta)
    return BookUpdate(symbol, last_id, ts_ms, applied=False)


def load_and_replay(
    books: BookSet,
    symbol: str,
    sync: SnapshotSync[E],
    snapshot: tuple[int, Sequence[Level], Sequence[Level]],
    step: Callable[[SnapshotSync[E], E], SyncResult],
) -> list[SyncResult]:
    """Load `snapshot` (its id, bids, asks) into `symbol`'s book, then replay the buffered
    deltas through `step`; a resync during the replay keeps the later deltas buffered."""
    snapshot_id, bids, asks = snapshot
    sync.last_id, sync.live = snapshot_id, False
    loaded = books.load(symbol, (bids, asks), snapshot_id, None)
    if isinstance(loaded, Resync):
        sync.last_id = None
        return [loaded]
    results: list[SyncResult] = [loaded]
    buffered, sync.buffer = sync.buffer, []
    for index, delta in enumerate(buffered):
        result = step(sync, delta)
        results.append(result)
        if isinstance(result, Resync):
            sync.buffer.extend(buffered[index + 1 :])
            break
    return results


def snapshot_failed(
    books: BookSet, symbol: str, sync: SnapshotSync[E], reason: ResyncReason
) -> Resync:
    """A snapshot answer that did not decode: buffer again until a good one comes."""
    sync.last_id, sync.live = None, False
    return books.resync(symbol, reason)
