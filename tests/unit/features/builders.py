"""Snapshot builders for the feature tests (times relative to T0, in ms)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from microservices.common.records import NormalizedSnapshot, VenueQuote

T0 = 1_700_000_000_000  # 2023-11-14T22:13:20Z, a Tuesday
SYMBOL = "BTCUSDT"


def snapshot(
    venues: Mapping[str, float | VenueQuote], at: int = 0, **overrides: Any
) -> NormalizedSnapshot:
    """A snapshot whose aggregates are computed from the venue prices unless overridden."""
    quotes = {
        name: q if isinstance(q, VenueQuote) else VenueQuote(price=q) for name, q in venues.items()
    }
    prices = [q.price for q in quotes.values()]
    mean = sum(prices) / len(prices)
    fields: dict[str, Any] = {
        "symbol": SYMBOL,
        "ts_ms": T0 + at,
        "avg_price": mean,
        "median_price": sorted(prices)[len(prices) // 2],
        "price_divergence": math.sqrt(sum((p - mean) ** 2 for p in prices) / len(prices)),
        "exchange_divergence": (max(prices) - min(prices)) / mean,
        "funding_delta": 0.0,
        "avg_funding_rate": 0.0,
        "volatility_factor": 1.0,
        "num_exchanges": len(quotes),
        "venues": quotes,
    }
    fields.update(overrides)
    return NormalizedSnapshot(**fields)
