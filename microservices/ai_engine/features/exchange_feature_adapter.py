"""Feature adapter I/O shell: exchange.normalized (consumer group) -> FeatureEngine -> features.

The computation is `features.engine.FeatureEngine` (pure, incremental). This shell consumes
normalized snapshots through the `feature_adapter` group and publishes one feature vector per
snapshot to exchange.features (SPEC section 5).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import redis.asyncio as aredis

from microservices.ai_engine.features.engine import FeatureEngine
from microservices.ai_engine.features.params import FeatureParams
from microservices.common import metrics
from microservices.common.consumer import StreamConsumer, consumer_from_settings
from microservices.common.producer import StreamProducer
from microservices.common.records import FeatureVector, NormalizedSnapshot
from microservices.common.settings import Settings

logger = logging.getLogger(__name__)


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
        self.streams = settings.streams()
        self.engine = FeatureEngine(feature_params(settings))
        self.producer = producer
        self.latest: dict[str, FeatureVector] = {}
        # called with each (snapshot, vector) after publishing, e.g. the ML signal service
        self.listeners: list[Callable[[NormalizedSnapshot, FeatureVector], None]] = []
        self.consumer: StreamConsumer[NormalizedSnapshot] = consumer_from_settings(
            redis, self.streams.normalized, self.handle, settings, consumer_name
        )

    async def handle(self, batch: list[tuple[str, NormalizedSnapshot]]) -> None:
        for _, snap in batch:
            vector = self.engine.update(snap)
            self.latest[vector.symbol] = vector
            self.producer.publish(self.streams.features, vector)
            metrics.FEATURES_EMITTED.labels(vector.symbol).inc()
            for listener in self.listeners:
                listener(snap, vector)

    async def run(self, stop: asyncio.Event) -> None:
        await self.consumer.run(stop)
