"""Thresholds of large trades and market alerts, as plain numbers the pure code takes.

Pure: no I/O, no settings import at run time (`from_settings` reads any object with the
`settings_large_trades` fields).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from microservices.common.instruments import GROUP_QUOTE, USD_EQUIVALENTS


@dataclass(frozen=True, slots=True)
class AlertParams:
    """USD values are in USD, funding in percent per 8 h, times in ms."""

    btc_usd: float = 100_000.0
    eth_usd: float = 50_000.0
    other_usd: float = 20_000.0
    cluster_count: int = 5
    cluster_min_usd: float = 10_000.0
    cluster_window_ms: int = 60_000
    funding_abs_pct: float = 0.1
    funding_jump_pct: float = 0.05
    oi_change_pct: float = 5.0
    oi_window_ms: int = 300_000
    cooldown_ms: int = 300_000
    usd_quotes: frozenset[str] = USD_EQUIVALENTS

    def threshold_usd(self, base: str) -> float:
        """Seed 002: BTC $100k, ETH $50k, every other base $20k (the defaults)."""
        if base == "BTC":
            return self.btc_usd
        if base == "ETH":
            return self.eth_usd
        return self.other_usd

    @classmethod
    def from_settings(cls, settings: Any) -> AlertParams:
        return cls(
            btc_usd=settings.large_trade_btc_usd,
            eth_usd=settings.large_trade_eth_usd,
            other_usd=settings.large_trade_other_usd,
            cluster_count=settings.liquidation_cluster_count,
            cluster_min_usd=settings.liquidation_cluster_min_usd,
            cluster_window_ms=int(settings.liquidation_cluster_window_s * 1000),
            funding_abs_pct=settings.funding_spike_abs_pct,
            funding_jump_pct=settings.funding_spike_jump_pct,
            oi_change_pct=settings.oi_change_pct,
            oi_window_ms=int(settings.oi_change_window_s * 1000),
            cooldown_ms=int(settings.market_alert_cooldown_s * 1000),
            usd_quotes=frozenset(settings.usd_equivalents),
        )


def base_of(group: str, quote: str, usd_quotes: frozenset[str]) -> str:
    """The base asset of a followed symbol: `BTCUSDT` (quote USD, USDT or USDC) -> `BTC`,
    `ETHBTC` (quote BTC) -> `ETH`; the group itself when neither suffix fits."""
    suffix = GROUP_QUOTE if quote in usd_quotes or not quote else quote
    if group.endswith(suffix) and len(group) > len(suffix):
        return group[: -len(suffix)]
    return group
