"""Benchmark: the spectral residual detector and the engine's anomaly monitor, one core.

- `judge_last` on a trailing window of `--history` samples (default 200, the monitor's
  default): the online question asked of every series at every sample; microseconds a call.
- `detect` over a 200-sample series (batch); microseconds a call.
- `AnomalyMonitor.update` on sampled snapshots of one symbol with `--venues` venues (each
  sample judges avg_price returns, exchange_divergence and one volume series per venue);
  microseconds per sampled snapshot, after the series are full.

    python -m benchmarks.bench_spectral [--calls 2000] [--runs 5] [--history 200] [--venues 6]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np

from benchmarks.common import Result, machine, repeat, table
from microservices.common.records import NormalizedSnapshot, VenueQuote
from microservices.ml.anomaly_monitor import AnomalyMonitor, MonitorParams
from microservices.ml.spectral import SpectralResidualDetector

NOW = 1_760_000_000_000


def per_call_us(fn: Callable[[], object], calls: int) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        fn()
    return 1e6 * (time.perf_counter() - started) / calls


def snapshots(count: int, venues: int, seed: int = 1) -> list[NormalizedSnapshot]:
    rng = np.random.default_rng(seed)
    prices = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.0005, count)))
    volumes = rng.gamma(4.0, 2.5, (count, venues))
    out = []
    for i in range(count):
        price = float(prices[i])
        quotes = {
            f"venue{v}": VenueQuote(price=price, volume=float(volumes[i, v])) for v in range(venues)
        }
        out.append(NormalizedSnapshot(
            symbol="BTCUSDT", ts_ms=NOW + 1000 * i, avg_price=price, median_price=price,
            price_divergence=0.0, exchange_divergence=abs(float(rng.normal(5e-4, 1e-4))),
            funding_delta=0.0, avg_funding_rate=0.0, volatility_factor=1.0,
            num_exchanges=venues, venues=quotes,
        ))  # fmt: skip
    return out


def monitor_us(calls: int, history: int, venues: int) -> float:
    snaps = snapshots(history + calls, venues)
    monitor = AnomalyMonitor(MonitorParams(history=history))
    for snap in snaps[:history]:  # fill every series
        monitor.update(snap)
    started = time.perf_counter()
    for snap in snaps[history:]:
        monitor.update(snap)
    return 1e6 * (time.perf_counter() - started) / calls


def main() -> None:
    parser = argparse.ArgumentParser(description="spectral residual benchmark")
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--history", type=int, default=200)
    parser.add_argument("--venues", type=int, default=6)
    args = parser.parse_args()
    detector = SpectralResidualDetector()
    window = np.random.default_rng(2).normal(0.0, 1.0, args.history)
    results = [
        Result(f"judge_last, {args.history} samples", "us/call",
               repeat(lambda: per_call_us(lambda: detector.judge_last(window), args.calls), args.runs)),
        Result(f"detect, {args.history} samples", "us/call",
               repeat(lambda: per_call_us(lambda: detector.detect(window), args.calls), args.runs)),
        Result(f"monitor update, {args.venues} venues", "us/sample",
               repeat(lambda: monitor_us(args.calls, args.history, args.venues), args.runs),
               f"{args.venues + 2} series judged"),
    ]  # fmt: skip
    print(machine())
    print(table(results))


if __name__ == "__main__":
    main()
