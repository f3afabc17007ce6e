"""Latency and clock skew in the collector's health state (`VenueStatus.summary`, what /health
shows per venue) and in Prometheus (`ce_ws_latency_seconds` histogram, the recent-percentile
and clock-skew gauges), with hand-worked numbers."""

from __future__ import annotations

import math
import uuid

from prometheus_client import REGISTRY, generate_latest

from microservices.data_collector.clock_skew import SkewSample
from microservices.data_collector.venue_status import VenueStatus

T0 = 1_700_000_000_000


def fresh_venue() -> str:
    """A label value of its own: the metrics are process-wide."""
    return f"venue_{uuid.uuid4().hex[:8]}"


def sample(name: str, venue: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, {"exchange": venue, **labels})


def scrape(venue: str) -> list[str]:
    text = generate_latest(REGISTRY).decode()
    return [line for line in text.splitlines() if f'exchange="{venue}"' in line]


def test_summary_reports_latency_of_all_connections_and_the_best_skew() -> None:
    venue, status = fresh_venue(), VenueStatus()
    for label in ("a#0", "a#1"):
        status.register(label, venue)
    status.add_latency(venue, {"trade": [30, 10], "ticker": [20]}, T0)
    status.add_latency(venue, {"trade": [40]}, T0 + 500)  # another connection's drain
    status.add_clock_skew(venue, SkewSample(1_512.25, 30.0, T0))
    status.add_clock_skew(venue, SkewSample(1_499.96, 2.04, T0 + 1))
    item = status.summary(T0 + 1_000)[venue]
    # 10, 20, 30, 40: p50 rank 2 -> 20, p95 rank 4 -> 40
    assert item["latency_ms"] == {"p50": 20, "p95": 40, "samples": 4}
    assert (item["clock_skew_ms"], item["rtt_ms"]) == (1_500.0, 2.0)  # rounded to 0.1 ms
    assert sample("ce_ws_latency_recent_seconds", venue, quantile="0.5") == 0.020
    assert sample("ce_ws_latency_recent_seconds", venue, quantile="0.95") == 0.040
    assert sample("ce_clock_skew_seconds", venue) == 1_499.96 / 1000
    assert sample("ce_clock_skew_rtt_seconds", venue) == 2.04 / 1000


def test_without_samples_the_fields_are_empty_and_the_gauges_nan() -> None:
    venue, status = fresh_venue(), VenueStatus()
    status.register("b#0", venue)
    status.add_latency(venue, {}, T0)
    item = status.summary(T0)[venue]
    assert item["latency_ms"] == {"p50": None, "p95": None, "samples": 0}
    assert (item["clock_skew_ms"], item["rtt_ms"]) == (None, None)
    assert math.isnan(sample("ce_ws_latency_recent_seconds", venue, quantile="0.5"))
    assert sample("ce_clock_skew_seconds", venue) is None  # never set


def test_histogram_exposes_cumulative_buckets_per_venue_and_type() -> None:
    venue, status = fresh_venue(), VenueStatus()
    status.register("c#0", venue)
    # -5 -> le 0; 0 -> le 0; 3 -> le 5; 7 -> le 10; 15000 -> +Inf. Trades only.
    status.add_latency(venue, {"trade": [-5, 0, 3]}, T0)
    status.add_latency(venue, {"trade": [7, 15_000]}, T0 + 1)
    lines = scrape(venue)
    bucket = {
        line.split('le="')[1].split('"')[0]: float(line.rsplit(" ", 1)[1])
        for line in lines
        if line.startswith("ce_ws_latency_seconds_bucket") and 'type="trade"' in line
    }
    assert bucket["0.0"] == 2
    assert bucket["0.002"] == 2
    assert bucket["0.005"] == 3
    assert bucket["0.01"] == 4
    assert bucket["10.0"] == 4
    assert bucket["+Inf"] == 5
    sums = [line for line in lines if line.startswith("ce_ws_latency_seconds_sum")]
    counts = [line for line in lines if line.startswith("ce_ws_latency_seconds_count")]
    assert sums == [f'ce_ws_latency_seconds_sum{{exchange="{venue}",type="trade"}} 15.005']
    assert counts == [f'ce_ws_latency_seconds_count{{exchange="{venue}",type="trade"}} 5.0']
