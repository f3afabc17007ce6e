"""Benchmark 6: the collector and the engine following 500 symbols on the four default venues.

Processes as in the memory benchmark (redis-server, the exchange simulator, the engine, the
collector with REST on, its listings fetched from the simulator), the simulator listing `--symbols` synthetic symbols (the fifty
`SAMPLE_BASES`, then `Z0050USDT`, `Z0051USDT`, ...) at a modest `--rate` events/s per symbol
per venue, SYMBOLS set to the same explicit list. Every `--every` seconds for `--minutes`:
RSS and CPU% (/proc) of the simulator, collector, engine and redis-server, CPU% of the rest of
the machine, entries added to exchange.raw and exchange.normalized (XINFO entries-added) per
second. The collector's venue health (the `<prefix>collector.health` hash it publishes each
second) gives the connections per venue and, per connection, streams, subscribe frames and
the most streams in one frame, checked against each venue's limits.

    python -m benchmarks.bench_scale [--symbols 500] [--minutes 10] [--rate 1] [--every 10]
                                     [--books]  # L2 books too (off: the issue 12 measurement)
    python -m benchmarks.bench_scale --report RUN_DIR/samples.json  # again (RUN_DIR: printed by a run)

Stops by itself after the run (plus start-up, about 40 s); traffic stays on loopback. Writes
samples.json into the run directory and prints the report (markdown).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
import redis

from benchmarks.bench_memory import slope_mb_per_min
from benchmarks.common import machine
from benchmarks.procs import (
    PY,
    Stack,
    cpu_seconds,
    exit_on_sigterm,
    machine_busy_seconds,
    rss_mb,
    wait_until,
)
from microservices.common.redis_server import free_port
from microservices.common.streams import DEFAULT_PREFIX, build_streams, collector_key
from microservices.data_collector import exchanges
from microservices.exchange_simulator.naming import SAMPLE_BASES, SIM_QUOTE

PROCS = ("simulator", "collector", "engine", "redis-server")
GROWTH_BOUND = 1.0  # MB/min over the second half


def scale_symbols(count: int) -> list[str]:
    bases = list(SAMPLE_BASES[:count]) + [f"Z{i:04d}" for i in range(len(SAMPLE_BASES), count)]
    return [base + SIM_QUOTE for base in bases]


def added(client: redis.Redis) -> tuple[int, int]:
    """Entries ever added to exchange.raw and exchange.normalized."""
    streams = build_streams()
    out = []
    for stream in (streams.raw, streams.normalized):
        try:
            info: Any = client.xinfo_stream(stream.name)
            out.append(int(info["entries-added"]))
        except redis.ResponseError:  # not created yet
            out.append(0)
    return out[0], out[1]


def venue_health(client: redis.Redis) -> dict[str, Any]:
    raw: Any = client.hgetall(collector_key(DEFAULT_PREFIX, "health"))
    return {k.decode(): orjson.loads(v) for k, v in raw.items() if not k.startswith(b"_")}


def limits(venue: str) -> tuple[int, int | None, int]:
    """(streams per connection, args per subscribe frame or None, streams per counted unit)
    the venue's package allows: Coinbase counts products (each has len(channels) streams)."""
    cls = exchanges.EXCHANGES[venue]
    per_unit = len(getattr(cls, "channels", ())) or 1
    cap = int(cls.max_streams_per_connection) * per_unit
    return cap, getattr(cls, "subscribe_chunk", None), per_unit


def run(
    n_symbols: int,
    minutes: float,
    rate: float,
    every_s: float,
    trace: str = "",
    books: bool = False,
) -> dict[str, Any]:
    run_dir = Path(tempfile.mkdtemp(prefix="ce-scale-"))
    stack = Stack(run_dir, scale_symbols(n_symbols), rate, tick_ms=50)
    try:
        stack.start_base()
        # listings fetched from the simulator (REST on, as deployed), cached in the run dir
        env = stack.service_env(
            LISTING_CACHE_DIR=str(run_dir / "listings"), ORDERBOOK_ENABLED=str(books).lower()
        )
        cli = [PY, "-m", "microservices.cli", "--env-file", "/dev/null"]
        # --trace NAME: tracemalloc diff of that service between 40% and 95% of the run
        t1, t2 = str(minutes * 60 * 0.4), str(minutes * 60 * 0.95)
        traced = [PY, "-m", "benchmarks.traced", str(run_dir / f"trace-{trace}"), t1, t2]
        for name in ("engine", "collector"):  # the engine first: its groups exist before data
            cmd = [*(traced + cli[2:] if name == trace else cli), name]
            extra = {"API_PORT": str(free_port())} if name == "engine" else {}
            stack.spawn(name, cmd, env | extra)
        assert stack.redis is not None
        client = redis.Redis.from_url(stack.redis.url)
        wait_until(lambda: venue_health(client), 60, "the collector's venue health")
        return {"dir": str(run_dir), "rate": rate, "symbols": n_symbols, "books": books,
                **_sample(stack, client, minutes * 60, every_s)}  # fmt: skip
    finally:
        stack.stop()


def _sample(stack: Stack, client: redis.Redis, duration_s: float, every_s: float) -> dict[str, Any]:
    pids = {name: pid for name, pid in stack.pids().items() if name in PROCS}
    samples: list[dict[str, Any]] = []
    started = time.monotonic()
    prev = (started, {n: cpu_seconds(p) for n, p in pids.items()}, machine_busy_seconds(),
            added(client))  # fmt: skip
    health: dict[str, Any] = {}
    while (elapsed := time.monotonic() - started) < duration_s:
        time.sleep(min(every_s, duration_s - elapsed))
        stack.check_alive()
        now, cpu, busy, counts = (time.monotonic(), {n: cpu_seconds(p) for n, p in pids.items()},
                                  machine_busy_seconds(), added(client))  # fmt: skip
        dt = now - prev[0]
        pct = {n: 100 * (cpu[n] - prev[1][n]) / dt for n in pids}
        pct["other processes"] = 100 * (busy - prev[2]) / dt - sum(pct.values())
        health = venue_health(client)
        samples.append({
            "t": round(now - started, 1),
            "rss_mb": {n: round(rss_mb(p), 1) for n, p in pids.items()},
            "cpu_pct": {n: round(v, 1) for n, v in pct.items()},
            "raw_per_s": round((counts[0] - prev[3][0]) / dt),
            "normalized_per_s": round((counts[1] - prev[3][1]) / dt),
            "venues": {v: [h["state"], h["connections"], h["records"]] for v, h in health.items()},
        })  # fmt: skip
        print(orjson.dumps(samples[-1]).decode(), flush=True)
        prev = (now, cpu, busy, counts)
    subs = {venue: item.get("subscriptions", {}) for venue, item in health.items()}
    (stack.run_dir / "samples.json").write_bytes(orjson.dumps({"samples": samples, "subs": subs}))
    return {"samples": samples, "subscriptions": subs}


def rss_at(samples: list[dict[str, Any]], name: str, t: float) -> float:
    return float(min(samples, key=lambda s: abs(s["t"] - t))["rss_mb"][name])


def report(result: dict[str, Any]) -> str:
    samples = result["samples"]
    end = samples[-1]["t"]
    half = [s for s in samples if s["t"] >= end / 2]
    lines = [
        "| process | RSS start MB | RSS mid MB | RSS end MB | growth 2nd half MB/min "
        "| mean CPU % | verdict (< 1 MB/min) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in (*PROCS, "other processes"):
        cpu = statistics.fmean(s["cpu_pct"][name] for s in samples)
        if name == "other processes":
            lines.append(f"| {name} | | | | | {cpu:.0f} | |")
            continue
        growth = slope_mb_per_min([(s["t"], s["rss_mb"][name]) for s in half])
        verdict = "" if name in ("simulator", "redis-server") else (
            "**pass**" if growth < GROWTH_BOUND else "**FAIL**")  # fmt: skip
        lines.append(
            f"| {name} | {samples[0]['rss_mb'][name]:.1f} | {rss_at(samples, name, end / 2):.1f} "
            f"| {samples[-1]['rss_mb'][name]:.1f} | {growth:+.2f} | {cpu:.0f} | {verdict} |"
        )
    raw = [s["raw_per_s"] for s in samples]
    norm = [s["normalized_per_s"] for s in samples]
    lines += [
        "",
        f"exchange.raw: {statistics.fmean(raw):,.0f} records/s mean "
        f"(min {min(raw):,}, max {max(raw):,}); exchange.normalized: "
        f"{statistics.fmean(norm):,.0f}/s mean (min {min(norm):,}, max {max(norm):,})",
        "",
    ]
    lines += ["| venue | connections | streams per connection | subscribe frames per connection "
              "| most streams in one frame | limit (streams/conn; args/frame) | within |",
              "|---|---|---|---|---|---|---|"]  # fmt: skip
    for venue, conns in sorted(result["subscriptions"].items()):
        streams = [c[0] for c in conns.values()]
        frames = [c[1] for c in conns.values()]
        per_frame = [c[2] for c in conns.values()]
        cap, chunk, _ = limits(venue)
        ok = max(streams) <= cap and (chunk is None or max(per_frame) <= chunk)
        lines.append(
            f"| {venue} | {len(conns)} | {', '.join(map(str, streams))} "
            f"| {', '.join(map(str, frames))} | {max(per_frame)} "
            f"| {cap}; {chunk if chunk is not None else '-'} | {'yes' if ok else '**no**'} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--symbols", type=int, default=500)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=1.0, help="events/s per symbol per venue")
    parser.add_argument("--every", type=float, default=10.0, help="seconds between samples")
    parser.add_argument("--report", type=Path, help="print the report of a run's samples.json")
    parser.add_argument(
        "--trace", choices=("engine", "collector"), default="", help="see benchmarks/traced.py"
    )
    parser.add_argument(
        "--books", action="store_true", help="L2 books on too (ORDERBOOK_ENABLED; off by default)"
    )
    ns = parser.parse_args()
    if ns.report is not None:
        saved = orjson.loads(ns.report.read_bytes())
        print(report({"samples": saved["samples"], "subscriptions": saved["subs"]}))
        return
    exit_on_sigterm()
    books = "with" if ns.books else "without"
    print(f"machine: {machine()}; {ns.symbols} symbols at {ns.rate} events/s per venue, "
          f"{books} L2 books")  # fmt: skip
    result = run(ns.symbols, ns.minutes, ns.rate, ns.every, ns.trace, ns.books)
    print(f"run directory: {result['dir']}")
    print(report(result))


if __name__ == "__main__":
    main()
