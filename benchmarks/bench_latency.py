"""Benchmark: the per-record cost of the latency measurement (exchange time -> receive time).

What the WebSocket bridge adds per frame is `LatencyRecorder.observe(records, recv_ms)`; once a
second the health loop drains it into the histogram and the venue's window
(`VenueStatus.add_latency`) and answers p50/p95 (`VenueStatus.summary`). The records are real:
Binance USDⓈ-M aggTrade frames (one trade each, a measured type) and spot bookTicker frames
(a ticker without event time, so not measured: the cost of skipping), parsed up front.

    python -m benchmarks.bench_latency [--records 200000] [--runs 5]

Reported per record: `observe` alone (the hot path), with 1 and 5 records per frame and for an
unmeasured type, then drain + histogram + window (once a second, amortized per record).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from typing import Any

import orjson

from benchmarks.common import Result, machine, repeat, table
from microservices.data_collector.exchanges import EXCHANGES, venue_specs
from microservices.data_collector.latency import LatencyRecorder
from microservices.data_collector.venue_status import VenueStatus

T0 = 1_700_000_000_000


def _records(venue: str, frame_of: Any, count: int) -> list[Any]:
    exchange = EXCHANGES[venue](["BTCUSDT"], ws_url="ws://x", rest_url="http://x")
    parser = exchange.new_parser()
    out: list[Any] = []
    for i in range(count):
        out += parser.parse(orjson.dumps(frame_of(i)), T0 + i + 7)
    if len(out) != count:
        raise RuntimeError(f"{venue}: parsed {len(out)} records of {count} frames")
    return out


def agg_trade(i: int) -> Any:
    data = {"e": "aggTrade", "E": T0 + i, "a": 10_000_000 + i, "s": "BTCUSDT", "p": "36530.10",
            "q": "0.250", "f": 1, "l": 2, "T": T0 + i - 3, "m": False}  # fmt: skip
    return {"stream": "btcusdt@aggTrade", "data": data}


def book_ticker(i: int) -> Any:
    data = {"u": i, "s": "BTCUSDT", "b": "36530.1", "B": "1.5", "a": "36530.2", "A": "2.0"}
    return {"stream": "btcusdt@bookTicker", "data": data}


def frames(records: list[Any], per_frame: int) -> list[list[Any]]:
    return [records[i : i + per_frame] for i in range(0, len(records), per_frame)]


def observe_ns(recorder: LatencyRecorder, batches: Sequence[list[Any]], count: int) -> float:
    """ns per record of observe() over every frame (the recorder is drained, untimed, after)."""
    observe = recorder.observe
    started = time.perf_counter()
    for batch in batches:
        observe(batch, T0)
    elapsed = time.perf_counter() - started
    recorder.drain()
    return elapsed / count * 1e9


def drain_ns(recorder: LatencyRecorder, batches: Sequence[list[Any]], count: int) -> float:
    """ns per record of one drain into a fresh VenueStatus (histogram + window) and summary."""
    status = VenueStatus()
    for batch in batches:
        recorder.observe(batch, T0)
    started = time.perf_counter()
    status.add_latency("binance_futures", recorder.drain(), T0)
    status.summary(T0)
    return (time.perf_counter() - started) / count * 1e9


def run(count: int, runs: int) -> list[Result]:
    trades = _records("binance_futures", agg_trade, count)
    tickers = _records("binance", book_ticker, count)
    futures = LatencyRecorder(venue_specs()["binance_futures"].latency_types)
    spot = LatencyRecorder(venue_specs()["binance"].latency_types)
    one, five, skipped = frames(trades, 1), frames(trades, 5), frames(tickers, 1)
    observe_ns(futures, one, count)  # warm-up
    # the drain keeps at most PENDING_CAP samples per type: drain per 50,000 records
    chunks = [one[i : i + 50_000] for i in range(0, len(one), 50_000)]
    return [
        Result("latency observe, 1 record/frame", "ns/record",
               repeat(lambda: observe_ns(futures, one, count), runs), "hot path"),
        Result("latency observe, 5 records/frame", "ns/record",
               repeat(lambda: observe_ns(futures, five, count), runs), "hot path"),
        Result("latency observe, unmeasured type", "ns/record",
               repeat(lambda: observe_ns(spot, skipped, count), runs), "spot bookTicker"),
        Result("latency drain+histogram+window+p50/p95", "ns/record",
               repeat(lambda: drain_ns(futures, chunks[0], len(chunks[0])), runs),
               "once a second, amortized"),
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=5)
    ns = parser.parse_args()
    print(f"machine: {machine()}")
    print(table(run(ns.records, ns.runs)))


if __name__ == "__main__":
    main()
