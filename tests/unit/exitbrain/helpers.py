"""Builders shared by the ExitBrain tests."""

from __future__ import annotations

from microservices.common.records import NormalizedSnapshot, VenueQuote

T0 = 1_703_128_542_000  # 2023-12-21T03:15:42Z, the time of seed 001's status example


def snapshot(
    symbol: str = "BTCUSDT",
    ts_ms: int = T0,
    *,
    volatility_factor: float = 1.0,
    exchange_divergence: float = 0.01,
    funding_delta: float = 0.0,
    num_exchanges: int = 3,
    excluded: dict[str, str] | None = None,
) -> NormalizedSnapshot:
    venues = {
        name: VenueQuote(price=43_000.0 + i)
        for i, name in enumerate(("binance", "bybit", "coinbase")[:num_exchanges])
    }
    return NormalizedSnapshot(
        symbol=symbol,
        ts_ms=ts_ms,
        avg_price=43_001.0,
        median_price=43_001.0,
        price_divergence=0.8,
        exchange_divergence=exchange_divergence,
        funding_delta=funding_delta,
        avg_funding_rate=0.0001,
        volatility_factor=volatility_factor,
        num_exchanges=num_exchanges,
        venues=venues,
        excluded=excluded or {},
    )
