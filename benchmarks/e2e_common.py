"""What the end-to-end benchmark (`bench_e2e.py`) and the bare redis-py chain
(`bench_chain.py`) share: Redis stream state, the "sustained" criteria, the rate sweep and
the min / median / max cells. No processes here.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable
from typing import Any

import redis

from microservices.common.streams import build_streams

LAG_BOUND = 5_000
P99_BOUND_MS = 1_000.0
GROUP = "aggregator"  # the consumer group both chains read with


def raw_stream() -> tuple[str, int]:
    """(name, MAXLEN) of exchange.raw as the services resolve it."""
    raw = build_streams().raw
    return raw.name, raw.maxlen


def _get(info: dict[Any, Any], key: str) -> Any:
    return info.get(key, info.get(key.encode()))


def redis_state(url: str, stream: str | None = None) -> tuple[int, int, bool]:
    """(entries added to the stream, GROUP's lag, caught up: everything delivered and
    acknowledged). Lag counts entries Redis trimmed unread (XINFO reports nil then)."""
    name = stream or raw_stream()[0]
    with redis.Redis.from_url(url) as client:
        info: Any = client.xinfo_stream(name)
        groups: Any = client.xinfo_groups(name)
    added = int(_get(info, "entries-added"))
    group = next((g for g in groups if _get(g, "name") in (GROUP, GROUP.encode())), None)
    if group is None:
        return added, added, False
    lag = _get(group, "lag")
    last_id, delivered = _get(info, "last-generated-id"), _get(group, "last-delivered-id")
    caught_up = delivered == last_id and int(_get(group, "pending")) == 0
    return added, added if lag is None else int(lag), caught_up


def sustained(run: dict[str, Any]) -> bool:
    """Zero drops, lag below LAG_BOUND throughout, event -> state p99 below P99_BOUND_MS."""
    p99 = float(run["event_to_state_ms"].get("p99", float("inf")))
    return bool(run["drops"] == 0 and run["max_lag"] < LAG_BOUND and p99 < P99_BOUND_MS)


def mmm(values: Iterable[float]) -> str:
    data = list(values)
    if not data:
        return "n/a"
    return f"{min(data):,.0f} / {statistics.median(data):,.0f} / {max(data):,.0f}"


def sweep(
    one_run: Callable[[float], dict[str, Any]],
    start: float,
    step: float,
    runs: int,
    label: str,
    limit: float = 200_000.0,
) -> tuple[float, list[dict[str, Any]], list[tuple[float, list[dict[str, Any]]]]]:
    """Find the highest target (a multiple of `step` away from `start`) whose runs are all
    sustained: upwards from `start` while they are, downwards when `start` is not. Returns
    (the median folded records/s at that target, 0 if none; its runs; every target's runs)."""
    history: list[tuple[float, list[dict[str, Any]]]] = []

    def attempt(target: float) -> tuple[bool, list[dict[str, Any]]]:
        results = [one_run(target) for _ in range(runs)]
        history.append((target, results))
        ok = [sustained(r) for r in results]
        rates = [r["records_per_s"] for r in results]
        print(f"{label} {target:,.0f}: records/s {mmm(rates)}, sustained {ok}", flush=True)
        return all(ok), results

    def rate(results: list[dict[str, Any]]) -> float:
        return float(statistics.median(r["records_per_s"] for r in results))

    target = start
    ok, results = attempt(target)
    if not ok:
        while target - step > 0:
            target -= step
            ok, results = attempt(target)
            if ok:
                return rate(results), results, history
        return 0.0, [], history
    best, best_runs = rate(results), results
    while target + step <= limit:
        target += step
        ok, results = attempt(target)
        if not ok:
            break
        best, best_runs = rate(results), results
    return best, best_runs, history
