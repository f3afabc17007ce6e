"""SignalService without Redis: no model -> nothing published; a promoted version is loaded
and scores vectors (missing and infinite features included); a version that fails to load is
reported while the previous one keeps serving."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
import pytest

from microservices.common.producer import StreamProducer
from microservices.common.records import FeatureVector
from microservices.ml.dataset import DEFAULT_FEATURES, LabelConfig, build_dataset
from microservices.ml.generator import GeneratorConfig, generate_features
from microservices.ml.pipeline import LightGBMPipeline
from microservices.ml.registry import ModelRegistry
from microservices.ml.signal_service import SignalService
from tests.factories import snapshot

pytest.importorskip("lightgbm")


class Collect:
    def __init__(self) -> None:
        self.records: list[Any] = []

    def publish(self, stream: Any, record: Any) -> None:
        self.records.append(record)


def _version(registry: ModelRegistry) -> str:
    data = build_dataset(generate_features(GeneratorConfig(rows=1_500, seed=2)),
                         LabelConfig(kind="sign", horizon_ms=5_000))  # fmt: skip
    pipeline = LightGBMPipeline(params={"num_threads": 1})
    pipeline.train(data[list(DEFAULT_FEATURES)], data["label"].to_numpy(), num_boost_round=20)
    name, path = registry.new_version_dir()
    pipeline.save(path)
    registry.write_metadata(path, {"features": list(DEFAULT_FEATURES)})
    return name


async def test_service_loads_scores_and_survives_a_broken_version(
    tmp_path: Path, settings_factory: Any
) -> None:
    settings = settings_factory(ml_model_dir=str(tmp_path))
    sink = Collect()
    service = SignalService(settings, cast(StreamProducer, sink))
    vector = FeatureVector(symbol="BTCUSDT", ts_ms=1_000, values={"binance_bybit_ratio": 1.001})
    await service.check_pointer()
    service.observe(snapshot(), vector)
    assert sink.records == [] and service.status()["state"] == "no_model"

    registry = ModelRegistry(tmp_path)
    registry.promote(_version(registry))
    await service.check_pointer()
    assert service.status()["state"] == "serving" and service.status()["has_meta"] is False
    odd = {**vector.values, "price_momentum": math.inf}  # inf and absent features: missing
    service.observe(snapshot(), FeatureVector(symbol="BTCUSDT", ts_ms=2_000, values=odd))
    (record,) = sink.records
    assert record.model_version == "v0001" and 0.0 <= record.probability <= 1.0
    assert record.meta_probability is None and record.meta_decision is None
    assert record.burst_confirmed is False and record.decision is False  # no burst window yet
    row = {n: odd.get(n, np.nan) for n in DEFAULT_FEATURES}
    loaded = LightGBMPipeline.load(tmp_path / "versions" / "v0001")
    expected = loaded.predict(pd.DataFrame([row]))
    assert record.probability == pytest.approx(float(expected[0]))

    name, path = registry.new_version_dir()
    registry.write_metadata(path, {"features": []})
    (path / "model.txt").write_text("not a model\n")
    registry.promote(name)
    await service.check_pointer()
    status = service.status()
    assert status["state"] == "serving_previous" and status["loaded_version"] == "v0001"
    assert status["error"].startswith("v0002: ")
    service.observe(snapshot(ts_ms=3_000), vector)
    assert [r.model_version for r in sink.records] == ["v0001", "v0001"]
    assert status["signals_published"] == 1 and service.status()["signals_published"] == 2
