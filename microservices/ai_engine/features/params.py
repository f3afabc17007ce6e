"""Tuning parameters of the feature engine (plain frozen dataclass, no settings I/O)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FeatureParams:
    """Feature windows; durations in milliseconds, `rolling_window` in snapshots.

    momentum_window_ms: lookback of price_momentum.
    rolling_window: snapshots in volatility_spread, price_sync_correlation and the per-venue
        return std behind cross_exchange_vol_ratio / vol_dispersion.
    lead_lag_window_ms / lead_lag_max_lag_ms / lead_lag_step_ms: lead_lag_coefficient.
    expected_exchanges: venue count that makes all_exchanges_active 1.0.
    ratio_pair: (numerator, denominator) venues of binance_bybit_ratio and the preferred
        lead-lag pair; a missing numerator falls back to "<numerator>_futures".
    """

    momentum_window_ms: int = 60_000
    rolling_window: int = 20  # samples, for volatility_spread and correlations
    lead_lag_window_ms: int = 300_000
    lead_lag_max_lag_ms: int = 2_000
    lead_lag_step_ms: int = 250
    expected_exchanges: int = 4  # for all_exchanges_active
    ratio_pair: tuple[str, str] = ("binance", "bybit")
