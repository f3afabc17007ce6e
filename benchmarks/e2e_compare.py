"""Issue 19's measurement in one run (`bench_e2e --compare`): the bare redis-py chain
(`bench_chain`) and our pipeline with the replay feed (`bench_e2e`), interleaved target by
target so both see the same machine, then event -> state p99 at 5k records/s.

From `start`, every `step`: at each target one chain run then one pipeline run (x `runs`).
A side's highest sustained rate is the median folded rate at its highest target whose runs
were all sustained (`e2e_common.sustained`); a side stops after two targets in a row that
were not (one bad run on a shared box does not end it). Every run prints one line.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

from benchmarks.e2e_common import mmm, sustained

Run = Callable[[float], dict[str, Any]]


def line(label: str, target: float, r: dict[str, Any]) -> str:
    lat = r["event_to_state_ms"]
    return (
        f"{label} {target:,.0f}: {r['records_per_s']:,.0f} records/s, p50/p99 "
        f"{lat.get('p50')}/{lat.get('p99')} ms, drops {r['drops']}, max lag {r['max_lag']}, "
        f"CPU {r['cpu_pct']}, sustained {sustained(r)}"
    )


def interleaved(
    sides: dict[str, Run], start: float, step: float, runs: int, limit: float = 200_000
) -> dict[str, tuple[float, list[dict[str, Any]]]]:
    """side -> (highest sustained records/s, that target's runs)."""
    best: dict[str, tuple[float, list[dict[str, Any]]]] = {name: (0.0, []) for name in sides}
    misses = dict.fromkeys(sides, 0)
    target = start
    while target <= limit and any(m < 2 for m in misses.values()):
        results: dict[str, list[dict[str, Any]]] = {n: [] for n in sides if misses[n] < 2}
        for _ in range(runs):
            for name in results:
                run = sides[name](target)
                results[name].append(run)
                print(line(name, target, run), flush=True)
        for name, rs in results.items():
            if all(sustained(r) for r in rs):
                best[name] = (float(statistics.median(r["records_per_s"] for r in rs)), rs)
                misses[name] = 0
            else:
                misses[name] += 1
        target += step
    return best


def report(
    best: dict[str, tuple[float, list[dict[str, Any]]]], at_5k: list[dict[str, Any]]
) -> list[str]:
    chain, chain_runs = best["chain"]
    ours, our_runs = best["e2e"]
    ratio = ours / chain if chain else 0.0
    p99s = [r["event_to_state_ms"].get("p99", float("inf")) for r in at_5k]
    p99 = statistics.median(p99s)
    rows = [
        "| measure | value | target | met? |",
        "|---|---|---|---|",
        f"| bare redis-py chain, highest sustained | {chain:,.0f} records/s | | |",
        f"| collector -> Redis -> aggregator (replay feed), highest sustained | "
        f"{ours:,.0f} records/s | | |",
        f"| ratio | {ratio:.2f} | >= 0.90 | {'yes' if ratio >= 0.9 else 'no'} |",
        f"| event -> state p99 at 5k records/s, median of {len(at_5k)} ({mmm(p99s)}) | "
        f"{p99:,.0f} ms | < 20 ms | {'yes' if p99 < 20 else 'no'} |",
    ]
    for label, results in (("chain", chain_runs), ("e2e", our_runs), ("e2e at 5k", at_5k)):
        if results:
            cpu = ", ".join(
                f"{n} {mmm(r['cpu_pct'][n] for r in results)}" for n in results[0]["cpu_pct"]
            )
            rows.append(f"| CPU % of a core ({label}) | {cpu} | | |")
    return rows


def compare(chain: Run, ours: Run, start: float, step: float, runs: int) -> list[str]:
    best = interleaved({"chain": chain, "e2e": ours}, start, step, runs)
    at_5k = []
    for _ in range(max(runs, 3)):
        at_5k.append(ours(5_000))
        print(line("e2e", 5_000, at_5k[-1]), flush=True)
    return report(best, at_5k)
