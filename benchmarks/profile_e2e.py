"""Profiles of the end-to-end processes under load: the bench_e2e stack with the replay feed
at `--rate` records/s, `py-spy record` (collapsed stacks, `--nonblocking`) on the feed, the
collector and the aggregator at once for `--seconds`, then a table per process of the
functions holding the most samples (own time, and inclusive time of the chosen frames).

    python -m benchmarks.profile_e2e [--rate 30000] [--seconds 15] [--out /tmp/prof]
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from collections import Counter
from pathlib import Path

from benchmarks.bench_e2e import WARMUP_S, events_per_venue
from benchmarks.procs import PY, Stack, exit_on_sigterm, symbols


def collapsed(path: Path) -> tuple[Counter[str], Counter[str], int]:
    """(own samples per leaf function, inclusive samples per function, total samples)."""
    own: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit() or " (" not in stack:  # the tail of a name with a line break
            continue
        n = int(count)
        total += n
        frames = [short(f) for f in stack.split(";")]
        own[frames[-1]] += n
        for frame in set(frames):
            incl[frame] += n
    return own, incl, total


def short(frame: str) -> str:
    """'handle (microservices/x/y.py:12)' -> 'handle (x/y.py)'."""
    name, _, where = frame.partition(" (")
    path = where.split(":")[0]
    parts = path.split("/")
    return f"{name} ({'/'.join(parts[-2:])})"


def table(name: str, path: Path, top: int) -> list[str]:
    own, incl, total = collapsed(path)
    rows = [f"### {name} ({total} samples)", "", "| function | own % | incl. % |", "|---|---|---|"]
    for frame, n in own.most_common(top):
        rows.append(f"| `{frame}` | {100 * n / total:.1f} | {100 * incl[frame] / total:.1f} |")
    return [*rows, ""]


def spy(name: str, pid: int, seconds: int, out: Path) -> subprocess.Popen[bytes]:
    cmd = ["py-spy", "record", "--nonblocking", "--format", "raw", "-d", str(seconds),
           "-o", str(out / f"{name}.txt"), "--pid", str(pid)]  # fmt: skip
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=30_000)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--symbols", type=int, default=50)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--env", action="append", default=[], metavar="SETTING=VALUE")
    ns = parser.parse_args()
    exit_on_sigterm()
    out = ns.out or Path(tempfile.mkdtemp(prefix="ce-prof-"))
    out.mkdir(parents=True, exist_ok=True)
    env = dict(item.split("=", 1) for item in ns.env)
    rate = events_per_venue(ns.rate, ns.symbols)
    stack = Stack(out, symbols(ns.symbols), rate, tick_ms=1, env=env, feed="replay")
    try:
        stack.start_base()
        cmd = [PY, "-m", "benchmarks.e2e_aggregator", "--out", str(out / "aggregator.json"),
               "--start", "0", "--end", "0"]  # fmt: skip
        stack.spawn("aggregator", cmd, stack.service_env())
        stack.start_collector()
        time.sleep(WARMUP_S)
        stack.check_alive()
        spies = {name: spy(name, stack.pid(name), ns.seconds, out) for name in ("simulator",
                 "collector", "aggregator")}  # fmt: skip
        for spy in spies.values():
            spy.wait(timeout=ns.seconds + 60)
        stack.check_alive()
    finally:
        stack.stop()
    lines = [f"profiles in {out}, {ns.rate:,.0f} records/s offered", ""]
    for name in ("simulator", "collector", "aggregator"):
        lines += table("replay feed" if name == "simulator" else name, out / f"{name}.txt", ns.top)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
