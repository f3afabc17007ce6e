"""Benchmark 3: simulator -> collector -> Redis -> aggregator -> exchange.normalized, end to end.

Four processes on the one machine: a real redis-server (LocalRedis), the exchange simulator
(`python -m microservices.exchange_simulator`, synthetic market, `--rate` events/s per symbol
per venue, `--tick-ms 10`), the collector (`python -m microservices.cli --env-file /dev/null
collector --no-rest`, every venue pointed at the simulator) and the aggregator
(`python -m benchmarks.e2e_aggregator`: the product's AggregatorService with latency probes).

Per run: warm up, measure for `--window` seconds, then stop the simulator and the collector
(its producer drains), wait until the aggregator has read everything, stop it. Reported:
records/s folded by the aggregator in the window; latency percentiles (event -> state,
receive -> state, event -> normalized entry); drops = simulator backlog drops + producer
drops + (entries Redis added - entries the aggregator handled); the largest consumer-group
lag seen (XINFO GROUPS, sampled every 0.5 s). A rate is "sustained" with zero drops, lag
below 5,000 entries (MAXLEN is 10,000) and event -> state p99 below 1 s.

    python -m benchmarks.bench_e2e [--rates 1000,5000,20000] [--symbols 50] [--runs 5]
    python -m benchmarks.bench_e2e --find-max [--runs 1]   # 20k, 30k, 40k, ... until one fails
    python -m benchmarks.bench_e2e --feed replay ...        # benchmarks.replay_feed as the feed
    python -m benchmarks.bench_e2e --compare --start 15000 --step 2500 --runs 1 --window 15

`--feed replay` replaces the simulator with `benchmarks.replay_feed` (pre-encoded trade and
ticker frames, ~1 record each, event time = send time, 1 ms send tick): the feed's own CPU
is small, so the machine's two cores go to the pipeline. `--compare` is issue 19's
measurement in one run (`e2e_compare.py`): the bare redis-py chain's highest sustained rate
(`benchmarks.bench_chain`) and ours with the replay feed, interleaved target by target (same
criteria), their ratio, and event -> state p99 at 5k records/s with the replay feed.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from benchmarks.common import machine
from benchmarks.e2e_common import mmm, redis_state, sustained, sweep
from benchmarks.procs import (
    PY,
    VENUES,
    Stack,
    cpu_seconds,
    exit_on_sigterm,
    machine_busy_seconds,
    symbols,
    wait_until,
)

WARMUP_S = 8.0
LATENCIES = ("event_to_state_ms", "recv_to_state_ms", "redis_to_state_ms", "event_to_normalized_ms")


def events_per_venue(records_per_s: float, n_symbols: int) -> float:
    """Simulator --rate for a target total: about one record per event, 4 venues."""
    return records_per_s / (n_symbols * len(VENUES))


def _producer_counters(log: Path) -> dict[str, Any]:
    """`sent`/`dropped` from the collector's `collector.stopped` JSON log line."""
    for line in reversed(log.read_bytes().splitlines()):
        if b"collector.stopped" in line:
            return dict(orjson.loads(line))
    raise RuntimeError(f"no collector.stopped line in {log}")


# --feed, --tick-ms and --env (settings of the services, e.g. PRODUCER_FLUSH_INTERVAL_MS=1)
OPTIONS: dict[str, Any] = {"feed": "simulator", "tick_ms": 10, "env": {}}


def one_run(target: float, n_symbols: int, window_s: float) -> dict[str, Any]:
    run_dir = Path(tempfile.mkdtemp(prefix="ce-e2e-"))
    stack = Stack(run_dir, symbols(n_symbols), events_per_venue(target, n_symbols), **OPTIONS)
    try:
        return _measure(stack, window_s) | {"target": target, "dir": str(run_dir)}
    finally:
        stack.stop()


def _measure(stack: Stack, window_s: float) -> dict[str, Any]:
    stack.start_base()
    start_ms = int((time.time() + WARMUP_S) * 1000)
    end_ms = start_ms + int(window_s * 1000)
    out = stack.run_dir / "aggregator.json"
    cmd = [PY, "-m", "benchmarks.e2e_aggregator", "--out", str(out),
           "--start", str(start_ms), "--end", str(end_ms)]  # fmt: skip
    stack.spawn("aggregator", cmd, stack.service_env())
    stack.start_collector()
    assert stack.redis is not None
    url = stack.redis.url
    wait_until(lambda: time.time() * 1000 >= start_ms, WARMUP_S + 5, "warm-up")
    stack.check_alive()
    pids = stack.pids()
    sim0, cpu0 = stack.sim_stats(), {n: cpu_seconds(p) for n, p in pids.items()}
    busy0 = machine_busy_seconds()
    max_lag = 0
    while time.time() * 1000 < end_ms:
        max_lag = max(max_lag, redis_state(url)[1])
        time.sleep(0.5)
    sim1, cpu1 = stack.sim_stats(), {n: cpu_seconds(p) for n, p in pids.items()}
    busy1 = machine_busy_seconds()
    stack.check_alive()
    stack.stop("simulator")
    stack.stop("collector")
    wait_until(lambda: redis_state(url)[2], 180, "aggregator to catch up")
    added = redis_state(url)[0]
    stack.stop("aggregator")
    probe = orjson.loads(out.read_bytes())
    producer = _producer_counters(stack.run_dir / "collector.log")
    backlog = sim1["totals"]["frames_dropped_backlog"]
    frames = sim1["totals"]["data_frames_sent"] - sim0["totals"]["data_frames_sent"]
    cpu = {n: round(100 * (cpu1[n] - cpu0[n]) / window_s) for n in cpu1}
    # what the rest of the machine (other work sharing the 2 cores) used meanwhile
    cpu["other processes"] = round(100 * (busy1 - busy0) / window_s) - sum(cpu.values())
    return {
        "records_per_s": probe["in_window"] / window_s,
        "frames_per_s": frames / window_s,
        "drops": backlog + producer["dropped"] + (added - probe["handled"]),
        "max_lag": max_lag,
        "cpu_pct": cpu,
        **{k: probe[k] for k in LATENCIES},
    }


def describe(target: float, runs: list[dict[str, Any]]) -> list[str]:
    rows = [f"| {target:,.0f} | records/s | {mmm([r['records_per_s'] for r in runs])} |"]
    for key in LATENCIES:
        for q in ("p50", "p99"):
            values = [r[key][q] for r in runs if r[key]]
            rows.append(f"| {target:,.0f} | {key.removesuffix('_ms')} {q} ms | {mmm(values)} |")
    rows.append(f"| {target:,.0f} | drops | {mmm([r['drops'] for r in runs])} |")
    rows.append(f"| {target:,.0f} | max lag (entries) | {mmm([r['max_lag'] for r in runs])} |")
    for name in runs[0]["cpu_pct"]:
        cpu = [r["cpu_pct"][name] for r in runs]
        rows.append(f"| {target:,.0f} | CPU % {name} | {mmm(cpu)} |")
    ok = sum(sustained(r) for r in runs)
    rows.append(f"| {target:,.0f} | sustained runs | {ok} of {len(runs)} |")
    return rows


def run(rates: list[float], n_symbols: int, runs: int, window_s: float) -> list[str]:
    rows = ["| target records/s | metric | min / median / max |", "|---|---|---|"]
    for target in rates:
        results = [one_run(target, n_symbols, window_s) for _ in range(runs)]
        block = describe(target, results)
        rows += block
        print("\n".join(block), flush=True)
    return rows


def find_max(n_symbols: int, runs: int, window_s: float, start: float, step: float) -> list[str]:
    rows = ["| target records/s | metric | min / median / max |", "|---|---|---|"]
    best, _, history = sweep(lambda t: one_run(t, n_symbols, window_s), start, step, runs, "e2e")
    for target, results in history:
        rows += describe(target, results)
    return [*rows, f"| highest sustained | records/s | {best:,.0f} |"]


def compare(n_symbols: int, runs: int, window_s: float, start: float, step: float) -> list[str]:
    """Issue 19 in one run (`e2e_compare.py`): chain vs ours with the replay feed."""
    from benchmarks import bench_chain, e2e_compare

    return e2e_compare.compare(
        lambda t: bench_chain.one_run(t, window_s),
        lambda t: one_run(t, n_symbols, window_s),
        start, step, runs,
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rates", default="1000,5000,20000")
    parser.add_argument("--symbols", type=int, default=50)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--window", type=float, default=20.0, help="measured seconds per run")
    parser.add_argument("--find-max", action="store_true")
    parser.add_argument("--compare", action="store_true", help="chain vs ours, p99 at 5k")
    parser.add_argument("--start", type=float, default=20_000, help="first rate of a sweep")
    parser.add_argument("--step", type=float, default=10_000)
    parser.add_argument("--feed", choices=("simulator", "replay"), default="simulator")
    parser.add_argument("--tick-ms", type=int, default=None,
                        help="simulator market step (10) or replay send tick (1)")  # fmt: skip
    parser.add_argument("--env", action="append", default=[], metavar="SETTING=VALUE")
    ns = parser.parse_args()
    exit_on_sigterm()
    OPTIONS["feed"] = ns.feed
    OPTIONS["tick_ms"] = ns.tick_ms or (1 if ns.feed == "replay" else 10)
    OPTIONS["env"] = dict(item.split("=", 1) for item in ns.env)
    if ns.compare:
        OPTIONS.update(feed="replay", tick_ms=ns.tick_ms or 1)
    print(f"machine: {machine()}; load {os.getloadavg()}; options {OPTIONS}", flush=True)
    if ns.compare:
        rows = compare(ns.symbols, ns.runs, ns.window, ns.start, ns.step)
    elif ns.find_max:
        rows = find_max(ns.symbols, ns.runs, ns.window, ns.start, ns.step)
    else:
        rows = run([float(r) for r in ns.rates.split(",")], ns.symbols, ns.runs, ns.window)
    print("\n".join(rows))


if __name__ == "__main__":
    main()
