"""Run every benchmark and print one table of headline numbers (min / median / max).

    python -m benchmarks.run                       # all six, full settings (~30 min)
    python -m benchmarks.run --quick               # one short run each (~4 min), a smoke test
    python -m benchmarks.run --only parse,publish  # a subset

Each benchmark also runs alone (`python -m benchmarks.bench_<name> --help`) with more detail;
docs/BENCHMARKS.md has the numbers of this machine and how they were obtained.
"""

from __future__ import annotations

import argparse
from typing import Any

from benchmarks import (
    bench_book,
    bench_e2e,
    bench_latency,
    bench_memory,
    bench_parse,
    bench_publish,
)
from benchmarks.common import Result, machine, table
from benchmarks.e2e_common import sustained
from benchmarks.procs import exit_on_sigterm

ALL = ("parse", "publish", "e2e", "memory", "latency", "book")


def parse_results(quick: bool) -> list[Result]:
    return bench_parse.run(10_000 if quick else 50_000, 1 if quick else 5)


def publish_results(quick: bool) -> list[Result]:
    return bench_publish.run(50_000 if quick else 200_000, 1 if quick else 5)


def e2e_results(quick: bool) -> list[Result]:
    runs, window = (1, 8.0) if quick else (5, 20.0)
    out = []
    for target in (1_000.0, 5_000.0, 20_000.0):
        results = [bench_e2e.one_run(target, 50, window) for _ in range(runs)]
        ok = sum(sustained(r) for r in results)
        label = f"e2e {target / 1000:g}k records/s offered"
        out.append(
            Result(
                f"{label}: folded",
                "records/s",
                _pick(results, "records_per_s"),
                f"sustained {ok}/{runs}, drops {max(r['drops'] for r in results)}",
            )
        )
        out.append(
            Result(
                f"{label}: event->state p99",
                "ms",
                [r["event_to_state_ms"]["p99"] for r in results],
                "target < 20 ms at 5k" if target == 5_000 else "",
            )
        )
        out.append(
            Result(
                f"{label}: event->normalized p99",
                "ms",
                [r["event_to_normalized_ms"]["p99"] for r in results],
            )
        )
    return out  # fmt: skip


def memory_results(quick: bool) -> list[Result]:
    runs, duration = (1, 30.0) if quick else (5, 120.0)
    results = [bench_memory.one_run(5_000.0, 50, duration, 5.0) for _ in range(runs)]
    out = []
    for name, target in (("collector", "< 120 MB"), ("engine", "< 250 MB")):
        out.append(
            Result(
                f"RSS {name} at end, 4 venues x 50 symbols",
                "MB",
                [r[name]["end"] for r in results],
                f"target {target}",
            )
        )
        out.append(
            Result(
                f"RSS {name} growth, 2nd half",
                "MB/min",
                [r[name]["growth_mb_per_min"] for r in results],
                "flat ~ 0",
            )
        )
    return out  # fmt: skip


def latency_results(quick: bool) -> list[Result]:
    return bench_latency.run(50_000 if quick else 200_000, 1 if quick else 5)


def book_results(quick: bool) -> list[Result]:
    stream = bench_book.build_stream(20_000 if quick else 100_000)
    return bench_book.run(stream, 1 if quick else 5, layouts=False)


def _pick(results: list[dict[str, Any]], key: str) -> list[float]:
    return [float(r[key]) for r in results]


RUNNERS = {
    "parse": parse_results,
    "publish": publish_results,
    "e2e": e2e_results,
    "memory": memory_results,
    "latency": latency_results,
    "book": book_results,
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="one short run per benchmark")
    parser.add_argument("--only", default=",".join(ALL), help=f"comma-separated subset of {ALL}")
    ns = parser.parse_args()
    exit_on_sigterm()
    print(f"machine: {machine()}", flush=True)
    results: list[Result] = []
    for name in ns.only.split(","):
        results += RUNNERS[name.strip()](ns.quick)
        print(table(results), flush=True)  # so far, in case a later benchmark fails
    print("\nsummary:")
    print(table(results))


if __name__ == "__main__":
    main()
