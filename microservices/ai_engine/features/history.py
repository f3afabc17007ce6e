"""Per-symbol feature history: the features that need past snapshots (momentum, rolling std,
per-venue return statistics, pairwise correlation, lead-lag).

Every update is incremental (running sums, bounded deques, numpy tick buffers). Pure: time
comes from the snapshots' `ts_ms`.
"""

from __future__ import annotations

import math
from typing import Final

from microservices.ai_engine.features.basic import FUTURES_SUFFIX
from microservices.ai_engine.features.lead_lag import TickSeries, best_lag_ms, lag_grid
from microservices.ai_engine.features.params import FeatureParams
from microservices.ai_engine.features.rolling import PairCorrelation, RollingStats, TimeLookback
from microservices.common.records import NormalizedSnapshot

# Samples a venue (or venue pair) needs before its statistics are used.
MIN_SAMPLES: Final = 3
# cross_exchange_vol_ratio ceiling (also used when the calmest venue's std is exactly 0).
VOL_RATIO_CAP: Final = 100.0
# The lead-lag estimate (a few hundred µs to ~1.5 ms over a busy 5-minute window) is
# recomputed at most this often per symbol, or when its venue pair changes; it describes a
# 5-minute window, so a value up to 1 s old is as good as a fresh one.
LEAD_LAG_REFRESH_MS: Final = 1_000


def nbbo_crossed(snap: NormalizedSnapshot) -> bool:
    """Whether the NBBO is crossed or locked across venues: best_bid >= best_ask with the two
    on different venues."""
    bid, ask = snap.best_bid, snap.best_ask
    if bid is None or ask is None:
        return False
    return bid >= ask and snap.best_bid_exchange != snap.best_ask_exchange


class SymbolHistory:
    """Rolling state of one symbol, fed with its snapshots in time order.

    A snapshot older than the newest one already recorded is scored against the current
    history but not added to it.
    """

    __slots__ = (
        "_avg",
        "_crossed_since",
        "_lags",
        "_last_prices",
        "_last_ts",
        "_lead_lag",
        "_pairs",
        "_params",
        "_prices",
        "_ticks",
        "_venue_returns",
    )

    def __init__(self, params: FeatureParams) -> None:
        self._params = params
        self._last_ts: int | None = None
        self._prices = TimeLookback()
        self._avg = RollingStats(params.rolling_window)
        self._last_prices: dict[str, float] = {}
        self._venue_returns: dict[str, RollingStats] = {}
        self._pairs = PairCorrelation(params.rolling_window)
        self._ticks: dict[str, TickSeries] = {}
        self._lags = lag_grid(params.lead_lag_max_lag_ms, params.lead_lag_step_ms)
        # (venue pair, ts_ms of the computation, lag in seconds)
        self._lead_lag: tuple[tuple[str, str] | None, int, float] = (None, 0, 0.0)
        self._crossed_since: int | None = None  # ts_ms of the first snapshot of the crossing

    def update(self, snap: NormalizedSnapshot) -> dict[str, float]:
        if self._last_ts is None or snap.ts_ms >= self._last_ts:
            self._record(snap)
        ratio, dispersion = self._vol_ratio_and_dispersion(snap)
        return {
            "price_momentum": self._momentum(snap),
            "volatility_spread": self._avg.std(),
            "price_sync_correlation": self._pairs.mean_correlation(MIN_SAMPLES),
            "lead_lag_coefficient": self._lead_lag_s(snap),
            "cross_exchange_vol_ratio": ratio,
            "vol_dispersion": dispersion,
            "nbbo_crossed_ms": self._crossed_ms(snap),
        }

    def _record(self, snap: NormalizedSnapshot) -> None:
        self._last_ts = snap.ts_ms
        if not nbbo_crossed(snap):
            self._crossed_since = None
        elif self._crossed_since is None:
            self._crossed_since = snap.ts_ms
        self._prices.push(snap.ts_ms, snap.avg_price)
        self._avg.push(snap.avg_price)
        returns: dict[str, float] = {}
        prices: dict[str, float] = {}
        for venue, quote in snap.venues.items():
            if not quote.price > 0.0:
                continue
            prices[venue] = quote.price
            prev = self._last_prices.get(venue)
            if prev is not None:
                r = math.log(quote.price / prev)
                returns[venue] = r
                self._venue_returns.setdefault(venue, RollingStats(self._params.rolling_window))
                self._venue_returns[venue].push(r)
            self._record_tick(venue, snap.ts_ms - quote.age_ms, math.log(quote.price))
        self._last_prices = prices  # a venue absent from a snapshot gets no return across the gap
        self._pairs.push(returns)
        cutoff = snap.ts_ms - self._params.lead_lag_window_ms
        for series in self._ticks.values():
            series.evict_before(cutoff)

    def _crossed_ms(self, snap: NormalizedSnapshot) -> float:
        """nbbo_crossed_ms (arbitrage persistence): snap.ts_ms minus the time of the first
        snapshot of the current unbroken run of crossed or locked snapshots (`nbbo_crossed`),
        in ms, so it is measured at snapshot resolution; 0.0 when the NBBO is not crossed
        (also on the first crossed snapshot, and on a late snapshot outside the run)."""
        since = self._crossed_since
        if since is None or not nbbo_crossed(snap) or snap.ts_ms < since:
            return 0.0
        return float(snap.ts_ms - since)

    def _record_tick(self, venue: str, observed_ms: int, log_price: float) -> None:
        """Keep a venue's price only when it changed, at its observation time (ts - age)."""
        series = self._ticks.get(venue)
        if series is None:
            series = self._ticks[venue] = TickSeries()
        last = series.last()
        if last is None or (observed_ms > last[0] and log_price != last[1]):
            series.append(observed_ms, log_price)

    def _momentum(self, snap: NormalizedSnapshot) -> float:
        """price_momentum: % change of avg_price vs the latest snapshot at or before
        ts - momentum_window_ms; 0.0 until the history reaches that far back."""
        ref = self._prices.at_or_before(snap.ts_ms - self._params.momentum_window_ms)
        if ref is None or not ref > 0.0:
            return 0.0
        return (snap.avg_price / ref - 1.0) * 100.0

    def _vol_ratio_and_dispersion(self, snap: NormalizedSnapshot) -> tuple[float, float]:
        """(max/min, population std) of the rolling return std of the snapshot's venues that
        have >= MIN_SAMPLES returns. Fallbacks: (1.0, 0.0) with fewer than two such venues;
        the ratio is capped at VOL_RATIO_CAP (also when the calmest std is 0 but another is
        not) and 1.0 when all stds are 0."""
        stds = [
            stats.std()
            for venue in snap.venues
            if (stats := self._venue_returns.get(venue)) is not None and len(stats) >= MIN_SAMPLES
        ]
        if len(stds) < 2:
            return 1.0, 0.0
        high, low = max(stds), min(stds)
        if low > 0.0:
            ratio = min(high / low, VOL_RATIO_CAP)
        else:
            ratio = VOL_RATIO_CAP if high > 0.0 else 1.0
        mean = math.fsum(stds) / len(stds)
        dispersion = math.sqrt(math.fsum((s - mean) ** 2 for s in stds) / len(stds))
        return ratio, dispersion

    def _usable(self, venue: str) -> bool:
        series = self._ticks.get(venue)
        return series is not None and len(series) >= MIN_SAMPLES

    def _lead_lag_pair(self, snap: NormalizedSnapshot) -> tuple[str, str] | None:
        """ratio_pair (numerator falling back to <name>_futures) when both have >= MIN_SAMPLES
        price changes in the window; else the two snapshot venues with the largest volume
        (then most price changes, then name); None with fewer than two usable venues."""
        first, second = self._params.ratio_pair
        if not self._usable(first):
            first += FUTURES_SUFFIX
        if self._usable(first) and self._usable(second):
            return first, second
        ranked = sorted(
            (venue for venue in snap.venues if self._usable(venue)),
            key=lambda v: (-(snap.venues[v].volume or 0.0), -len(self._ticks[v]), v),
        )
        return (ranked[0], ranked[1]) if len(ranked) >= 2 else None

    def _lead_lag_s(self, snap: NormalizedSnapshot) -> float:
        """lead_lag_coefficient in seconds: the HY best-fit lag of the pair's log-price changes
        over lead_lag_window_ms; > 0 when the first venue leads. 0.0 without a usable pair.
        Refreshed at most every LEAD_LAG_REFRESH_MS per symbol unless the pair changes."""
        pair = self._lead_lag_pair(snap)
        if pair is None:
            self._lead_lag = (None, snap.ts_ms, 0.0)
            return 0.0
        cached_pair, computed_ms, cached = self._lead_lag
        if pair == cached_pair and 0 <= snap.ts_ms - computed_ms < LEAD_LAG_REFRESH_MS:
            return cached
        tx, x = self._ticks[pair[0]].arrays()
        ty, y = self._ticks[pair[1]].arrays()
        lag_s = best_lag_ms(tx, x, ty, y, self._lags) / 1000.0
        self._lead_lag = (pair, snap.ts_ms, lag_s)
        return lag_s
