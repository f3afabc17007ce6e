"""Anomaly monitor I/O shell: exchange.normalized (consumer group `anomaly`) -> AnomalyMonitor
-> exchange.anomalies, and ANOMALY_BURST alerts -> the general `alerts` stream.

The detection is `anomaly_monitor.AnomalyMonitor` (pure); this shell only reads, publishes,
counts and logs. The monitor keeps per-symbol state, so the service owns shards (role
`anomaly`, `common/shard_roles.py`): one consumer per owned shard of exchange.normalized;
its anomalies go to the symbol's shard (fenced when leased), its alerts to `alerts`.
"""

from __future__ import annotations

import asyncio
import logging
from functools import partial
from typing import Any, Final

import redis.asyncio as aredis

from microservices.common import metrics
from microservices.common.consumer import StreamConsumer
from microservices.common.log_fold import FoldedLog
from microservices.common.producer import StreamProducer
from microservices.common.records import NormalizedSnapshot
from microservices.common.settings import Settings
from microservices.common.shard_roles import Loop, ShardPublisher, ShardRole
from microservices.ml.anomaly_monitor import AnomalyMonitor, MonitorParams

logger = logging.getLogger(__name__)
ANOMALY_GROUP: Final = "anomaly"
ROLE: Final = "anomaly"


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
        producer: StreamProducer,
        consumer_name: str = "anomaly-1",
    ) -> None:
        self.settings, self.redis = settings, redis
        self.streams = settings.streams()
        self.monitor = AnomalyMonitor(monitor_params(settings))
        self.producer = producer
        self.role = ShardRole(ROLE, settings, redis, owner=consumer_name)
        self.publisher = ShardPublisher(self.role, producer)
        self._rejected_log = FoldedLog(logger, "anomaly.rejected_values", interval_s=60.0)
        self.published = {"point": 0, "burst": 0, "alerts": 0}
        self.consumers = {shard: self._consumer(shard) for shard in self.role.owned}

    @property
    def consumer(self) -> StreamConsumer[NormalizedSnapshot]:
        """The first owned shard's consumer (the only one with one shard)."""
        return self.consumers[min(self.consumers)]

    def _consumer(self, shard: int) -> StreamConsumer[NormalizedSnapshot]:
        s = self.settings
        return StreamConsumer(
            self.redis, self.streams.normalized.shard(shard), self.handle,
            group=ANOMALY_GROUP, consumer=self.role.owner, batch_size=s.consumer_batch_size,
            block_ms=s.consumer_block_ms, claim_idle_ms=s.consumer_claim_idle_ms,
            max_deliveries=s.consumer_max_deliveries,
        )  # fmt: skip

    async def handle(self, batch: list[tuple[str, NormalizedSnapshot]]) -> None:
        for _, snap in batch:
            rejected = self.monitor.rejected
            findings = self.monitor.update(snap)
            if self.monitor.rejected > rejected:  # non-finite values: counted, logged folded
                metrics.ANOMALY_REJECTED.inc(self.monitor.rejected - rejected)
                self._rejected_log.add({"symbol": snap.symbol})
            if findings.sampled:
                metrics.ANOMALY_SAMPLES.labels(snap.symbol).inc()
            for record in findings.anomalies:
                self.publisher.publish(self.streams.anomalies, record)
                metrics.ANOMALIES.labels(record.series, record.kind).inc()
                self.published[record.kind] = self.published.get(record.kind, 0) + 1
            for alert in findings.alerts:
                self.producer.publish(self.streams.market_alerts, alert)
                self.published["alerts"] += 1
                logger.info(
                    "anomaly.burst",
                    extra={"symbol": alert.symbol, "venue": alert.venue, "reason": alert.reason},
                )

    def health(self) -> dict[str, Any]:
        """The /health `anomalies` block: samples taken and left out, what was published."""
        monitor = self.monitor
        return {
            "enabled": True,
            "samples": monitor.samples,
            "skipped": monitor.skipped,
            "rejected_values": monitor.rejected,
            "falls_not_reported": monitor.dips,
            "published": dict(self.published),
        }

    def _start(self, stop: asyncio.Event, shard: int, token: int) -> list[Loop]:
        consumer = self.consumers.get(shard) if token == 0 else None
        if consumer is None:
            consumer = self.consumers[shard] = self._consumer(shard)
        return [consumer.run(stop)]

    async def run(self, stop: asyncio.Event) -> None:
        async with asyncio.TaskGroup() as group:
            group.create_task(self.publisher.run(stop), name="anomaly-fenced")
            await self.role.run(stop, partial(self._start, stop))
