"""Benchmark peer: cryptofeed 3.0.1's Binance USD-M trade/ticker/candle parsing, in-process.

Run with the Python 3.13 venv that has cryptofeed (not the repo's venv); it imports nothing
from `microservices`. It reads a capture file (one JSON object per line, `"dir": "recv"`
lines' `frame` texts: what `benchmarks.bench_normalize_peer` writes and `cross-exchange
normalize` reads), builds a `BinanceFutures` feed offline (its symbol table set from the
frames' symbols, subscribed to trades, ticker and candles) and hands every frame text to
`message_handler` - cryptofeed's JSON decode (msgspec, floats as Decimal), the event dispatch
and the Trade / Ticker / Candle objects - with the feed's default callbacks (no-ops). Reading
the file is not timed; the frame loop is (`time.perf_counter_ns`), `--repeat` times with a
fresh feed each time, and the rates are printed as JSON (frames/s per run and the median).

By default the feed keeps cryptofeed's own `candle_closed_only=True`: a kline that is not
closed is dropped right after the decode, with no Candle built (most of a mix's klines).
`--all-candles` builds a Candle for every kline, as `normalize` emits a record for each.

    /tmp/cf313/bin/python benchmarks/peer_cryptofeed_parse.py CAPTURE [--repeat 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

from cryptofeed.defines import CANDLES, TICKER, TRADES
from cryptofeed.exchanges import BinanceFutures
from cryptofeed.symbols import Symbols

RECEIPT_TS = 1_700_000_000.0  # constant receive time passed to the handler (seconds)


def load(path: Path) -> list[str]:
    """The frame texts of a capture's received lines, in order."""
    frames = []
    for line in path.read_bytes().splitlines():
        item = json.loads(line) if line.strip() else {}
        frame = item.get("frame") if isinstance(item, dict) else None
        if frame is not None and item.get("dir", "recv") == "recv":
            frames.append(frame if isinstance(frame, str) else json.dumps(frame))
    return frames


def venue_symbols(frames: list[str]) -> list[str]:
    """The exchange symbols the frames name (untimed)."""
    found = set()
    for text in frames:
        data = json.loads(text).get("data", {})
        if isinstance(data, dict) and isinstance(data.get("s"), str):
            found.add(data["s"])
    return sorted(found)


def offline_feed(symbols: list[str], all_candles: bool) -> Any:
    """A USD-M feed for the symbols (std name = exchange name), no network, no callbacks."""
    Symbols.set(BinanceFutures.id, {s: s for s in symbols}, {})
    return BinanceFutures(
        symbols=symbols, channels=[TRADES, TICKER, CANDLES], candle_closed_only=not all_candles
    )


async def replay(feed: Any, frames: list[str]) -> int:
    """Every frame through the feed's handler; nanoseconds taken."""
    handler = feed.message_handler
    started = time.perf_counter_ns()
    for text in frames:
        await handler(text, None, RECEIPT_TS)
    return time.perf_counter_ns() - started


def run(path: Path, repeat: int, all_candles: bool) -> dict[str, Any]:
    frames = load(path)
    symbols = venue_symbols(frames)
    runs = []
    for _ in range(repeat):
        feed = offline_feed(symbols, all_candles)
        runs.append(asyncio.run(replay(feed, frames)))
    rates = [len(frames) / (ns / 1e9) for ns in runs]
    return {
        "tool": "cryptofeed",
        "versions": {
            "cryptofeed": version("cryptofeed"),
            "msgspec": version("msgspec"),
            "python": platform.python_version(),
        },
        "frames": len(frames),
        "candle_closed_only": not all_candles,
        "runs_frames_per_s": [round(rate) for rate in rates],
        "frames_per_s": round(statistics.median(rates)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("path", type=Path, help="capture file (JSON lines with `frame`)")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs (median reported)")
    parser.add_argument(
        "--all-candles", action="store_true", help="candle_closed_only=False: every kline"
    )
    args = parser.parse_args()
    print(json.dumps(run(args.path, args.repeat, args.all_candles)))


if __name__ == "__main__":
    main()
