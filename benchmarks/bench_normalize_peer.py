"""`cross-exchange normalize` as a process against cryptofeed 3.0.1 parsing the same frames.

Builds the 150,000-frame Binance USD-M mix of `bench_parse` (aggTrade, bookTicker and kline
frames from ../shared/fixtures, interleaved) as a capture file, then alternates, --runs
times: (a) `python -m microservices.cli --env-file /dev/null normalize --venue
binance_futures CAPTURE` with stdout to /dev/null, timed as a whole process (wall clock from
spawn to exit: interpreter start, imports, reading, parsing, encoding, writing), and (b)
`benchmarks/peer_cryptofeed_parse.py` under the cryptofeed venv: its in-process rate on the
same capture's frames (only its handler loop is timed), once with cryptofeed's default
`candle_closed_only=True` and once with every candle built (`--all-candles`, the work
`normalize` does: one record per kline). Prints each run's frames/s, min / median / max and
the ratios ours / cryptofeed, with the load before and after.

    python -m benchmarks.bench_normalize_peer [--runs 7] [--baseline DIR] [--unique-times]

`--baseline DIR` (repeatable) adds the same normalize command run from another checkout (DIR
on PYTHONPATH, as working directory), for an A/B of versions of our code in the same run.
`--unique-times` gives every frame its own times: the capture line's receive time and the
payload's event and trade times advance 1 ms a frame (a kline's open time follows its
minute). The mix's frames come from a few templates, so they repeat a few event times and
one receive time; this mode checks that no cache of ours profits from that.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import IO

import orjson

from benchmarks.bench_parse import mix_frames, normalize_command, write_capture
from benchmarks.common import REPO, machine

PEER_PYTHON = Path(os.environ.get("CRYPTOFEED_PYTHON", "/tmp/cf313/bin/python"))
PEER_SCRIPT = REPO / "benchmarks" / "peer_cryptofeed_parse.py"


def ours(capture: str, frames: int, checkout: Path | None = None) -> float:
    """frames/s of one normalize process (spawn to exit); from `checkout` when given."""
    env, cwd = None, None
    if checkout is not None:
        env = {**os.environ, "PYTHONPATH": str(checkout)}
        cwd = str(checkout)
    started = time.perf_counter()
    done = subprocess.run(normalize_command(capture), stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, env=env, cwd=cwd, check=False)  # fmt: skip
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"normalize failed: {done.stderr.decode()[-2000:]}")
    summary = json.loads(done.stderr.strip().splitlines()[-1])
    if summary["frames"] != frames or sum(summary["emitted"].values()) != frames:
        raise SystemExit(f"normalize did not emit one record per frame: {summary}")
    return frames / elapsed


def peer(capture: str, all_candles: bool) -> float:
    """cryptofeed's in-process frames/s on the capture (one timed loop, its own process)."""
    cmd = [str(PEER_PYTHON), str(PEER_SCRIPT), capture, "--repeat", "1"]
    out = subprocess.run(cmd + (["--all-candles"] if all_candles else []),
                         capture_output=True, check=True).stdout  # fmt: skip
    return float(json.loads(out)["frames_per_s"])


START_MS = 1_700_000_000_000


def unique_times(frames: list[str]) -> list[str]:
    """The frames with event / trade times START_MS + i ms (kline open time: its minute)."""
    out = []
    for i, text in enumerate(frames):
        frame = orjson.loads(text)
        data, at = frame.get("data", frame), START_MS + i
        for key in ("E", "T"):
            if key in data:
                data[key] = at
        if isinstance(data.get("k"), dict):
            data["k"]["t"] = at - at % 60_000
            data["k"]["T"] = data["k"]["t"] + 59_999
        out.append(orjson.dumps(frame).decode())
    return out


def write_unique_capture(frames: list[str], out: IO[bytes]) -> None:
    """A capture whose lines' receive times advance 1 ms a line."""
    for i, frame in enumerate(frames):
        line = {"ts": (START_MS + i) / 1000, "dir": "recv", "frame": frame}
        out.write(orjson.dumps(line) + b"\n")
    out.flush()


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def summary(name: str, rates: list[float]) -> str:
    runs = " ".join(f"{r / 1000:.0f}" for r in rates)
    return (
        f"{name}: k frames/s per run [{runs}]; min {min(rates):,.0f} / median "
        f"{statistics.median(rates):,.0f} / max {max(rates):,.0f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="alternating runs of each")
    parser.add_argument("--frames", type=int, default=50_000, help="frames per message type")
    parser.add_argument(
        "--baseline", type=Path, action="append", default=[], help="another checkout's root"
    )
    parser.add_argument("--unique-times", action="store_true", help="no time repeats")
    ns = parser.parse_args()
    frames = mix_frames(ns.frames)
    if ns.unique_times:
        frames = unique_times(frames)
    series: dict[str, list[float]] = {"ours": [], "cryptofeed": [], "cryptofeed_all": []}
    for checkout in ns.baseline:
        series[f"baseline {checkout}"] = []
    times = "unique times" if ns.unique_times else "the mix's times"
    print(f"machine: {machine()}; {len(frames):,} frames, {times}; load before: {load()}")
    with tempfile.NamedTemporaryFile("wb", suffix=".jsonl") as capture:
        (write_unique_capture if ns.unique_times else write_capture)(frames, capture)
        for _ in range(ns.runs):
            series["ours"].append(ours(capture.name, len(frames)))
            series["cryptofeed"].append(peer(capture.name, all_candles=False))
            series["cryptofeed_all"].append(peer(capture.name, all_candles=True))
            for checkout in ns.baseline:
                series[f"baseline {checkout}"].append(ours(capture.name, len(frames), checkout))
    print(f"load after: {load()}")
    for name, rates in series.items():
        print(summary(name, rates))
    mid = {name: statistics.median(rates) for name, rates in series.items()}
    print(f"ours / cryptofeed (candle_closed_only=True, its default): "
          f"{mid['ours'] / mid['cryptofeed']:.2f}")  # fmt: skip
    print(f"ours / cryptofeed (every candle built): {mid['ours'] / mid['cryptofeed_all']:.2f}")
    for checkout in ns.baseline:
        print(f"ours / baseline {checkout}: {mid['ours'] / mid[f'baseline {checkout}']:.2f}")


if __name__ == "__main__":
    main()
