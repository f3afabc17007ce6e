"""Benchmark peer: cryptofeed 3.0.1's Binance book handling on a recorded depth stream.

Run with the Python 3.13 venv that has cryptofeed (not the repo's venv); it imports nothing
from `microservices`. The feed object is built offline: its symbol table is set from the
frames, and its REST client is replaced by one that answers the depth request with the
snapshot file, so `Binance._snapshot` / `_parse_snapshot` run as they do live. Then every
frame text goes through `Binance.message_handler` - cryptofeed's JSON decode, Decimal
conversion, `U`/`u` checks and `order_book` updates - with the default (empty) callbacks.
Only the frame loop is timed (`time.perf_counter_ns`, median of --repeat runs, a fresh book
each run); the snapshot load is timed apart. The receive timestamp is a constant: cryptofeed
reads the clock in its websocket reader, which is transport, not book handling.

    /tmp/cf313/bin/python benchmarks/peer_cryptofeed_book.py PATH [--repeat 5]

PATH is a directory holding snapshot.json and frames.jsonl (`python -m benchmarks.book_stream
--out DIR`), or a one-symbol capture file (an http line with its snapshot, then recv frames).
Level counts assume every frame after the snapshot applies; the script exits non-zero when
cryptofeed reports a gap (it drops the book and fetches the snapshot again).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import platform
import statistics
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

from cryptofeed.defines import L2_BOOK
from cryptofeed.exchanges import Binance
from cryptofeed.symbols import Symbols

RECEIPT_TS = 1_633_998_512.0  # constant receive time passed to the handler (seconds)


class OfflineDepth:
    """Stands in for the feed's HTTPAsyncConn: every read answers with the snapshot text."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.reads = 0

    async def read(self, address: str, **_: Any) -> str:
        self.reads += 1
        return self.text

    async def close(self) -> None:
        return None


class GapLog(logging.Handler):
    """Counts cryptofeed's 'missing book update detected' warnings (its resync trigger)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.gaps = 0

    def emit(self, record: logging.LogRecord) -> None:
        if "missing book update" in record.getMessage():
            self.gaps += 1


def load(path: Path) -> tuple[str, list[str]]:
    """(snapshot text, frame texts) of a stream directory, or of a capture file."""
    if path.is_dir():
        snapshot = (path / "snapshot.json").read_text()
        frames = [line for line in (path / "frames.jsonl").read_text().splitlines() if line]
        return snapshot, frames
    snapshots: list[str] = []
    frames = []
    for line in path.read_text().splitlines():
        item = json.loads(line) if line else {}
        if item.get("dir") == "http":
            snapshots.append(item["frame"])
        elif item.get("dir") == "recv" and '"depthUpdate"' in item["frame"]:
            frames.append(item["frame"])
    return snapshots[0], frames


def applied_levels(snapshot: str, frames: list[str]) -> tuple[int, int, str]:
    """(frames applied, level entries in them, exchange symbol); untimed, by Binance's rule."""
    last_id = json.loads(snapshot)["lastUpdateId"]
    applied = levels = 0
    symbol = ""
    for text in frames:
        data = json.loads(text)["data"]
        symbol = data["s"]
        if data["u"] > last_id:
            applied += 1
            levels += len(data["b"]) + len(data["a"])
    return applied, levels, symbol


def offline_feed(symbol: str, depth: OfflineDepth) -> Any:
    """A Binance feed subscribed to the symbol's L2 book, with no network and no callbacks."""
    Symbols.set(Binance.id, {symbol: symbol}, {})
    feed = Binance(symbols=[symbol], channels=[L2_BOOK])
    feed.http_conn = depth
    return feed


async def replay(feed: Any, symbol: str, frames: list[str]) -> tuple[int, int]:
    """Load the snapshot, then hand every frame to the feed; (snapshot ns, frames ns)."""
    feed._reset()
    started = time.perf_counter_ns()
    await feed._snapshot(symbol)
    loaded = time.perf_counter_ns()
    handler = feed.message_handler
    for text in frames:
        await handler(text, None, RECEIPT_TS)
    return loaded - started, time.perf_counter_ns() - loaded


def book_state(feed: Any, symbol: str) -> dict[str, Any]:
    """Best levels, level counts and last update id of the feed's book (empty if dropped)."""
    if symbol not in feed._l2_book:  # a gap dropped the book and no later snapshot fitted
        return {}
    book = feed._l2_book[symbol].book
    bid, bid_size = book.bids.index(0)
    ask, ask_size = book.asks.index(0)
    return {
        "best_bid": [f"{bid:.8f}", f"{bid_size:.8f}"],
        "best_ask": [f"{ask:.8f}", f"{ask_size:.8f}"],
        "bid_levels": len(book.bids),
        "ask_levels": len(book.asks),
        "last_update_id": feed.last_update_id[symbol],
    }


def matches_builder(directory: Path, result: dict[str, Any]) -> bool | None:
    """Whether the end book and counts equal book_stream's meta.json (None without one)."""
    path = directory / "meta.json"
    if not directory.is_dir() or not path.exists():
        return None
    meta = json.loads(path.read_text())
    keys = ("applied_frames", "levels_changed", "best_bid", "best_ask", "bid_levels", "ask_levels")
    return all(result.get(key) == meta[key] for key in keys)


def run(path: Path, repeat: int) -> dict[str, Any]:
    """Replay the stream `repeat` times and summarise (median times, final book, resyncs)."""
    snapshot, frames = load(path)
    applied, levels, symbol = applied_levels(snapshot, frames)
    gaps = GapLog()
    logging.getLogger("cryptofeed.exchanges.binance").addHandler(gaps)
    depth = OfflineDepth(snapshot)
    feed = offline_feed(symbol, depth)
    runs = [asyncio.run(replay(feed, symbol, frames)) for _ in range(repeat)]
    frames_ns = statistics.median(ns for _, ns in runs)
    result = {
        "tool": "cryptofeed",
        "versions": {
            "cryptofeed": version("cryptofeed"),
            "order_book": version("order_book"),
            "python": platform.python_version(),
        },
        "frames": len(frames),
        "applied_frames": applied,
        "levels_changed": levels,
        "repeat": repeat,
        "seconds": frames_ns / 1e9,
        "ns_per_frame": frames_ns / len(frames),
        "ns_per_level": frames_ns / levels,
        "runs_ns": [ns for _, ns in runs],
        "snapshot_ms": statistics.median(ns for ns, _ in runs) / 1e6,
        "resyncs": depth.reads - repeat,
        "gap_warnings": gaps.gaps,
        **book_state(feed, symbol),
    }
    result["matches_builder"] = matches_builder(path, result)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("path", type=Path, help="stream directory or capture file")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs (median reported)")
    args = parser.parse_args()
    result = run(args.path, args.repeat)
    print(json.dumps(result))
    if result["resyncs"] or result["gap_warnings"]:
        raise SystemExit("cryptofeed found a gap in the stream: the timings are not comparable")


if __name__ == "__main__":
    main()
