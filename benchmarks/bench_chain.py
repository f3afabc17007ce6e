"""The bare chain: a redis-py producer XADDs exchange.raw entries, a redis-py consumer reads
them with XREADGROUP and acknowledges them. The reference the end-to-end pipeline is held
against (issue 19: ours must reach >= 90 % of this chain's highest sustained rate).

Three processes: redis-server (LocalRedis), the producer and the consumer (this module's
`producer` and `consumer` commands). The producer's entries are the fields our schema encodes
for Trade and Ticker records (`schemas.encode_raw`, 50 symbols x 4 venues, half of each),
encoded once; every `FLUSH_S` it sends the entries due at the target rate with one redis-py
pipeline per `BATCH` (`pipe.xadd(name, fields, maxlen=~MAXLEN)` per entry, `execute()`).
Entries due more than one second late are dropped and counted (like the simulator's backlog
drops). The consumer: `XREADGROUP COUNT 500 BLOCK 1000` then `XACK` of the batch; its
latency is read time minus the entry id's time. Same measurement as `bench_e2e`: warm-up,
window, stop the producer, wait until everything is read and acknowledged; drops = producer
drops + entries trimmed before being read; "sustained" as in `e2e_common.sustained`.

    python -m benchmarks.bench_chain [--rates 20000,40000] [--runs 1] [--window 15]
    python -m benchmarks.bench_chain --find-max [--start 30000] [--step 5000]
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import time
from array import array
from pathlib import Path
from typing import Any

import orjson
import redis

from benchmarks.common import machine
from benchmarks.e2e_aggregator import percentiles
from benchmarks.e2e_common import GROUP, mmm, raw_stream, redis_state, sustained, sweep
from benchmarks.procs import PY, VENUES, cpu_seconds, machine_busy_seconds, symbols, wait_until
from microservices.common.redis_server import LocalRedis
from microservices.common.schemas import encode_raw
from microservices.data_collector.exchanges import _records as build

WARMUP_S = 8.0
FLUSH_S = 0.005  # the product producer's default PRODUCER_FLUSH_INTERVAL_MS
BATCH = 500  # PRODUCER_BATCH_SIZE and CONSUMER_BATCH_SIZE defaults
STOP = {"now": False}


def entries(n_symbols: int = 50) -> list[dict[str, str]]:
    """Encoded Trade and Ticker entries, as the collector writes them."""
    now = int(time.time() * 1000)
    out: list[dict[str, str]] = []
    for i, symbol in enumerate(symbols(n_symbols)):
        for venue in VENUES:
            market = "perp" if venue in ("binance_futures", "bybit") else "spot"
            head = {"exchange": venue, "market": market, "symbol": symbol,
                    "venue_symbol": symbol, "group": symbol, "quote": "USDT"}  # fmt: skip
            px = 100.0 + 10 * i
            trade = build.trade(head, ts_ms=now, recv_ms=now, price=px, size=0.01, side="buy",
                                trade_id=str(100_000_000_000 + i))  # fmt: skip
            ticker = build.ticker(head, ts_ms=now, recv_ms=now, bid=px - 0.01, bid_size=1.5,
                                  ask=px + 0.01, ask_size=2.25, last=px)  # fmt: skip
            out += [encode_raw(trade), encode_raw(ticker)]
    return out


def _stop_on_sigterm() -> None:
    signal.signal(signal.SIGTERM, lambda *_: STOP.update(now=True))


def produce(url: str, rate: float, out: Path) -> None:
    _stop_on_sigterm()
    name, maxlen = raw_stream()
    pool, i = entries(), 0
    client = redis.Redis.from_url(url)
    started, sent, dropped = time.monotonic(), 0, 0
    while not STOP["now"]:
        time.sleep(FLUSH_S)
        due = int((time.monotonic() - started) * rate) - sent - dropped
        if due > rate:  # more than a second late
            dropped, due = dropped + due - int(rate), int(rate)
        for start in range(0, due, BATCH):
            pipe = client.pipeline(transaction=False)
            for _ in range(min(BATCH, due - start)):
                pipe.xadd(name, pool[i], maxlen=maxlen, approximate=True)  # type: ignore[arg-type]
                i = i + 1 if i + 1 < len(pool) else 0
            pipe.execute()
        sent += due
    out.write_bytes(orjson.dumps({"sent": sent, "dropped": dropped}))


def consume(url: str, start_ms: int, end_ms: int, out: Path) -> None:
    _stop_on_sigterm()
    name, _ = raw_stream()
    client = redis.Redis.from_url(url)
    latency, handled, in_window = array("q"), 0, 0
    while not STOP["now"]:
        reply: Any = client.xreadgroup(GROUP, "chain", {name: ">"}, count=BATCH, block=1000)
        if not reply:
            continue
        batch = reply[0][1]
        now = int(time.time() * 1000)
        ids = [entry_id for entry_id, _ in batch]
        handled += len(ids)
        if start_ms <= now <= end_ms:
            in_window += len(ids)
            latency.extend(now - int(entry_id.partition(b"-")[0]) for entry_id in ids)
        client.xack(name, GROUP, *ids)
    summary = {
        "handled": handled,
        "in_window": in_window,
        "event_to_state_ms": percentiles(latency),
    }
    out.write_bytes(orjson.dumps(summary))


def one_run(target: float, window_s: float) -> dict[str, Any]:
    """One measured run of the chain at `target` entries/s."""
    run_dir = Path(tempfile.mkdtemp(prefix="ce-chain-"))
    server = LocalRedis().start()
    procs: dict[str, Any] = {}
    try:
        name, _ = raw_stream()
        with redis.Redis.from_url(server.url) as client:
            client.xgroup_create(name, GROUP, id="0", mkstream=True)
        start_ms = int((time.time() + WARMUP_S) * 1000)
        end_ms = start_ms + int(window_s * 1000)
        procs["consumer"] = _spawn(run_dir, "consumer", server.url, "--start", str(start_ms),
                                   "--end", str(end_ms))  # fmt: skip
        procs["producer"] = _spawn(run_dir, "producer", server.url, "--rate", str(target))
        return _measure(server, procs, run_dir, start_ms, end_ms) | {"target": target}
    finally:
        for proc in reversed(list(procs.values())):
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        server.stop()


def _spawn(run_dir: Path, role: str, url: str, *args: str) -> Any:
    import subprocess

    cmd = [PY, "-m", "benchmarks.bench_chain", role, "--url", url,
           "--out", str(run_dir / f"{role}.json"), *args]  # fmt: skip
    log = (run_dir / f"{role}.log").open("wb")
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)


def _measure(
    server: LocalRedis, procs: dict[str, Any], run_dir: Path, start_ms: int, end_ms: int
) -> dict[str, Any]:
    url, window_s = server.url, (end_ms - start_ms) / 1000
    wait_until(lambda: time.time() * 1000 >= start_ms, WARMUP_S + 5, "warm-up")
    pids = {n: p.pid for n, p in procs.items()}
    redis_proc = getattr(server, "_proc", None)  # LocalRedis keeps its Popen private
    if redis_proc is not None:
        pids["redis-server"] = redis_proc.pid
    cpu0, busy0 = {n: cpu_seconds(p) for n, p in pids.items()}, machine_busy_seconds()
    max_lag = 0
    while time.time() * 1000 < end_ms:
        max_lag = max(max_lag, redis_state(url)[1])
        time.sleep(0.5)
    cpu1, busy1 = {n: cpu_seconds(p) for n, p in pids.items()}, machine_busy_seconds()
    _stop(procs["producer"])
    wait_until(lambda: redis_state(url)[2], 180, "consumer to catch up")
    added = redis_state(url)[0]
    _stop(procs["consumer"])
    producer = orjson.loads((run_dir / "producer.json").read_bytes())
    consumer = orjson.loads((run_dir / "consumer.json").read_bytes())
    cpu = {n: round(100 * (cpu1[n] - cpu0[n]) / window_s) for n in cpu1}
    cpu["other processes"] = round(100 * (busy1 - busy0) / window_s) - sum(cpu.values())
    return {
        "records_per_s": consumer["in_window"] / window_s,
        "drops": producer["dropped"] + (added - consumer["handled"]),
        "max_lag": max_lag,
        "cpu_pct": cpu,
        "event_to_state_ms": consumer["event_to_state_ms"],
        "dir": str(run_dir),
    }


def _stop(proc: Any) -> None:
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)


def describe(target: float, runs: list[dict[str, Any]]) -> list[str]:
    rows = [f"| {target:,.0f} | records/s | {mmm(r['records_per_s'] for r in runs)} |"]
    for q in ("p50", "p99"):
        rows.append(f"| {target:,.0f} | read latency {q} ms | "
                    f"{mmm(r['event_to_state_ms'][q] for r in runs)} |")  # fmt: skip
    rows.append(f"| {target:,.0f} | drops | {mmm(r['drops'] for r in runs)} |")
    rows.append(f"| {target:,.0f} | max lag | {mmm(r['max_lag'] for r in runs)} |")
    for name in runs[0]["cpu_pct"]:
        rows.append(f"| {target:,.0f} | CPU % {name} | {mmm(r['cpu_pct'][name] for r in runs)} |")
    rows.append(f"| {target:,.0f} | sustained runs | {sum(map(sustained, runs))} of {len(runs)} |")
    return rows


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] in ("producer", "consumer"):
        role = sys.argv.pop(1)
        parser = argparse.ArgumentParser()
        parser.add_argument("--url", required=True)
        parser.add_argument("--out", type=Path, required=True)
        parser.add_argument("--rate", type=float, default=0.0)
        parser.add_argument("--start", type=int, default=0)
        parser.add_argument("--end", type=int, default=0)
        ns = parser.parse_args()
        if role == "producer":
            produce(ns.url, ns.rate, ns.out)
        else:
            consume(ns.url, ns.start, ns.end, ns.out)
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--rates", default="20000,40000")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--window", type=float, default=15.0)
    parser.add_argument("--find-max", action="store_true")
    parser.add_argument("--start", type=float, default=30_000)
    parser.add_argument("--step", type=float, default=5_000)
    ns = parser.parse_args()
    print(f"machine: {machine()}")
    rows = ["| target records/s | metric | min / median / max |", "|---|---|---|"]
    if ns.find_max:
        best, _, history = sweep(lambda t: one_run(t, ns.window), ns.start, ns.step, ns.runs,
                                 "chain")  # fmt: skip
        for target, results in history:
            rows += describe(target, results)
        rows.append(f"| highest sustained | records/s | {best:,.0f} |")
    else:
        for target in (float(r) for r in ns.rates.split(",")):
            rows += describe(target, [one_run(target, ns.window) for _ in range(ns.runs)])
    print("\n".join(rows))


if __name__ == "__main__":
    main()
