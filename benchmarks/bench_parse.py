"""Benchmark 1: parse + normalize throughput per venue and message type, one core.

Frames are real payloads from ../shared/fixtures (see TEMPLATES), used as templates: each copy
gets the symbol rewritten to BTCUSDT (the captures are mostly of other instruments) and a
unique trade id (so duplicate detection does not short-cut the work). 50,000 frames per case
are prepared up front (not timed); the timed loop is only `parser.parse(frame, recv_ms)`.

    python -m benchmarks.bench_parse [--frames 50000] [--runs 5]

The last row times `cross-exchange normalize` as a whole process (interpreter start, imports,
reading a capture file, parsing, encoding and writing every record as a JSON line) on the
Binance USD-M mix written as a cryptofeed-style capture: frames / wall-clock seconds.
"""

from __future__ import annotations

import argparse
import copy
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from functools import partial
from typing import IO, Any

import orjson

from benchmarks.common import SHARED_FIXTURES, Result, machine, repeat, table
from microservices.data_collector.exchanges import EXCHANGES

Mutate = Callable[[Any, int], Any]


def _frames(relative: str) -> Iterator[Any]:
    path = SHARED_FIXTURES / relative
    for line in path.read_bytes().splitlines():
        item = orjson.loads(line)
        frame = item.get("frame")
        if frame is None or item.get("dir", "recv") != "recv":
            continue
        try:
            yield orjson.loads(frame) if isinstance(frame, str) else frame
        except orjson.JSONDecodeError:
            continue


def _binance_event(relative: str, event: str) -> list[Any]:
    out = []
    for frame in _frames(relative):
        data = frame.get("data", frame) if isinstance(frame, dict) else None
        if isinstance(data, dict) and (
            data.get("e") == event
            or (event == "bookTicker" and "u" in data and "b" in data and "e" not in data)
        ):
            out.append(frame)
    return out


def _binance_mutate(frame: Any, i: int) -> Any:
    frame = copy.deepcopy(frame)
    data = frame.get("data", frame)
    data["s"] = "BTCUSDT"
    if "stream" in frame:
        frame["stream"] = "btcusdt@" + frame["stream"].split("@", 1)[1]
    for key in ("a", "t"):
        if key in data and data.get("e") in ("aggTrade", "trade"):
            data[key] = 10_000_000 + i
    if "k" in data:
        data["k"]["s"] = "BTCUSDT"
    return frame


def _bybit_topic(relative: str, prefix: str) -> list[Any]:
    return [f for f in _frames(relative) if str(f.get("topic", "")).startswith(prefix)]


def _bybit_mutate(frame: Any, i: int) -> Any:
    frame = copy.deepcopy(frame)
    topic = frame["topic"].split(".")
    frame["topic"] = ".".join([*topic[:-1], "BTCUSDT"])
    items = frame["data"] if isinstance(frame["data"], list) else [frame["data"]]
    for j, item in enumerate(items):
        item["symbol" if "symbol" in item else "s"] = "BTCUSDT"
        if "i" in item:
            item["i"] = f"{i}-{j}"
    return frame


def _coinbase_type(relative: str, kinds: tuple[str, ...]) -> list[Any]:
    return [f for f in _frames(relative) if f.get("type") in kinds]


def _coinbase_mutate(frame: Any, i: int) -> Any:
    frame = copy.deepcopy(frame)
    frame["product_id"] = "BTC-USD"
    if "trade_id" in frame:
        frame["trade_id"] = 10_000_000 + i
    return frame


BF = "binance-futures/ws/tardis-node_mappers-test_samples.jsonl"
BS = "binance/ws/spot_combined_depth_bookticker_kline_aggtrade.cryptofeed-2021.jsonl"
BY = "bybit/ws/tardis-node_mappers-test_samples.jsonl"
CB = "coinbase/ws/ws_feed_level2_ticker_matches.cryptofeed-2021.jsonl"
CBT = "coinbase/ws/tardis-node_mappers-test_samples.jsonl"

# (venue, label, templates loader, mutate)
TEMPLATES: list[tuple[str, str, Callable[[], list[Any]], Mutate]] = [
    # The futures capture's only aggTrade is a 2019 frame without `a`; the spot one has the
    # same layout, so it stands in (frames without an aggregate id are rejected as malformed).
    (
        "binance_futures",
        "aggTrade",
        lambda: [
            f
            for f in _binance_event(BF, "aggTrade") + _binance_event(BS, "aggTrade")
            if "a" in f.get("data", f)
        ],
        _binance_mutate,
    ),
    ("binance_futures", "bookTicker", lambda: _binance_event(BF, "bookTicker"), _binance_mutate),
    ("binance_futures", "kline", lambda: _binance_event(BS, "kline"), _binance_mutate),
    (
        "binance_futures",
        "markPrice",
        lambda: [
            f for f in _binance_event(BF, "markPriceUpdate") if "_" not in f.get("data", f)["s"]
        ],
        _binance_mutate,
    ),
    ("binance", "aggTrade", lambda: _binance_event(BS, "aggTrade"), _binance_mutate),
    ("binance", "bookTicker", lambda: _binance_event(BS, "bookTicker"), _binance_mutate),
    ("bybit", "publicTrade", lambda: _bybit_topic(BY, "publicTrade"), _bybit_mutate),
    ("bybit", "tickers", lambda: _bybit_topic(BY, "tickers"), _bybit_mutate),
    ("coinbase", "ticker", lambda: _coinbase_type(CB, ("ticker",)), _coinbase_mutate),
    ("coinbase", "match", lambda: _coinbase_type(CBT, ("match",)), _coinbase_mutate),
]


def prepare(templates: list[Any], mutate: Mutate, count: int) -> list[str]:
    return [orjson.dumps(mutate(templates[i % len(templates)], i)).decode() for i in range(count)]


def measure(venue: str, frames: list[str]) -> tuple[float, int]:
    parser = EXCHANGES[venue](["BTCUSDT"], ws_url="", rest_url="").new_parser()
    parse = parser.parse
    recv = int(time.time() * 1000)
    started = time.perf_counter()
    records = 0
    for frame in frames:
        records += len(parse(frame, recv))
    return len(frames) / (time.perf_counter() - started), records


def rate_of(venue: str, frames: list[str]) -> float:
    """frames/s of one `measure` run (for `repeat`)."""
    return measure(venue, frames)[0]


MIX_LABELS = ("aggTrade", "bookTicker", "kline")  # the Binance USD-M mix, interleaved


def mix_frames(count: int) -> list[str]:
    """The Binance USD-M mix: `count` frames of each of MIX_LABELS, interleaved."""
    groups = [
        prepare(load(), mutate, count)
        for venue, label, load, mutate in TEMPLATES
        if venue == "binance_futures" and label in MIX_LABELS
    ]
    return [frame for group in zip(*groups, strict=True) for frame in group]


def write_capture(frames: list[str], out: IO[bytes]) -> None:
    """`frames` as a cryptofeed-style capture (what `normalize` reads): one line each."""
    for frame in frames:
        out.write(orjson.dumps({"ts": 1.7e9, "dir": "recv", "frame": frame}) + b"\n")
    out.flush()


def normalize_command(path: str) -> list[str]:
    """`cross-exchange normalize` of a Binance USD-M capture, as this interpreter runs it."""
    return [sys.executable, "-m", "microservices.cli", "--env-file", "/dev/null",
            "normalize", "--venue", "binance_futures", path]  # fmt: skip


def normalize_process(frames: list[str]) -> float:
    """frames/s of `python -m microservices.cli normalize` over a capture of `frames`."""
    with tempfile.NamedTemporaryFile("wb", suffix=".jsonl") as capture:
        write_capture(frames, capture)
        started = time.perf_counter()
        subprocess.run(normalize_command(capture.name), check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        return len(frames) / (time.perf_counter() - started)


def run(count: int, runs: int) -> list[Result]:
    results = []
    mix: list[tuple[str, list[str]]] = []
    for venue, label, load, mutate in TEMPLATES:
        templates = load()
        if not templates:
            continue
        frames = prepare(templates, mutate, count)
        if venue == "binance_futures" and label in ("aggTrade", "bookTicker", "kline"):
            mix.append((venue, frames))
        emitted = measure(venue, frames)[1]
        per_run = repeat(partial(rate_of, venue, frames), runs)
        note = f"{len(templates)} real template(s), {emitted / len(frames):.2f} records/frame"
        results.append(Result(f"{venue} {label}", "frames/s", per_run, note))
    if mix:
        mixed = [f for group in zip(*(frames for _, frames in mix), strict=True) for f in group]
        per_run = repeat(partial(rate_of, "binance_futures", mixed), runs)
        results.append(
            Result(
                "binance_futures aggTrade+bookTicker+kline mix",
                "frames/s",
                per_run,
                "target >= 400k",
            )
        )
        per_run = repeat(lambda: normalize_process(mixed), runs)
        note = (f"{len(mixed):,} frames incl. process start; target: cryptofeed 3.0.1's "
                "in-process rate, same run (bench_normalize_peer)")  # fmt: skip
        results.append(Result("`cross-exchange normalize` process, same mix", "frames/s",
                              per_run, note))  # fmt: skip
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=5)
    ns = parser.parse_args()
    print(f"machine: {machine()}")
    print(table(run(ns.frames, ns.runs)))


if __name__ == "__main__":
    main()
