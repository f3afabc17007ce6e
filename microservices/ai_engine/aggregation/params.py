"""Tuning parameters of the cross-exchange aggregator (plain frozen dataclass, no settings I/O)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class AggregatorParams:
    """Aggregator knobs; every duration is in milliseconds.

    min_exchanges: venues that must survive staleness and outlier filtering for a snapshot.
    stale_after_ms: a venue whose price observation is older than this is excluded ("stale").
    outlier_pct: with 3+ fresh venues, a venue further than this percent from their median is
        excluded ("outlier").
    min_emit_interval_ms / max_emit_interval_ms: per-symbol throttle of `poll()`.
    vol_short_window_ms / vol_long_window_ms / vol_cap / vol_sample_ms: volatility_factor.
    volume_window_ms: rolling traded-volume window per venue.
    funding_stale_after_ms: funding older than this is ignored in the funding aggregates.
    """

    min_exchanges: int = 2
    stale_after_ms: int = 10_000
    outlier_pct: float = 5.0  # percent
    min_emit_interval_ms: int = 250
    max_emit_interval_ms: int = 1_000
    vol_short_window_ms: int = 300_000
    vol_long_window_ms: int = 3_600_000
    vol_cap: float = 5.0
    volume_window_ms: int = 60_000
    funding_stale_after_ms: int = 180_000
    vol_sample_ms: int = 1_000  # avg_price sampling step for volatility
