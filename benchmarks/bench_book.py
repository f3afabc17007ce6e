"""Benchmark: the L2 order book (microservices/common/orderbook/book.py), one core.

Stream: `benchmarks/book_stream.py`'s long NKNUSDT depth stream (the real capture's 150 diffs
after its 1,609-level REST snapshot, replicated with shifted update ids and a random walk of
prices, capped at 1000 levels a side): the very frames `peer_cryptofeed_book.py` replays
through cryptofeed. Those frames carry 1-13 levels (2.5 on average); the "merged" rows
join runs of 2-12 consecutive frames into one (last value per price wins, as Binance's
100 ms aggregation does), ~5-30 changed levels, a typical busy `@depth@100ms` frame.
Frames are decoded to (float, float) lists before timing (the venue parser's work); only
`OrderBook` calls are timed. Per level = time / changed levels; per frame = time / frames.

    python -m benchmarks.bench_book [--frames 100000] [--runs 5] [--stream-dir DIR] [--layouts]

--stream-dir reads a stream already written by `python -m benchmarks.book_stream --out DIR`
(else one is built in a temporary directory); --layouts adds the alternative layouts of
benchmarks/book_layouts.py (apply + crossed() on the merged frames, cap 1000).
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import orjson

from benchmarks import book_stream
from benchmarks.book_layouts import LAYOUTS, Layout
from benchmarks.common import SHARED_FIXTURES, Result, machine, repeat, table
from microservices.common.orderbook.book import Level, OrderBook
from microservices.data_collector.exchanges.binance.book import BinanceBookSync

MAX_DEPTH = 1000  # Binance's snapshot depth, the cap the collector uses for it
TOP_N = 20  # levels per side on exchange.orderbook
SYMBOL = "NKNUSDT"

Diff = tuple[list[Level], list[Level]]


@dataclass(frozen=True)
class Stream:
    """A snapshot and the diffs applied after it, as float levels."""

    bids: list[Level]
    asks: list[Level]
    diffs: list[Diff]
    snapshot_text: bytes = b""  # the REST body, for the full-path row
    frame_texts: tuple[bytes, ...] = ()  # every frame as received (also those before it)

    @property
    def levels(self) -> int:
        return sum(len(b) + len(a) for b, a in self.diffs)


def _floats(rows: list[list[str]]) -> list[Level]:
    return [(float(price), float(size)) for price, size in rows]


def read_stream(folder: Path) -> Stream:
    """snapshot.json + frames.jsonl of `folder`; diffs at or before the snapshot are dropped."""
    snapshot_text = (folder / "snapshot.json").read_bytes()
    snapshot = orjson.loads(snapshot_text)
    last_id = snapshot["lastUpdateId"]
    diffs: list[Diff] = []
    texts = tuple((folder / "frames.jsonl").read_bytes().splitlines())
    for line in texts:
        data = orjson.loads(line)["data"]
        if data["u"] <= last_id:
            continue
        if data["U"] != last_id + 1 and not (data["U"] <= last_id + 1 <= data["u"]):
            raise SystemExit(f"stream gap after update id {last_id}: frame U={data['U']}")
        last_id = data["u"]
        diffs.append((_floats(data["b"]), _floats(data["a"])))
    bids, asks = _floats(snapshot["bids"]), _floats(snapshot["asks"])
    return Stream(bids, asks, diffs, snapshot_text, texts)


def build_stream(frames: int) -> Stream:
    """Write book_stream's stream of `frames` frames to a temporary folder and read it."""
    for relative in (book_stream.CAPTURE, book_stream.SNAPSHOT):
        if not (SHARED_FIXTURES / relative).exists():
            raise SystemExit(
                f"bench_book needs the shared capture {SHARED_FIXTURES / relative} "
                "(set SHARED_FIXTURES_DIR to the folder holding ../shared/fixtures)"
            )
    with tempfile.TemporaryDirectory() as folder:
        book_stream.write_stream(Path(folder), frames, fixtures=SHARED_FIXTURES)
        return read_stream(Path(folder))


def merged(stream: Stream, seed: int = 7) -> Stream:
    """Runs of 2-12 consecutive diffs joined into one diff each (last value per price)."""
    rng = random.Random(seed)
    out: list[Diff] = []
    start = 0
    while start < len(stream.diffs):
        run = stream.diffs[start : start + rng.randint(2, 12)]
        start += len(run)
        bids: dict[float, float] = {}
        asks: dict[float, float] = {}
        for diff_bids, diff_asks in run:
            bids.update(diff_bids)
            asks.update(diff_asks)
        out.append((list(bids.items()), list(asks.items())))
    return Stream(stream.bids, stream.asks, out)


def replay_ns(factory: Callable[[], Layout], stream: Stream, check: bool) -> float:
    """Nanoseconds to apply every diff to a freshly loaded book (and read crossed() if check)."""
    book = factory()
    book.load(stream.bids, stream.asks)
    apply, crossed = book.apply, book.crossed
    diffs = stream.diffs
    started = time.perf_counter_ns()
    if check:
        for bids, asks in diffs:
            apply(bids, asks)
            crossed()
    else:
        for bids, asks in diffs:
            apply(bids, asks)
    return float(time.perf_counter_ns() - started)


def full_path_ns(stream: Stream) -> float:
    """Nanoseconds for Binance's sync to take every frame text: decode, checks, validate, apply.

    The work cryptofeed does per frame in `peer_cryptofeed_book.py` (its JSON decode, Decimal
    conversion, update id checks and book update), on the same frames.
    """
    sync = BinanceBookSync()
    sync.on_snapshot(SYMBOL, stream.snapshot_text)
    on_frame = sync.on_frame
    started = time.perf_counter_ns()
    for text in stream.frame_texts:
        on_frame(text)
    elapsed = time.perf_counter_ns() - started
    book = sync.books.get(SYMBOL)
    if book is None or sync.books.stats.resyncs:
        raise SystemExit(f"Binance sync lost the book: {sync.books.stats.as_dict()}")
    return float(elapsed)


def _apply_rows(label: str, runs: list[float], stream: Stream, note: str) -> list[Result]:
    return [
        Result(f"{label}: per level", "ns", [r / stream.levels for r in runs], note),
        Result(f"{label}: per frame", "ns", [r / len(stream.diffs) for r in runs], note),
    ]


def _capped() -> OrderBook:
    return OrderBook(MAX_DEPTH)


def _per_call_ns(fn: Callable[[], object], calls: int) -> float:
    started = time.perf_counter_ns()
    for _ in range(calls):
        fn()
    return (time.perf_counter_ns() - started) / calls


def snapshot_rows(stream: Stream, runs: int) -> list[Result]:
    """Loading the REST snapshot, and reading the top levels the orderbook stream carries."""
    book = _capped()
    load_us = repeat(
        lambda: _per_call_ns(lambda: book.load(stream.bids, stream.asks), 200) / 1e3, runs
    )
    snapshot_levels = len(stream.bids) + len(stream.asks)
    top = repeat(lambda: _per_call_ns(lambda: (book.bids(TOP_N), book.asks(TOP_N)), 20_000), runs)
    return [
        Result("load REST snapshot", "µs", load_us, f"{snapshot_levels:,} levels"),
        Result(f"read top {TOP_N} bids + asks", "ns", top, "exchange.orderbook entry"),
    ]


def layout_rows(busy: Stream, runs: int, shape: str) -> list[Result]:
    """Every layout of book_layouts.py: apply + crossed() per merged frame, cap 1000.

    The layouts take turns within each round, so a busy moment of the machine hits them all.
    """
    times: dict[str, list[float]] = {name: [] for name in LAYOUTS}
    for _ in range(runs):
        for name, layout in LAYOUTS.items():
            times[name].append(replay_ns(partial(layout, MAX_DEPTH), busy, True) / busy.levels)
    return [
        Result(f"layout {name}: apply + crossed(), merged", "ns/level", ns, shape)
        for name, ns in times.items()
    ]


def run(stream: Stream, runs: int, layouts: bool) -> list[Result]:
    """Every row: recorded frames, the full Binance path, merged frames, snapshot, layouts."""
    busy = merged(stream)
    shape = f"{len(stream.diffs):,} frames, {stream.levels / len(stream.diffs):.1f} levels/frame"
    busy_shape = f"{len(busy.diffs):,} frames, {busy.levels / len(busy.diffs):.1f} levels/frame"
    results = _apply_rows(
        "apply, recorded frames, cap 1000",
        repeat(lambda: replay_ns(_capped, stream, False), runs),
        stream,
        shape + " (the cryptofeed peer's frames)",
    )
    if stream.frame_texts:
        results += _apply_rows(
            "BinanceBookSync.on_frame (decode, checks, apply), recorded frames",
            repeat(lambda: full_path_ns(stream), runs),
            stream,
            shape + ": cryptofeed's per-frame work, same frames",
        )
    results += _apply_rows(
        "apply + crossed(), merged frames, cap 1000",
        repeat(lambda: replay_ns(_capped, busy, True), runs),
        busy,
        busy_shape,
    )
    results += _apply_rows(
        "apply, merged frames, uncapped",
        repeat(lambda: replay_ns(OrderBook, busy, False), runs),
        busy,
        busy_shape,
    )
    results += snapshot_rows(stream, runs)
    if layouts:
        results += layout_rows(busy, runs, busy_shape)
    return results


def end_state(stream: Stream) -> str:
    """The book after the whole stream (to compare with the cryptofeed peer's last book)."""
    book = _capped()
    book.load(stream.bids, stream.asks)
    for bids, asks in stream.diffs:
        book.apply(bids, asks)
    return (
        f"end book: best bid {book.best_bid()}, best ask {book.best_ask()}, "
        f"{book.bid_levels} bid / {book.ask_levels} ask levels, crossed={book.crossed()}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--stream-dir", type=Path, default=None)
    parser.add_argument("--layouts", action="store_true")
    ns = parser.parse_args()
    stream = read_stream(ns.stream_dir) if ns.stream_dir else build_stream(ns.frames)
    print(f"machine: {machine()}")
    print(end_state(stream))
    print(table(run(stream, ns.runs, ns.layouts)))


if __name__ == "__main__":
    main()
