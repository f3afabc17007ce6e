"""Synthetic datasets: synthetic venue tickers driven through the real aggregator and feature
engine on a simulated clock (issue 17, item 8).

A common log-price random walk is quoted by every venue. With `lag_steps > 0` the first venue
(the leader) quotes the walk now and the others quote it `lag_steps` steps late: a planted
lead-lag whose size is known, so the cross-venue features (binance_bybit_ratio, the spread
features) announce the followers' next moves. With `lag_steps == 0` every venue quotes the
same martingale and nothing about the future is knowable (the noise check).

Pure: no I/O, no wall clock (the clock is `start_ms + i * step_ms`); a fixed seed gives the
same frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from microservices.ai_engine.aggregation.params import AggregatorParams
from microservices.ai_engine.cross_exchange_aggregator import CrossExchangeState
from microservices.ai_engine.features.engine import FeatureEngine
from microservices.ai_engine.features.params import FeatureParams
from microservices.common.derived_schemas import FEATURE_NAMES
from microservices.common.records import Ticker

DEFAULT_VENUES = ("binance", "bybit", "okx")


@dataclass(frozen=True, slots=True)
class GeneratorConfig:
    """rows: feature rows produced (one per step); step_ms: simulated clock step.
    lag_steps: how many steps the followers trail the leader (0: pure noise).
    sigma_bps: std of the per-step log return, in bps. half_spread_bps: each venue's quote.
    """

    rows: int = 20_000
    step_ms: int = 1_000
    lag_steps: int = 5
    sigma_bps: float = 5.0
    half_spread_bps: float = 0.5
    start_price: float = 50_000.0
    start_ms: int = 1_767_225_600_000  # 2026-01-01T00:00:00Z
    symbol: str = "BTCUSDT"
    venues: tuple[str, ...] = DEFAULT_VENUES
    seed: int = 7

    def __post_init__(self) -> None:
        if self.rows < 1 or self.step_ms < 1 or self.lag_steps < 0 or len(self.venues) < 2:
            raise ValueError("rows and step_ms must be >= 1, lag_steps >= 0, venues >= 2")


def price_paths(config: GeneratorConfig) -> np.ndarray:
    """(rows, venues) quoted prices: venue 0 leads, the others trail by lag_steps."""
    rng = np.random.default_rng(config.seed)
    steps = config.rows + config.lag_steps
    log_walk = np.cumsum(rng.normal(0.0, config.sigma_bps * 1e-4, steps))
    prices = config.start_price * np.exp(log_walk)
    out = np.empty((config.rows, len(config.venues)))
    out[:, 0] = prices[config.lag_steps :]
    for j in range(1, len(config.venues)):
        out[:, j] = prices[: config.rows]
    return out


def _ticker(config: GeneratorConfig, venue: str, price: float, ts_ms: int) -> Ticker:
    half = price * config.half_spread_bps * 1e-4
    return Ticker(
        exchange=venue, market="spot", symbol=config.symbol, venue_symbol=config.symbol,
        group=config.symbol, quote="USDT", ts_ms=ts_ms, recv_ms=ts_ms,
        bid=price - half, bid_size=1.0, ask=price + half, ask_size=1.0, last=price,
    )  # fmt: skip


def generate_features(config: GeneratorConfig) -> pd.DataFrame:
    """One feature row per step (columns: symbol, ts_ms, every FEATURE_NAMES value), computed
    by CrossExchangeState and FeatureEngine exactly as the engine computes them."""
    paths = price_paths(config)
    state = CrossExchangeState(AggregatorParams())
    pair = (config.venues[0], config.venues[1])
    engine = FeatureEngine(FeatureParams(expected_exchanges=len(config.venues), ratio_pair=pair))
    columns: dict[str, list[float]] = {name: [] for name in FEATURE_NAMES}
    times: list[int] = []
    for i in range(config.rows):
        now = config.start_ms + i * config.step_ms
        for j, venue in enumerate(config.venues):
            state.update(_ticker(config, venue, float(paths[i, j]), now))
        for snap in state.poll(now):
            vector = engine.update(snap)
            times.append(vector.ts_ms)
            for name in FEATURE_NAMES:
                columns[name].append(vector.values[name])
    frame = pd.DataFrame(columns)
    frame.insert(0, "ts_ms", np.asarray(times, dtype=np.int64))
    frame.insert(0, "symbol", config.symbol)
    return frame
