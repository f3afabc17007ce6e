"""Benchmark: the ML layer's hot paths, one core (LightGBM num_threads=1).

- generator: feature rows a second of `generate_features` (three venues through the real
  aggregator and feature engine on a simulated clock).
- score: one feature vector through `signals.score` (primary LightGBM, and the meta model
  when the primary is positive), microseconds a vector; the engine does this per vector.
- observe: `SignalService.observe` (burst filter on 100 observations + score + publish to a
  list), microseconds a vector.
- train: `cross-exchange train --generated`-sized walk-forward (20,000 rows, 5 windows)
  is measured by the command itself (docs/ML.md); not repeated here.

    python -m benchmarks.bench_ml [--vectors 2000] [--runs 5] [--rows 20000]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any, cast

import numpy as np

from benchmarks.common import Result, machine, repeat, table
from microservices.common.producer import StreamProducer
from microservices.common.records import FeatureVector, NormalizedSnapshot, VenueQuote
from microservices.common.settings import load_settings
from microservices.ml.dataset import DEFAULT_FEATURES, LabelConfig, build_dataset
from microservices.ml.generator import GeneratorConfig, generate_features
from microservices.ml.meta import MetaLabeler
from microservices.ml.pipeline import LightGBMPipeline
from microservices.ml.signal_service import SignalService
from microservices.ml.signals import LoadedModel, Thresholds, score

ONE_THREAD = {"num_threads": 1}


class _Sink:
    def publish(self, stream: Any, record: Any) -> None:
        pass


def generator_rate(rows: int) -> float:
    started = time.perf_counter()
    generate_features(GeneratorConfig(rows=rows, seed=3))
    return rows / (time.perf_counter() - started)


def _model() -> tuple[LoadedModel, list[FeatureVector]]:
    frame = generate_features(GeneratorConfig(rows=8_000, seed=4))
    data = build_dataset(frame, LabelConfig(kind="sign", horizon_ms=5_000))
    half = len(data) // 2
    x, y = data[list(DEFAULT_FEATURES)], data["label"].to_numpy()
    primary = LightGBMPipeline(params=ONE_THREAD)
    primary.train(x[:half], y[:half], x[half : half + 1000], y[half : half + 1000], 300)
    meta = MetaLabeler(primary)
    meta.model.params.update(ONE_THREAD)
    meta.train_meta_model(x[half:], y[half:])
    vectors = [
        FeatureVector(symbol="BTCUSDT", ts_ms=int(r["ts_ms"]),
                      values={n: float(r[n]) for n in DEFAULT_FEATURES})
        for r in frame.tail(2_000).to_dict("records")
    ]  # fmt: skip
    return LoadedModel("v0001", primary, meta), vectors


def score_us(model: LoadedModel, vectors: list[FeatureVector], count: int) -> float:
    started = time.perf_counter()
    for i in range(count):
        score(model, vectors[i % len(vectors)], (False, 0.0), Thresholds())
    return 1e6 * (time.perf_counter() - started) / count


def observe_us(model: LoadedModel, vectors: list[FeatureVector], count: int) -> float:
    with TemporaryDirectory() as folder:
        settings = load_settings(env_file=None, ml_model_dir=str(Path(folder)))
        service = SignalService(settings, cast(StreamProducer, _Sink()))
        service.model = model
        rng = np.random.default_rng(5)
        snaps = [NormalizedSnapshot(
            symbol="BTCUSDT", ts_ms=v.ts_ms, avg_price=100.0 + i * 0.01, median_price=100.0,
            price_divergence=0.0, exchange_divergence=0.0, funding_delta=0.0,
            avg_funding_rate=0.0, volatility_factor=1.0, num_exchanges=3,
            venues={f"v{j}": VenueQuote(price=100.0, volume=float(rng.gamma(4, 2)))
                    for j in range(3)},
        ) for i, v in enumerate(vectors)]  # fmt: skip
        for i in range(100):  # fill the burst window
            service.observe(snaps[i], vectors[i])
        started = time.perf_counter()
        for i in range(count):
            k = i % len(vectors)
            service.observe(snaps[k], vectors[k])
        return 1e6 * (time.perf_counter() - started) / count


def main() -> None:
    parser = argparse.ArgumentParser(description="ML layer benchmark")
    parser.add_argument("--vectors", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--rows", type=int, default=20_000)
    args = parser.parse_args()
    model, vectors = _model()
    positive = sum(score(model, v, (False, 0.0), Thresholds()).probability >= 0.5
                   for v in vectors)  # fmt: skip
    results = [
        Result(f"generator, {args.rows} rows", "rows/s",
               repeat(lambda: generator_rate(args.rows), min(args.runs, 3)), "3 venues"),
        Result("score one vector", "us/vector",
               repeat(lambda: score_us(model, vectors, args.vectors), args.runs),
               f"primary + meta on {positive / len(vectors):.0%} (the primary's positives)"),
        Result("SignalService.observe", "us/vector",
               repeat(lambda: observe_us(model, vectors, args.vectors), args.runs),
               "burst filter (100 obs) + score + publish"),
    ]  # fmt: skip
    print(machine())
    print(table(results))


if __name__ == "__main__":
    main()
