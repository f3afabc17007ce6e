"""FeatureEngine: normalized snapshot in, ML feature vector (derived_schemas.FEATURE_NAMES) out.

The pure core behind exchange_feature_adapter and feature_loader: keeps per-symbol rolling
state incrementally (no pandas per message) and never reads the clock. Imports no redis,
asyncio or logging configuration.
"""

from __future__ import annotations

import math

from microservices.ai_engine.features.basic import (
    all_exchanges_active,
    day_of_week,
    hour_utc,
    venue_ratio,
)
from microservices.ai_engine.features.book import book_features
from microservices.ai_engine.features.dislocation import snapshot_features
from microservices.ai_engine.features.history import SymbolHistory
from microservices.ai_engine.features.params import FeatureParams
from microservices.common.derived_schemas import FEATURE_NAMES
from microservices.common.records import FeatureVector, NormalizedSnapshot

__all__ = ["FeatureEngine", "FeatureParams"]


def _finite(value: float) -> float:
    """Last-resort guard: a non-finite value (overflow on absurd inputs) becomes 0.0."""
    return value if math.isfinite(value) else 0.0


class FeatureEngine:
    """Turns each symbol's snapshots, fed in time order, into feature vectors.

    Seed 000 (one snapshot unless noted):
      avg_price, price_divergence, funding_delta: copied (quote units; funding_delta is the
        signed cross-venue funding spread in percent per 8 h).
      price_momentum: % change of avg_price vs the latest snapshot at or before
        ts - momentum_window_ms; 0.0 until the symbol's history spans that long.
      volatility_spread: population std of avg_price over the last rolling_window snapshots
        (quote units; 0.0 with one snapshot).
      binance_bybit_ratio: price of ratio_pair[0] (falling back to "<it>_futures") /
        price of ratio_pair[1]; 1.0 when either is missing.
      hour: UTC hour 0-23 of ts_ms. day_of_week: UTC, 0 = Monday .. 6 = Sunday.
      all_exchanges_active: 1.0 if num_exchanges >= expected_exchanges and nothing was
        excluded, else 0.0. num_exchanges: included venues.
    Seed 003: see dislocation.py (single snapshot) and history.py (rolling: price_sync_
      correlation, lead_lag_coefficient, cross_exchange_vol_ratio, vol_dispersion).
    Context: exchange_divergence, volatility_factor, avg_funding_rate (percent per 8 h) copied.
    L2 books (issue 13): book.py (book_imbalance_10bps, consolidated_depth_usd_10bps,
      microprice_offset_bps) and history.py (nbbo_crossed_ms); 0.0 without books.
    Every value is finite; each feature documents its fallback for missing data.
    """

    __slots__ = ("_params", "_symbols")

    def __init__(self, params: FeatureParams) -> None:
        self._params = params
        self._symbols: dict[str, SymbolHistory] = {}

    def update(self, snap: NormalizedSnapshot) -> FeatureVector:
        """Fold `snap` into its symbol's history and return its features, keyed exactly by
        derived_schemas.FEATURE_NAMES in that order."""
        history = self._symbols.get(snap.symbol)
        if history is None:
            history = self._symbols[snap.symbol] = SymbolHistory(self._params)
        values = {
            "avg_price": snap.avg_price,
            "price_divergence": snap.price_divergence,
            "funding_delta": snap.funding_delta,
            "binance_bybit_ratio": venue_ratio(snap, self._params.ratio_pair),
            "hour": hour_utc(snap.ts_ms),
            "day_of_week": day_of_week(snap.ts_ms),
            "all_exchanges_active": all_exchanges_active(snap, self._params.expected_exchanges),
            "num_exchanges": float(snap.num_exchanges),
            "exchange_divergence": snap.exchange_divergence,
            "volatility_factor": snap.volatility_factor,
            "avg_funding_rate": snap.avg_funding_rate,
        }
        values.update(snapshot_features(snap))
        values.update(book_features(snap))
        values.update(history.update(snap))
        return FeatureVector(
            symbol=snap.symbol,
            ts_ms=snap.ts_ms,
            values={name: _finite(float(values[name])) for name in FEATURE_NAMES},
        )
