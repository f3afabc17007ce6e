"""Anomaly monitor I/O shell: exchange.normalized (consumer group `anomaly`) -> AnomalyMonitor
-> exchange.anomalies, and ANOMALY_BURST alerts -> the general `alerts` stream.

The detection is `anomaly_monitor.AnomalyMonitor` (pure); this shell only reads, publishes,
counts and logs. The monitor keeps per-symbol state, so the service owns shards (role
`anomaly`, `common/shard_roles.py`): one `AnomalyShard` (monitor, watermark) and one consumer
per owned shard of exchange.normalized; its anomalies go to the symbol's shard (fenced when
leased), its alerts to `alerts`. Taking a shard rebuilds its monitor from the shard's entries
and publishes only the outputs not written yet (`anomaly_shards.py`), so a restart or a
failover neither loses nor repeats an anomaly or an alert.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import replace
from functools import partial
from typing import Any, Final

import redis.asyncio as aredis

from microservices.common import metrics
from microservices.common.consumer import StreamConsumer
from microservices.common.lease_scripts import Fenced
from microservices.common.log_fold import FoldedLog
from microservices.common.market_alerts import MarketAlert
from microservices.common.producer import StreamProducer
from microservices.common.records import NormalizedSnapshot
from microservices.common.redis_io import TRANSIENT_REDIS_ERRORS
from microservices.common.settings import Settings
from microservices.common.shard_publisher import ShardPublisher
from microservices.common.shard_read import as_text
from microservices.common.shard_rebuild import (
    EntryId,
    acknowledged_upto,
    rebuild_until_done,
    replay,
    restart_group,
)
from microservices.common.shard_roles import Loop, ShardRole
from microservices.common.sharding import shard_of
from microservices.common.streams import Stream
from microservices.ml.anomaly_monitor import AnomalyMonitor, Findings, MonitorParams
from microservices.ml.anomaly_shards import (
    REPLAY_PAGE,
    AnomalyShard,
    Seen,
    alert_key,
    anomaly_key,
    read_written,
)

logger = logging.getLogger(__name__)
ANOMALY_GROUP: Final = "anomaly"
ROLE: Final = "anomaly"
COUNTERS: Final = ("samples", "skipped", "rejected", "dips")
LIVE: Final = Seen()  # nothing to leave out: every output is new


def monitor_params(settings: Settings) -> MonitorParams:
    return MonitorParams(
        sample_ms=settings.anomaly_sample_ms,
        history=settings.anomaly_history,
        window_size=settings.anomaly_window_size,
        threshold=settings.anomaly_threshold,
        mag_window=settings.anomaly_mag_window,
        score_window=settings.anomaly_score_window,
        burst_min_points=settings.anomaly_burst_min_points,
        burst_max_gap=settings.anomaly_burst_max_gap,
        alert_cooldown_ms=int(settings.anomaly_alert_cooldown_s * 1000),
    )


class AnomalyService:
    def __init__(
        self,
        settings: Settings,
        redis: aredis.Redis,
        producer: StreamProducer | None = None,
        consumer_name: str = "anomaly-1",
    ) -> None:
        self.settings, self.redis = settings, redis
        self.streams = settings.streams()
        self.params = monitor_params(settings)
        # its own producer, flushed by the handler only: a batch is acknowledged after its
        # writes, never while another task's flush still holds them
        self.producer = producer or StreamProducer(redis, batch_size=settings.producer_batch_size)
        self.role = ShardRole(ROLE, settings, redis, owner=consumer_name, on_lost=self._forget)
        self.publisher = ShardPublisher(self.role, self.producer)
        self._rejected_log = FoldedLog(logger, "anomaly.rejected_values", interval_s=60.0)
        self.published = {"point": 0, "burst": 0, "alerts": 0}
        self._turn = asyncio.Lock()  # the shards' handlers write one at a time
        self.units: dict[int, AnomalyShard] = {}
        self.consumers: dict[int, StreamConsumer[NormalizedSnapshot]] = {}
        for shard in self.role.owned:  # static ownership: known now
            self._unit(shard)

    # the single-shard view (the default deployment and the tests)
    @property
    def monitor(self) -> AnomalyMonitor:
        """The first owned shard's monitor (an empty one while no shard is owned)."""
        return self.units[min(self.units)].monitor if self.units else AnomalyMonitor(self.params)

    @property
    def consumer(self) -> StreamConsumer[NormalizedSnapshot]:
        return self.consumers[min(self.consumers)]

    def input_shard(self, shard: int) -> Stream[NormalizedSnapshot]:
        """Shard `shard` of exchange.normalized, with this role's group."""
        return replace(self.streams.normalized.shard(shard), group=ANOMALY_GROUP)

    def _unit(self, shard: int) -> StreamConsumer[NormalizedSnapshot]:
        s = self.settings
        self.units[shard] = AnomalyShard(shard, self.params)
        consumer = self.consumers[shard] = StreamConsumer(
            self.redis, self.input_shard(shard), partial(self._handle, shard),
            consumer=self.role.owner, batch_size=s.consumer_batch_size,
            block_ms=s.consumer_block_ms, claim_idle_ms=s.consumer_claim_idle_ms,
            max_deliveries=s.consumer_max_deliveries,
        )  # fmt: skip
        return consumer

    def _forget(self, shard: int) -> None:
        self.units.pop(shard, None)
        self.consumers.pop(shard, None)

    async def handle(self, batch: list[tuple[str, NormalizedSnapshot]]) -> None:
        """Fold a batch whose snapshots may come from any owned shard."""
        shards = self.streams.normalized.shards
        for entry in batch:
            await self._handle(shard_of(entry[1].symbol, shards), [entry])

    async def _handle(
        self, shard: int, batch: list[tuple[str, NormalizedSnapshot]], seen: Seen | None = None
    ) -> None:
        """Fold a batch of shard `shard`; `seen`: a rebuild's replay (publish what is missing,
        count no samples: they were counted when first taken)."""
        unit = self.units.get(shard)
        if unit is None:
            return  # the shard was lost meanwhile: its new owner handles these entries
        monitor, alerts = unit.monitor, []
        rejected = monitor.rejected
        for entry, snap, findings in unit.fold(batch):
            alerts += self._emit(findings, entry, seen or LIVE)
            if seen is None:
                self._count(snap, findings, monitor.rejected - rejected)
            rejected = monitor.rejected
        await self._write(shard, alerts)

    def _count(self, snap: NormalizedSnapshot, findings: Findings, rejected: int) -> None:
        """Metrics of one live snapshot; `rejected`: its values left out."""
        if findings.sampled:
            metrics.ANOMALY_SAMPLES.labels(snap.symbol).inc()
        if rejected:  # non-finite values: counted, logged folded
            metrics.ANOMALY_REJECTED.inc(rejected)
            self._rejected_log.add({"symbol": snap.symbol})

    def _emit(self, findings: Findings, entry: EntryId, seen: Seen) -> list[MarketAlert]:
        """Publish the anomalies not seen; the alerts not seen, to write (`_write`)."""
        for record in findings.anomalies:
            if seen.anomalies.has(anomaly_key(record), entry):
                continue
            self.publisher.publish(self.streams.anomalies, record)
            metrics.ANOMALIES.labels(record.series, record.kind).inc()
            self.published[record.kind] = self.published.get(record.kind, 0) + 1
        return [a for a in findings.alerts if not seen.alerts.has(alert_key(a), entry)]

    async def _write(self, shard: int, alerts: list[MarketAlert]) -> None:
        """Write a batch's outputs before it is acknowledged: its anomalies (fenced when
        leased) and its ANOMALY_BURST alerts. `alerts` is not sharded, so not fenced: a leased
        owner queues them only while the shard's lease still holds its token (as the
        large-trade watcher does; a lost lease writes none). A Redis error is raised: the
        batch stays pending, and what was not written stays buffered for the next write."""
        if alerts and not await self._holds(shard):
            self.role.lose(shard)
            raise Fenced(f"shard {shard} of {ROLE}: lease lost before its alerts")
        for alert in alerts:
            self.producer.publish(self.streams.market_alerts, alert)
            self.published["alerts"] += 1
            logger.info(
                "anomaly.burst",
                extra={"symbol": alert.symbol, "venue": alert.venue, "reason": alert.reason},
            )
        async with self._turn:  # one write at a time: a batch waits for a write holding its
            if self.publisher.pending:  # outputs, and a stream's entries keep their order
                await self.publisher.flush()
            if self.producer.pending:
                await self.producer.flush()

    async def _holds(self, shard: int) -> bool:
        """Whether this process still owns `shard`: static, always; leased, while its lease
        holds the token it was taken with (True when Redis cannot say)."""
        token = self.role.token(shard)
        if not token:
            return token == 0
        try:
            value = await self.redis.get(self.role.lease_key(shard))
        except TRANSIENT_REDIS_ERRORS:
            return True
        return value is not None and as_text(value).split(" ", 1)[0] == str(token)

    async def rebuild(self, shard: int, page: int = REPLAY_PAGE) -> int:
        """Rebuild shard `shard`'s monitor from the shard's entries, publishing the outputs
        not written yet, then start its group after them; the entries replayed."""
        unit = self.units[shard]
        source = self.input_shard(shard)
        # a batch is acknowledged after its outputs are written: up to here, all of them are
        acked = await acknowledged_upto(self.redis, source, ANOMALY_GROUP)
        anomalies, alerts = self.streams.anomalies.shard(shard), self.streams.market_alerts
        seen = Seen(
            await read_written(self.redis, anomalies, anomaly_key, acked),
            await read_written(self.redis, alerts, alert_key, acked),
        )
        replayed = await replay(self.redis, source, partial(self._handle, shard, seen=seen), page)
        await restart_group(self.redis, source, unit.applied)
        extra = {"shard": shard, "entries": replayed, "published": dict(self.published)}
        logger.info("anomaly.shard_rebuilt", extra=extra)
        return replayed

    def health(self) -> dict[str, Any]:
        """The /health `anomalies` block: samples taken and left out (over the shards owned
        now), what was published."""
        monitors = [unit.monitor for unit in self.units.values()]
        total = {name: sum(getattr(m, name) for m in monitors) for name in COUNTERS}
        return {
            "enabled": True,
            "samples": total["samples"],
            "skipped": total["skipped"],
            "rejected_values": total["rejected"],
            "falls_not_reported": total["dips"],
            "published": dict(self.published),
        }

    def _start(self, stop: asyncio.Event, shard: int, token: int) -> list[Loop]:
        consumer = self.consumers.get(shard) if token == 0 else None
        consumer = consumer or self._unit(shard)
        if self.role.leased:  # acknowledgements fenced by the lease's token too
            consumer.fence = (self.role.lease_key(shard), token)
        return [self._take(shard, consumer, stop)]

    async def _take(
        self, shard: int, consumer: StreamConsumer[NormalizedSnapshot], stop: asyncio.Event
    ) -> None:
        """Rebuild the shard (retried while Redis is down, or while a former owner still
        resets the shard's group), then consume it."""
        await rebuild_until_done(lambda: self.rebuild(shard), stop, "anomaly.rebuild_failed", shard)
        try:
            await consumer.run(stop)
        except Fenced:  # an acknowledgement refused: another owner has the shard now
            logger.warning("anomaly.fenced", extra={"shard": shard})
            self.role.lose(shard)

    async def run(self, stop: asyncio.Event) -> None:
        await self.role.run(stop, partial(self._start, stop))
        with contextlib.suppress(*TRANSIENT_REDIS_ERRORS):  # what a last failed write held
            await self.publisher.flush()
            await self.producer.flush()
