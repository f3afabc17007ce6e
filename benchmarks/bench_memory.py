"""Benchmark 4: RSS of the collector and the engine at 4 venues x 50 symbols under load.

Processes as in the end-to-end benchmark, with the real engine (`python -m microservices.cli
--env-file /dev/null engine`: aggregator, feature adapter, ExitBrain loop, HTTP API) in place
of the instrumented aggregator. The simulator runs at `--rate` records/s in total. RSS
(/proc/<pid>/statm) of the collector and the engine is sampled every `--every` seconds for
`--duration` seconds after a warm-up; reported per run: RSS at the first sample (start), at
the middle and at the end, the maximum, and the growth over the second half (MB/min, least
squares), which is ~0 when memory is flat.

    python -m benchmarks.bench_memory [--duration 120] [--every 5] [--rate 5000] [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.bench_e2e import events_per_venue
from benchmarks.common import machine
from benchmarks.procs import PY, Stack, exit_on_sigterm, rss_mb, symbols
from microservices.common.redis_server import free_port

WARMUP_S = 15.0
SERVICES = ("collector", "engine")


def slope_mb_per_min(samples: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, MB) samples, in MB per minute."""
    if len(samples) < 2:
        return 0.0
    xs, ys = [s[0] for s in samples], [s[1] for s in samples]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    var = sum((x - mx) ** 2 for x in xs)
    return 60 * sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var


def one_run(rate: float, n_symbols: int, duration_s: float, every_s: float) -> dict[str, Any]:
    run_dir = Path(tempfile.mkdtemp(prefix="ce-mem-"))
    stack = Stack(run_dir, symbols(n_symbols), events_per_venue(rate, n_symbols))
    try:
        stack.start_base()
        env = stack.service_env(API_PORT=str(free_port()))
        # the engine first, so its consumer group exists before data arrives
        stack.spawn(
            "engine", [PY, "-m", "microservices.cli", "--env-file", "/dev/null", "engine"], env
        )
        stack.start_collector()
        time.sleep(WARMUP_S)
        series: dict[str, list[tuple[float, float]]] = {name: [] for name in SERVICES}
        started = time.monotonic()
        while (elapsed := time.monotonic() - started) <= duration_s:
            stack.check_alive()
            for name in SERVICES:
                series[name].append((elapsed, rss_mb(stack.pid(name))))
            time.sleep(every_s)
        return {name: _summary(points) for name, points in series.items()}
    finally:
        stack.stop()


def _summary(points: list[tuple[float, float]]) -> dict[str, float]:
    half = points[len(points) // 2 :]
    return {
        "start": points[0][1],
        "middle": points[len(points) // 2][1],
        "end": points[-1][1],
        "max": max(p[1] for p in points),
        "growth_mb_per_min": slope_mb_per_min(half),
    }


def table(runs: list[dict[str, Any]]) -> str:
    rows = ["| process | RSS MB | min | median | max |", "|---|---|---|---|---|"]
    for name in SERVICES:
        for key in ("start", "middle", "end", "max", "growth_mb_per_min"):
            values = [r[name][key] for r in runs]
            label = "growth (MB/min, 2nd half)" if key == "growth_mb_per_min" else key
            rows.append(
                f"| {name} | {label} | {min(values):.1f} | {statistics.median(values):.1f} "
                f"| {max(values):.1f} |"
            )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=float, default=120.0)
    parser.add_argument("--every", type=float, default=5.0)
    parser.add_argument("--rate", type=float, default=5_000.0, help="records/s in total")
    parser.add_argument("--symbols", type=int, default=50)
    parser.add_argument("--runs", type=int, default=5)
    ns = parser.parse_args()
    exit_on_sigterm()
    print(f"machine: {machine()}")
    runs = []
    for _ in range(ns.runs):
        runs.append(one_run(ns.rate, ns.symbols, ns.duration, ns.every))
        print(runs[-1], flush=True)
    print(table(runs))


if __name__ == "__main__":
    main()
