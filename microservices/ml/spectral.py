"""Spectral residual anomaly detection (Ren et al. 2019, "Time-Series Anomaly Detection Service
at Microsoft", KDD) and the seed 003 burst confirmation filter.

The seed names the parameters but not the score; where it is silent this follows the paper:
score = (S - mean of the `score_window` preceding saliencies) / that mean (the paper's local
average of the preceding z points; the reference code includes the current point and takes
the absolute value, which would also flag dips in saliency), anomalous above
`threshold_multiplier`. The transform steps are in `spectral_transform`.

Pure numpy: no I/O, no clock, no redis. Timestamps are whatever the caller passes (the
services pass ``ts_ms``); the detector never reads time itself.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from microservices.ml.spectral_transform import (
    FloatArray,
    extend_series,
    last_score,
    local_mean_scores,
    saliency_map,
)

__all__ = [
    "Anomaly",
    "Burst",
    "BurstConfirmationFilter",
    "FloatArray",
    "SpectralResidualDetector",
    "group_bursts",
]


@dataclass(frozen=True, slots=True)
class Anomaly:
    """One anomalous point: its index in the series, its timestamp (None when the caller gave
    none), the raw value, the saliency S(x) and the score (S - local mean) / local mean."""

    index: int
    ts: int | None
    value: float
    saliency: float
    score: float


@dataclass(frozen=True, slots=True)
class Burst:
    """A run of anomalies whose gaps are at most ``max_gap`` normal points. Indices are
    inclusive; ``points`` counts the anomalous points in the run (not its length)."""

    start_index: int
    end_index: int
    start_ts: int | None
    end_ts: int | None
    points: int
    max_score: float
    mean_score: float


class SpectralResidualDetector:
    """Seed 003's detector. ``window_size`` is the minimum history: a point is judged only when
    at least ``window_size`` points (itself included) exist, so shorter series have no anomalies
    (seed: "requires minimum 20 points"). A point is anomalous when its score exceeds
    ``threshold_multiplier``, i.e. its saliency is above (1 + multiplier) times the mean
    saliency of the ``score_window`` points before it. ``mag_window`` is the paper's q."""

    def __init__(
        self,
        window_size: int = 20,
        threshold_multiplier: float = 3.0,
        mag_window: int = 3,
        score_window: int = 40,
    ) -> None:
        if window_size < 3:
            raise ValueError(f"window_size must be >= 3, got {window_size}")
        if not (math.isfinite(threshold_multiplier) and threshold_multiplier > 0):
            raise ValueError(f"threshold_multiplier must be > 0, got {threshold_multiplier}")
        if mag_window < 1:
            raise ValueError(f"mag_window must be >= 1, got {mag_window}")
        if score_window < 1:
            raise ValueError(f"score_window must be >= 1, got {score_window}")
        self.window_size = window_size
        self.threshold_multiplier = threshold_multiplier
        self.mag_window = mag_window
        self.score_window = score_window

    def saliency(self, series: Sequence[float] | FloatArray) -> FloatArray:
        """Saliency of each point of ``series`` (extension points dropped)."""
        values = _as_finite_array(series)
        if len(values) == 0:
            return values
        return saliency_map(extend_series(values), self.mag_window)[: len(values)]

    def scores(self, series: Sequence[float] | FloatArray) -> FloatArray:
        """Anomaly score of each point; points inside the warm-up (index < window_size - 1)
        score 0 so callers can plot one array."""
        values = _as_finite_array(series)
        if len(values) < self.window_size:
            return np.zeros(len(values), dtype=np.float64)
        scores = local_mean_scores(self.saliency(values), self.score_window)
        scores[: self.window_size - 1] = 0.0
        return scores

    def detect(
        self,
        series: Sequence[float] | FloatArray,
        timestamps: Sequence[int] | None = None,
    ) -> list[Anomaly]:
        """Anomalous points of ``series`` in index order. ``timestamps`` (same length) label
        them. Raises ValueError on non-finite values or a length mismatch."""
        values = _as_finite_array(series)
        if timestamps is not None and len(timestamps) != len(values):
            raise ValueError(f"{len(timestamps)} timestamps for {len(values)} values")
        if len(values) < self.window_size:
            return []
        saliency = self.saliency(values)
        scores = local_mean_scores(saliency, self.score_window)
        scores[: self.window_size - 1] = 0.0
        hits = [int(i) for i in np.flatnonzero(scores > self.threshold_multiplier)]
        return [
            Anomaly(
                index=i,
                ts=None if timestamps is None else int(timestamps[i]),
                value=float(values[i]),
                saliency=float(saliency[i]),
                score=float(scores[i]),
            )
            for i in hits
        ]

    def judge_last(
        self,
        series: Sequence[float] | FloatArray,
        timestamps: Sequence[int] | None = None,
    ) -> Anomaly | None:
        """The last point of ``series`` as an Anomaly when it is anomalous, else None: the
        online question, asked of a trailing window each time a point arrives."""
        values = _as_finite_array(series)
        if len(values) < self.window_size:
            return None
        saliency = self.saliency(values)
        score = last_score(saliency, self.score_window)
        if not score > self.threshold_multiplier:
            return None
        last = len(values) - 1
        ts = None if timestamps is None else int(timestamps[-1])
        return Anomaly(last, ts, float(values[-1]), float(saliency[-1]), score)

    def detect_bursts(
        self,
        series: Sequence[float] | FloatArray,
        timestamps: Sequence[int] | None = None,
        min_duration: int = 3,
        max_gap: int = 2,
    ) -> list[Burst]:
        """Runs of at least ``min_duration`` anomalous points where consecutive anomalies are
        separated by at most ``max_gap`` normal points (seed: "consecutive anomalies")."""
        if min_duration < 1 or max_gap < 0:
            raise ValueError(f"min_duration >= 1 and max_gap >= 0, got {min_duration}, {max_gap}")
        return group_bursts(self.detect(series, timestamps), min_duration, max_gap)


def group_bursts(anomalies: Sequence[Anomaly], min_duration: int, max_gap: int) -> list[Burst]:
    """Group anomalies (index order) into bursts; see ``detect_bursts``."""
    bursts: list[Burst] = []
    run: list[Anomaly] = []
    for anomaly in anomalies:
        if run and anomaly.index - run[-1].index - 1 > max_gap:
            _close_run(run, min_duration, bursts)
            run = []
        run.append(anomaly)
    _close_run(run, min_duration, bursts)
    return bursts


def _close_run(run: list[Anomaly], min_duration: int, bursts: list[Burst]) -> None:
    if len(run) < min_duration:
        return
    scores = [a.score for a in run]
    bursts.append(
        Burst(
            start_index=run[0].index,
            end_index=run[-1].index,
            start_ts=run[0].ts,
            end_ts=run[-1].ts,
            points=len(run),
            max_score=max(scores),
            mean_score=sum(scores) / len(scores),
        )
    )


def _as_finite_array(series: Sequence[float] | FloatArray) -> FloatArray:
    values = np.asarray(series, dtype=np.float64)
    if values.ndim != 1:
        raise ValueError(f"series must be one-dimensional, got shape {values.shape}")
    if not np.all(np.isfinite(values)):
        raise ValueError("series contains NaN or infinite values")
    return values


class BurstConfirmationFilter:
    """Seed 003's gate for trading signals. ``update`` keeps the last ``lookback_window``
    (price, volume, ts) observations; ``confirm_burst`` scores the volume series and the
    absolute price returns with the detector and reports the highest score among the last
    ``recent_points`` points: a burst when it reaches ``min_burst_score``.

    ``filter_signal(confidence)`` takes a signal only on a confirmed burst, and scales the
    confidence by min(1, burst_score / min_burst_score), so it is never inflated."""

    def __init__(
        self,
        lookback_window: int = 100,
        min_burst_score: float = 3.0,
        recent_points: int = 3,
        detector: SpectralResidualDetector | None = None,
    ) -> None:
        self.detector = detector if detector is not None else SpectralResidualDetector()
        if lookback_window < self.detector.window_size + 1:
            raise ValueError(
                f"lookback_window must be > window_size {self.detector.window_size}, "
                f"got {lookback_window}"
            )
        if not (math.isfinite(min_burst_score) and min_burst_score > 0):
            raise ValueError(f"min_burst_score must be > 0, got {min_burst_score}")
        if recent_points < 1:
            raise ValueError(f"recent_points must be >= 1, got {recent_points}")
        self.lookback_window = lookback_window
        self.min_burst_score = min_burst_score
        self.recent_points = recent_points
        self.rejected = 0
        self._prices: deque[float] = deque(maxlen=lookback_window)
        self._volumes: deque[float] = deque(maxlen=lookback_window)
        self._ts: deque[int] = deque(maxlen=lookback_window)

    def __len__(self) -> int:
        return len(self._prices)

    def update(self, price: float, volume: float, ts: int) -> bool:
        """Add one observation. Non-finite or non-positive prices and non-finite or negative
        volumes are refused (counted in ``rejected``) and return False."""
        ok = math.isfinite(price) and price > 0 and math.isfinite(volume) and volume >= 0
        if not ok:
            self.rejected += 1
            return False
        self._prices.append(float(price))
        self._volumes.append(float(volume))
        self._ts.append(int(ts))
        return True

    def burst_score(self) -> float:
        """Highest score of the last ``recent_points`` points over volume and |returns|; 0.0
        until the window holds ``window_size + 1`` observations."""
        if len(self._prices) < self.detector.window_size + 1:
            return 0.0
        prices = np.asarray(self._prices, dtype=np.float64)
        returns = np.abs(np.diff(np.log(prices)))
        volumes = np.asarray(self._volumes, dtype=np.float64)[1:]
        tail = self.recent_points
        best = max(
            float(np.max(self.detector.scores(volumes)[-tail:])),
            float(np.max(self.detector.scores(returns)[-tail:])),
        )
        return max(best, 0.0)

    def confirm_burst(self) -> tuple[bool, float]:
        """(is_burst, burst_score)."""
        score = self.burst_score()
        return score >= self.min_burst_score, score

    def filter_signal(self, signal_confidence: float) -> tuple[bool, float]:
        """(should_take, adjusted_confidence) for a signal of confidence in [0, 1]; a
        non-finite confidence is never taken and becomes 0.0."""
        if not math.isfinite(signal_confidence):
            return False, 0.0
        confidence = min(max(signal_confidence, 0.0), 1.0)
        is_burst, score = self.confirm_burst()
        return is_burst, confidence * min(1.0, score / self.min_burst_score)
