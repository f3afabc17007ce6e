"""Latency of WebSocket records (`data_collector/latency.py`): nearest-rank percentiles, the
histogram buckets, the per-connection recorder and the per-venue window, with hand-worked
numbers."""

from __future__ import annotations

import pytest

from microservices.data_collector.latency import (
    LatencyRecorder,
    LatencySummary,
    LatencyWindow,
    bucket_counts,
    percentile,
)
from tests.factories import T0, trade

BOUNDS = (0, 1, 5, 10)


@pytest.mark.parametrize(
    ("values", "pct", "expected"),
    [
        # n = 4: p50 rank ceil(2.0) = 2 -> 20; p95 rank ceil(3.8) = 4 -> 40
        ([10, 20, 30, 40], 50, 20),
        ([10, 20, 30, 40], 95, 40),
        # n = 20 (1..20): p50 rank 10 -> 10; p95 rank ceil(19.0) = 19 -> 19 (no float drift)
        (list(range(1, 21)), 50, 10),
        (list(range(1, 21)), 95, 19),
        # n = 5: p50 rank ceil(2.5) = 3 -> the median; p95 rank ceil(4.75) = 5 -> the largest
        ([-3, 0, 2, 7, 9], 50, 2),
        ([-3, 0, 2, 7, 9], 95, 9),
        ([5], 50, 5),
        ([5], 95, 5),
        ([1, 2, 3], 100, 3),
        ([1, 2, 3], 1, 1),
    ],
)
def test_percentile_is_nearest_rank(values: list[int], pct: int, expected: int) -> None:
    assert percentile(values, pct) == expected


@pytest.mark.parametrize(("values", "pct"), [([], 50), ([1], 0), ([1], 101)])
def test_percentile_refuses_empty_input_and_bad_ranks(values: list[int], pct: int) -> None:
    with pytest.raises(ValueError, match="percentile"):
        percentile(values, pct)


def test_bucket_counts_use_upper_bounds_inclusive() -> None:
    # bounds 0, 1, 5, 10, +Inf: -2 and 0 -> le 0; 1 -> le 1; 2 and 5 -> le 5; 6 -> le 10;
    # 11 and 5000 -> +Inf
    assert bucket_counts([-2, 0, 1, 2, 5, 6, 11, 5_000], BOUNDS) == [2, 1, 2, 1, 2]
    assert bucket_counts([], BOUNDS) == [0, 0, 0, 0, 0]


def test_recorder_measures_recv_minus_ts_of_its_types_only() -> None:
    recorder = LatencyRecorder({"trade"})
    records = [trade(ts_ms=T0), trade(ts_ms=T0 + 30), trade(ts_ms=T0 + 60)]
    recorder.observe(records, T0 + 50)  # 50, 20, -10 (the venue's clock 10 ms ahead)
    recorder.observe([], T0 + 60)
    assert recorder.drain() == {"trade": [50, 20, -10]}
    assert recorder.drain() == {}  # drained: nothing twice

    tickers_only = LatencyRecorder({"ticker"})
    tickers_only.observe(records, T0 + 50)
    assert tickers_only.drain() == {}


def test_recorder_keeps_the_newest_samples_up_to_its_cap() -> None:
    recorder = LatencyRecorder({"trade"}, cap=3)
    recorder.observe([trade(ts_ms=T0 - i) for i in range(5)], T0)  # 0, 1, 2, 3, 4
    assert recorder.drain() == {"trade": [2, 3, 4]}


def test_window_answers_p50_p95_and_count_of_the_last_minute() -> None:
    window = LatencyWindow(window_ms=60_000, max_samples=100)
    assert window.summary(T0) == LatencySummary(None, None, 0)
    window.add(T0, [40, 10, 30])
    window.add(T0 + 1_000, [20])
    window.add(T0 + 2_000, [])  # an empty drain changes nothing
    # sorted 10, 20, 30, 40: p50 rank 2 -> 20, p95 rank 4 -> 40
    assert window.summary(T0 + 2_000) == LatencySummary(20, 40, 4)
    # at T0 + 60 s the first batch is a minute old and leaves: only 20 remains
    assert window.summary(T0 + 60_000) == LatencySummary(20, 20, 1)
    assert window.summary(T0 + 61_000).as_dict() == {"p50": None, "p95": None, "samples": 0}


def test_window_drops_oldest_batches_beyond_max_samples() -> None:
    window = LatencyWindow(window_ms=60_000, max_samples=4)
    window.add(T0, [100, 100, 100])
    window.add(T0 + 1, [1, 2])  # 5 samples: dropping the first batch would leave 2 < 4: kept
    assert window.summary(T0 + 1).samples == 5
    window.add(T0 + 2, [3, 4])  # 7: without the first batch 4 remain >= 4: it goes
    assert window.summary(T0 + 2) == LatencySummary(2, 4, 4)
    window.add(T0 + 3, list(range(10)))  # a batch larger than max keeps its newest 4
    assert window.summary(T0 + 3) == LatencySummary(7, 9, 4)
