"""Feature adapter I/O shell: exchange.normalized (consumer group) -> FeatureEngine -> features.

The computation is `features.engine.FeatureEngine` (pure, incremental). This shell consumes
normalized snapshots through the `feature_adapter` group and publishes one feature vector per
snapshot to exchange.features (SPEC section 5).

It owns shards (role `feature_adapter`, `common/shard_roles.py`): one `FeatureShard` (engine,
per-symbol watermark, rebuild) and one consumer per owned shard of exchange.normalized, whose
vectors go to the same shard of exchange.features (a symbol's home shard). Taking a shard
rebuilds its engine from the shard's entries before consuming (`feature_shards.py`), so a
restart or a failover neither loses nor repeats a vector. Static ownership (OWNED_SHARDS,
default all) publishes through the producer; with SHARD_LEASES the vectors are written fenced
with the shard's token, and a lost shard's engine is dropped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from functools import partial
from typing import Final

import redis.asyncio as aredis

from microservices.ai_engine.features.engine import FeatureEngine
from microservices.ai_engine.features.feature_shards import FeatureShard
from microservices.ai_engine.features.params import FeatureParams
from microservices.common import metrics
from microservices.common.consumer import StreamConsumer, consumer_from_settings
from microservices.common.producer import StreamProducer
from microservices.common.records import FeatureVector, NormalizedSnapshot
from microservices.common.redis_io import TRANSIENT_REDIS_ERRORS
from microservices.common.settings import Settings
from microservices.common.shard_publisher import ShardPublisher
from microservices.common.shard_rebuild import rebuild_until_done
from microservices.common.shard_roles import Loop, ShardRole
from microservices.common.sharding import shard_of

logger = logging.getLogger(__name__)
ROLE: Final = "feature_adapter"


def feature_params(settings: Settings) -> FeatureParams:
    return FeatureParams(
        momentum_window_ms=int(settings.features_momentum_window_s * 1000),
        rolling_window=settings.features_rolling_window,
        lead_lag_window_ms=int(settings.features_lead_lag_window_s * 1000),
        lead_lag_max_lag_ms=settings.features_lead_lag_max_lag_ms,
        expected_exchanges=len(settings.venues),
    )


class FeatureAdapter:
    def __init__(
        self,
        settings: Settings,
        redis: aredis.Redis,
        producer: StreamProducer,
        consumer_name: str = "feature-adapter-1",
    ) -> None:
        self.settings = settings
        self.redis = redis
        self.streams = settings.streams()
        self.producer = producer
        self.role = ShardRole(ROLE, settings, redis, owner=consumer_name, on_lost=self._forget)
        self.publisher = ShardPublisher(self.role, producer)
        self.consumer_name = self.role.owner
        self.units: dict[int, FeatureShard] = {}
        self.consumers: dict[int, StreamConsumer[NormalizedSnapshot]] = {}
        self.latest: dict[str, FeatureVector] = {}
        # called with each (snapshot, vector) after publishing, e.g. the ML signal service
        self.listeners: list[Callable[[NormalizedSnapshot, FeatureVector], None]] = []
        for shard in self.role.owned:  # static ownership: known now
            self._unit(shard)

    # the single-shard view (the default deployment and the tests)
    @property
    def engine(self) -> FeatureEngine:
        return self.units[min(self.units)].engine

    @property
    def consumer(self) -> StreamConsumer[NormalizedSnapshot]:
        return self.consumers[min(self.consumers)]

    def _unit(self, shard: int) -> StreamConsumer[NormalizedSnapshot]:
        self.units[shard] = FeatureShard(shard, feature_params(self.settings))
        consumer = consumer_from_settings(
            self.redis, self.streams.normalized.shard(shard), partial(self._handle, shard),
            self.settings, self.consumer_name,
        )  # fmt: skip
        self.consumers[shard] = consumer
        return consumer

    def _forget(self, shard: int) -> None:
        self.units.pop(shard, None)
        self.consumers.pop(shard, None)
        shards = self.streams.normalized.shards
        for symbol in [s for s in self.latest if shard_of(s, shards) == shard]:
            del self.latest[symbol]

    async def handle(self, batch: list[tuple[str, NormalizedSnapshot]]) -> None:
        """Fold a batch whose snapshots may come from any owned shard."""
        shards = self.streams.normalized.shards
        for entry in batch:
            await self._handle(shard_of(entry[1].symbol, shards), [entry])

    async def _handle(self, shard: int, batch: list[tuple[str, NormalizedSnapshot]]) -> None:
        unit = self.units.get(shard)
        if unit is None:
            return  # the shard was lost meanwhile: its new owner handles these entries
        for _, snap in batch:
            vector = unit.fold(snap)
            if vector is not None:  # None: delivered again, folded already
                self._emit(snap, vector)

    def _emit(self, snap: NormalizedSnapshot, vector: FeatureVector) -> None:
        self.latest[vector.symbol] = vector
        self.publisher.publish(self.streams.features, vector)
        metrics.FEATURES_EMITTED.labels(vector.symbol).inc()
        for listener in self.listeners:
            listener(snap, vector)

    async def rebuild(self, shard: int) -> tuple[int, int]:
        """Rebuild shard `shard`'s engine from its entries: (folded, published)."""
        unit = self.units[shard]
        streams = self.streams
        done = await unit.rebuild(
            self.redis, streams.normalized.shard(shard), streams.features.shard(shard), self._emit
        )
        extra = {"shard": shard, "folded": done[0], "published": done[1]}
        logger.info("features.shard_rebuilt", extra=extra)
        return done

    def _start(self, stop: asyncio.Event, shard: int, token: int) -> list[Loop]:
        consumer = self.consumers.get(shard) if token == 0 else None
        return [self._take(shard, consumer or self._unit(shard), stop)]

    async def _take(
        self, shard: int, consumer: StreamConsumer[NormalizedSnapshot], stop: asyncio.Event
    ) -> None:
        """Rebuild the shard (retried while Redis is down), then consume it."""
        await rebuild_until_done(lambda: self.rebuild(shard), stop, "features.rebuild_failed",
                                 shard, errors=TRANSIENT_REDIS_ERRORS)  # fmt: skip
        await consumer.run(stop)

    async def run(self, stop: asyncio.Event) -> None:
        async with asyncio.TaskGroup() as group:
            group.create_task(self.publisher.run(stop), name="features-fenced")
            await self.role.run(stop, partial(self._start, stop))
