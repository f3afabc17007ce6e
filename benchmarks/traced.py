"""Run a module under tracemalloc and diff two snapshots: where a service's memory grows.

    python -m benchmarks.traced OUT_PREFIX T1 T2 MODULE [ARGS...]

Starts tracemalloc (10 frames), runs MODULE as `__main__` with ARGS, takes a snapshot T1 and
T2 seconds after start (a daemon thread) and writes `OUT_PREFIX.txt`: the 25 largest
growths between them by traceback, then the 25 largest allocations at T2 by line (both
snapshots are also dumped, `OUT_PREFIX.1.snapshot` / `.2.snapshot`, for
`tracemalloc.Snapshot.load` when the process ends before the diff is written). A
profiling aid for `bench_scale --trace`: tracemalloc slows the process and adds its own
memory, so RSS and CPU of a traced run are not measurements.
"""

from __future__ import annotations

import runpy
import sys
import threading
import time
import tracemalloc
from pathlib import Path


def _watch(out: Path, t1: float, t2: float) -> None:
    started = time.monotonic()
    time.sleep(t1)
    first = tracemalloc.take_snapshot()
    first.dump(str(out.with_suffix(".1.snapshot")))  # diff offline if the process ends first
    time.sleep(max(0.0, t2 - (time.monotonic() - started)))
    second = tracemalloc.take_snapshot()
    second.dump(str(out.with_suffix(".2.snapshot")))
    lines = [f"growth from {t1:.0f} s to {t2:.0f} s (traced {tracemalloc.get_traced_memory()})"]
    for stat in second.compare_to(first, "traceback")[:25]:
        lines.append(f"\n{stat.size_diff / 2**20:+.2f} MB ({stat.count_diff:+} blocks)")
        lines += [f"    {frame}" for frame in stat.traceback.format()[-8:]]
    lines.append(f"\nlargest at {t2:.0f} s by line:")
    lines += [str(stat) for stat in second.statistics("lineno")[:25]]
    out.with_suffix(".txt").write_text("\n".join(lines) + "\n")


def main() -> None:
    out, t1, t2, module, *args = sys.argv[1:]
    tracemalloc.start(10)
    threading.Thread(target=_watch, args=(Path(out), float(t1), float(t2)), daemon=True).start()
    sys.argv = [module, *args]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
