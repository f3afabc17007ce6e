"""Snapshots with planted anomalies for the anomaly monitor's tests (unit and redis)."""

from __future__ import annotations

import itertools
import math

import numpy as np

from microservices.common.records import NormalizedSnapshot, VenueQuote

NOW = 1_760_000_000_000
STEP_MS = 1_000
BURST = range(100, 106)  # binance volume x 10 on these samples
PRICE_JUMP = 130  # avg_price 1 % up on this sample only (two large returns)


def planted_series(n: int = 160, seed: int = 4) -> dict[str, list[float]]:
    """avg_price, exchange_divergence and two venues' volume, one value per second."""
    rng = np.random.default_rng(seed)
    returns = rng.normal(0.0, 0.0005, n)
    price = 100.0 * np.exp(np.cumsum(returns))
    price[PRICE_JUMP] *= 1.01
    volume_binance = rng.gamma(2.0, 5.0, n)
    volume_binance[BURST.start : BURST.stop] *= 10.0
    volume_bybit = rng.gamma(2.0, 5.0, n)
    divergence = np.abs(rng.normal(0.0005, 0.0001, n))
    return {
        "avg_price": [float(v) for v in price],
        "exchange_divergence": [float(v) for v in divergence],
        "binance": [float(v) for v in volume_binance],
        "bybit": [float(v) for v in volume_bybit],
    }


def snapshot(
    i: int, series: dict[str, list[float]], ts_ms: int | None = None
) -> NormalizedSnapshot:
    price = series["avg_price"][i]
    venues = {
        venue: VenueQuote(price=price, volume=series[venue][i]) for venue in ("binance", "bybit")
    }
    return NormalizedSnapshot(
        symbol="BTCUSDT", ts_ms=NOW + STEP_MS * i if ts_ms is None else ts_ms,
        avg_price=price, median_price=price, price_divergence=0.0,
        exchange_divergence=series["exchange_divergence"][i], funding_delta=0.0,
        avg_funding_rate=0.0, volatility_factor=1.0, num_exchanges=2, venues=venues,
    )  # fmt: skip


def log_returns(prices: list[float]) -> list[float]:
    return [math.log(b / a) for a, b in itertools.pairwise(prices)]
