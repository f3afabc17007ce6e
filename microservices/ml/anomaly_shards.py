"""One owned shard of the anomaly monitor: its monitor, its watermark, and what its rebuild
must not publish again.

Every shard has an `AnomalyMonitor` of its own, created when the shard is taken and dropped
when it is lost. Taking a shard (at start, or on gaining its lease from a dead owner) rebuilds
the monitor by replaying the entries the shard of exchange.normalized still holds, oldest
first (`common/shard_rebuild.py`), then restarts the shard's `anomaly` group after the last
entry replayed. A unit remembers the id of the last entry it folded and skips older ones, so
an entry delivered again (a retried batch, a claim) changes nothing.

The replay finds again every anomaly and alert the old owner found. The service writes a
batch's outputs before the batch is acknowledged, so the outputs of every entry up to the
group's acknowledged id (`shard_rebuild.acknowledged_upto`) are written: those entries are
folded without publishing. For the later ones (the dead owner's last batches), an output is
published only if not written yet. An output's identity comes from its input alone: an
anomaly is (symbol, series, venue, kind, ts_ms), an ANOMALY_BURST alert is (symbol, venue,
series, ts_ms), where ts_ms is the snapshot's time (a monitor takes at most one sample per
snapshot time, and finds at most one point and one burst per sample and series).
`read_written` collects those identities from the output stream, newest first, down to the
acknowledged id (an output is written after its input, so its entry id is not older): bounded
by the stream's MAXLEN. When entries have left the stream (XINFO STREAM: `entries-added`
above its length), the outputs of inputs older than its oldest entry (or than the newest
entry deleted) count as written: they may have been trimmed away. (The one output this takes
for written wrongly: an old owner's output still unwritten at its death while its stream
turned over past that output's input, e.g. an alerts stream that received MAXLEN other alerts
meanwhile.)
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass
from typing import Any, Final

from redis.exceptions import ResponseError

from microservices.common.anomaly_schema import AnomalyRecord
from microservices.common.errors import SchemaError
from microservices.common.market_alerts import MarketAlert
from microservices.common.records import NormalizedSnapshot
from microservices.common.shard_read import id_order, newest_pages
from microservices.common.shard_rebuild import ORIGIN, EntryId, fresh_entries
from microservices.common.streams import Stream
from microservices.ml.anomaly_monitor import SOURCE, AnomalyMonitor, Findings, MonitorParams

PAGE: Final = 2_000
# snapshots a rebuild folds between two awaits: a sampled one costs ~0.6-1.3 ms of CPU (6
# venues), so the event loop (lease renewals, the engine's other roles) waits ~0.1 s per page
# instead of ~1.4 s with the shared 2,000 (docs/BENCHMARKS.md, "Anomaly monitor: taking a
# shard")
REPLAY_PAGE: Final = 100
Key = Hashable
KeyOf = Callable[[Any], Key | None]


def anomaly_key(record: AnomalyRecord) -> Key:
    return (record.symbol, record.series, record.venue, record.kind, record.ts_ms)


def alert_key(alert: MarketAlert) -> Key | None:
    """An ANOMALY_BURST alert's identity; None for the other alerts of the stream."""
    if alert.source != SOURCE or alert.type != "ANOMALY_BURST":
        return None
    return (alert.symbol, alert.venue, alert.data.get("series"), alert.ts_ms)


@dataclass(frozen=True, slots=True)
class Written:
    """The outputs one stream already holds for a shard being rebuilt."""

    keys: frozenset[Key] = frozenset()
    # outputs of input entries older than this are taken as written (they may be trimmed)
    trimmed_before: EntryId = ORIGIN
    acked: EntryId = ORIGIN  # outputs of input entries up to this one are written

    def has(self, key: Key | None, entry: EntryId) -> bool:
        return entry <= self.acked or entry < self.trimmed_before or key in self.keys


@dataclass(frozen=True, slots=True)
class Seen:
    """What a rebuild must not publish again: anomalies and alerts already written."""

    anomalies: Written = Written()
    alerts: Written = Written()


async def read_written(redis: Any, stream: Stream[Any], key_of: KeyOf, acked: EntryId) -> Written:
    """The identities of `stream`'s outputs written after input entry `acked` (newest first,
    a page at a time; entries that fail to decode are left out)."""
    keys: set[Key] = set()
    async for rows in newest_pages(redis, stream.name, itertools.repeat(PAGE)):
        for raw_id, fields in rows:
            if id_order(raw_id) <= acked:
                return Written(frozenset(keys), acked=acked)
            try:
                key = key_of(stream.schema.decode(fields))
            except SchemaError:
                continue
            if key is not None:
                keys.add(key)
    # the stream's oldest entry reached: trimmed before it?
    return Written(frozenset(keys), await trimmed_before(redis, stream.name), acked)


async def trimmed_before(redis: Any, name: str) -> EntryId:
    """Where the entries removed from stream `name` may end: its oldest entry's id (or the
    newest id deleted, when newer) once any entry has left it; ORIGIN when none has."""
    try:
        info: Any = await redis.xinfo_stream(name)
    except ResponseError:  # no such key
        return ORIGIN
    if int(info.get("entries-added", 0)) <= int(info.get("length", 0)):
        return ORIGIN
    first = info.get("first-entry")
    deleted = info.get("max-deleted-entry-id") or "0-0"
    return max(id_order(first[0]) if first else ORIGIN, id_order(deleted))


class AnomalyShard:
    """One shard's monitor and the id of the last entry it folded."""

    def __init__(self, index: int, params: MonitorParams) -> None:
        self.index = index
        self.monitor = AnomalyMonitor(params)
        self.applied: EntryId = ORIGIN

    def fold(
        self, batch: list[tuple[str, NormalizedSnapshot]]
    ) -> Iterator[tuple[EntryId, NormalizedSnapshot, Findings]]:
        """Fold the entries newer than the watermark, one as each is asked for: its id,
        snapshot and findings."""
        for entry_id, snap in fresh_entries(batch, self.applied):
            self.applied = id_order(entry_id)
            yield self.applied, snap, self.monitor.update(snap)
