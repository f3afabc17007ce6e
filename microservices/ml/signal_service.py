"""Online signals, the engine's I/O shell around `signals.score`.

The feature adapter hands every (snapshot, vector) pair to `observe`: the symbol's
BurstConfirmationFilter takes avg_price and the venues' summed rolling volume; with a loaded
model the vector is scored and published to exchange.signals. `run` watches the registry's
`current` pointer every ML_RELOAD_S and loads a newly promoted version in a worker thread;
a version that fails to load is reported in /health (`ml` block) and the previous model, if
any, keeps serving. Without a promoted model nothing is published and the engine runs as
before. It rides on the feature adapter, so it sees the snapshots of the shards the adapter
owns (its per-symbol burst filters stay with their symbols' owner), and the engine gives it
the adapter's `ShardPublisher`: signals land in the symbol's shard, fenced when leased.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from pathlib import Path
from typing import Any

from microservices.common import metrics
from microservices.common.clock import now_ms
from microservices.common.producer import StreamProducer
from microservices.common.records import FeatureVector, NormalizedSnapshot
from microservices.common.settings import Settings
from microservices.common.shard_publisher import ShardPublisher
from microservices.common.signal_schema import SignalRecord
from microservices.ml.registry import ModelRegistry
from microservices.ml.signals import LoadedModel, Thresholds, load_model, score
from microservices.ml.spectral import BurstConfirmationFilter

logger = logging.getLogger(__name__)


class SignalService:
    def __init__(self, settings: Settings, producer: StreamProducer | ShardPublisher) -> None:
        self.stream = settings.streams().signals
        self.producer = producer
        self.registry = ModelRegistry(Path(settings.ml_model_dir))
        self.reload_s = settings.ml_reload_s
        self.thresholds = Thresholds(settings.ml_threshold, settings.ml_meta_threshold)
        self.model: LoadedModel | None = None
        self.pointer: str | None = None  # the `current` name last acted on
        self.error: str | None = None
        self.failed_scores = 0
        self.published = 0
        self.latest: dict[str, SignalRecord] = {}
        self._bursts: dict[str, BurstConfirmationFilter] = {}

    def observe(self, snap: NormalizedSnapshot, vector: FeatureVector) -> None:
        burst = self._burst(snap)
        model = self.model
        if model is None:
            return
        try:
            signal = score(model, vector, burst, self.thresholds)
        except Exception as exc:  # third-party model code: count it, never crash the adapter
            self.failed_scores += 1
            if self.failed_scores == 1 or self.failed_scores % 1000 == 0:
                logger.warning("ml.score_failed", extra={"error": repr(exc)[:200],
                                                         "count": self.failed_scores})  # fmt: skip
            return
        self.latest[signal.symbol] = signal
        self.producer.publish(self.stream, signal)
        self.published += 1
        metrics.ML_SIGNALS.labels(signal.symbol, str(signal.decision).lower()).inc()

    def _burst(self, snap: NormalizedSnapshot) -> tuple[bool, float]:
        gate = self._bursts.get(snap.symbol)
        if gate is None:
            gate = self._bursts[snap.symbol] = BurstConfirmationFilter()
        volume = sum(q.volume for q in snap.venues.values() if q.volume is not None)
        gate.update(snap.avg_price, volume if math.isfinite(volume) else -1.0, snap.ts_ms)
        return gate.confirm_burst()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.check_pointer()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.reload_s)

    async def check_pointer(self) -> None:
        """Load the promoted version when the pointer names another one than last time."""
        name = self.registry.current_name()
        if name == self.pointer:
            return
        self.pointer = name
        if name is None:
            return  # pointer removed: keep serving what is loaded
        try:
            version = self.registry.get(name)
            self.model = await asyncio.to_thread(load_model, version)
        except Exception as exc:  # LightGBMError, a broken file: report, keep serving
            self.error = f"{name}: {type(exc).__name__}: {str(exc)[:200]}"
            logger.error("ml.load_failed", extra={"version": name, "error": self.error})
            return
        self.error = None
        logger.info("ml.model_loaded", extra={"version": name,
                                              "has_meta": self.model.meta is not None})  # fmt: skip

    def status(self) -> dict[str, Any]:
        """The /health `ml` block."""
        newest = max((s.ts_ms for s in self.latest.values()), default=None)
        state = "serving" if self.model is not None else "no_model"
        if self.error is not None:
            state = "load_failed" if self.model is None else "serving_previous"
        return {
            "enabled": True,
            "state": state,
            "model_dir": str(self.registry.root),
            "current": self.pointer,
            "loaded_version": None if self.model is None else self.model.version,
            "has_meta": self.model is not None and self.model.meta is not None,
            "error": self.error,
            "signals_published": self.published,
            "score_failures": self.failed_scores,
            "last_signal_age_s": None if newest is None else max(now_ms() - newest, 0) / 1000,
        }


DISABLED_STATUS: dict[str, Any] = {"enabled": False, "state": "disabled"}
