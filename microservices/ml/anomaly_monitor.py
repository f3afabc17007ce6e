"""Online spectral-residual monitoring of normalized snapshots (issue 17 item 5).

Per symbol, one sample per `sample_ms` of the snapshot stream feeds rolling series: the log
return of `avg_price` between samples, `exchange_divergence`, and each venue's rolling traded
volume. After each sample the detector scores the series' history and judges the newest
sample once (never revised later, so the online view is causal): an anomalous sample gives a
`point` record. The flagged samples are grouped as `detect_bursts` groups them (at least
`burst_min_points` anomalies, gaps of at most `burst_max_gap` samples); a burst gives one
`burst` record when it first reaches `burst_min_points` and, outside the cooldown, one
ANOMALY_BURST alert.

Pure: no I/O, no clock (time is the snapshots' `ts_ms`).
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

from microservices.common.anomaly_schema import AnomalyRecord
from microservices.common.market_alerts import MarketAlert
from microservices.common.records import NormalizedSnapshot
from microservices.ml.spectral import Anomaly, Burst, SpectralResidualDetector, group_bursts

SOURCE: Final = "anomaly"
# a series whose previous sample is older than this many sample intervals starts over:
# splicing data across a gap would look like a jump
GAP_RESET_SAMPLES: Final = 10
# series where only a rise is news: the aggregator's volume is a rolling sum, so a burst also
# leaves a step down when it drops out of the volume window, and a divergence that closes is
# the market healing; a sample of these at or below the mean of the `score_window` samples
# before it is not reported (counted in `dips`). Returns keep both signs.
UPWARD_ONLY: Final = frozenset({"volume", "exchange_divergence"})
SERIES_LABELS: Final = {
    "return": "avg_price return",
    "exchange_divergence": "exchange divergence",
    "volume": "volume",
}


@dataclass(frozen=True, slots=True)
class MonitorParams:
    sample_ms: int = 1_000
    history: int = 200  # samples kept per series (the detector's view)
    window_size: int = 20
    threshold: float = 3.0
    mag_window: int = 3
    score_window: int = 40
    burst_min_points: int = 3
    burst_max_gap: int = 2
    alert_cooldown_ms: int = 300_000

    def detector(self) -> SpectralResidualDetector:
        return SpectralResidualDetector(
            self.window_size, self.threshold, self.mag_window, self.score_window
        )


@dataclass(slots=True)
class Findings:
    sampled: bool = False  # the snapshot was taken as a sample
    anomalies: list[AnomalyRecord] = field(default_factory=list)
    alerts: list[MarketAlert] = field(default_factory=list)


@dataclass(slots=True)
class _Series:
    values: deque[float]
    ts: deque[int]
    count: int = 0  # samples ever added: the index of the newest is count - 1
    flagged: deque[Anomaly] = field(default_factory=deque)  # online anomalies, index = count
    burst_start: int = -1  # index of the first anomaly of the last burst reported
    alert_ms: int | None = None


@dataclass(slots=True)
class _Symbol:
    sample_ms: int | None = None
    price: float | None = None
    series: dict[tuple[str, str | None], _Series] = field(default_factory=dict)


class AnomalyMonitor:
    def __init__(self, params: MonitorParams) -> None:
        if params.history <= params.window_size:
            raise ValueError(f"history {params.history} must exceed {params.window_size}")
        self.params = params
        self.detector = params.detector()
        self.samples = 0
        self.skipped = 0  # snapshots between samples or out of order
        self.rejected = 0  # non-finite values left out
        self.dips = 0  # anomalous falls of upward-only series, not reported
        self._symbols: dict[str, _Symbol] = {}

    @property
    def symbols(self) -> Mapping[str, object]:
        """Per-symbol state, read only (sample time, last price, each series' window, flagged
        samples, last burst and alert): what a rebuilt monitor must equal."""
        return MappingProxyType(self._symbols)

    def update(self, snap: NormalizedSnapshot) -> Findings:
        """Fold one snapshot; returns what its sample found (nothing between samples)."""
        state = self._symbols.setdefault(snap.symbol, _Symbol())
        if state.sample_ms is not None and snap.ts_ms < state.sample_ms + self.params.sample_ms:
            self.skipped += 1
            return Findings()
        state.sample_ms = snap.ts_ms
        self.samples += 1
        findings = Findings(sampled=True)
        for key, value in self._sample_values(state, snap):
            self._add(snap, state, key, value, findings)
        return findings

    def _sample_values(
        self, state: _Symbol, snap: NormalizedSnapshot
    ) -> list[tuple[tuple[str, str | None], float]]:
        values: list[tuple[tuple[str, str | None], float]] = []
        price = snap.avg_price
        if math.isfinite(price) and price > 0:
            if state.price is not None:
                values.append((("return", None), math.log(price / state.price)))
            state.price = price
        else:
            self.rejected += 1
        values.append((("exchange_divergence", None), snap.exchange_divergence))
        for venue in sorted(snap.venues):
            volume = snap.venues[venue].volume
            if volume is not None:
                values.append((("volume", venue), volume))
        return values

    def _add(
        self,
        snap: NormalizedSnapshot,
        state: _Symbol,
        key: tuple[str, str | None],
        value: float,
        findings: Findings,
    ) -> None:
        if not math.isfinite(value) or (key[0] == "volume" and value < 0):
            self.rejected += 1
            return
        series = state.series.get(key)
        max_gap_ms = GAP_RESET_SAMPLES * self.params.sample_ms
        if series is None or snap.ts_ms - series.ts[-1] > max_gap_ms:
            size = self.params.history
            series = state.series[key] = _Series(deque(maxlen=size), deque(maxlen=size))
        series.values.append(value)
        series.ts.append(snap.ts_ms)
        series.count += 1
        if len(series.values) < self.params.window_size:
            return
        hit = self._judge_newest(series, key[0] in UPWARD_ONLY)
        if hit is None:
            return
        findings.anomalies.append(self._point(snap.symbol, key, series, hit))
        self._burst(snap, key, series, findings)

    def _judge_newest(self, series: _Series, upward_only: bool) -> Anomaly | None:
        """The newest sample as an Anomaly indexed by `count`, or None when it is normal (or,
        for an upward-only series, not above the mean of the samples before it)."""
        last = self.detector.judge_last(series.values, series.ts)
        if last is None:
            return None
        if upward_only and not is_rise(series.values, self.params.score_window):
            self.dips += 1
            return None
        hit = Anomaly(series.count - 1, last.ts, last.value, last.saliency, last.score)
        series.flagged.append(hit)
        while series.flagged[0].index < series.count - self.params.history:
            series.flagged.popleft()
        return hit

    def _point(
        self, symbol: str, key: tuple[str, str | None], series: _Series, hit: Anomaly
    ) -> AnomalyRecord:
        return AnomalyRecord(
            symbol=symbol, series=key[0], venue=key[1], kind="point", ts_ms=series.ts[-1],
            value=hit.value, score=hit.score, threshold=self.params.threshold,
            window=len(series.values), saliency=hit.saliency,
        )  # fmt: skip

    def _burst(
        self,
        snap: NormalizedSnapshot,
        key: tuple[str, str | None],
        series: _Series,
        findings: Findings,
    ) -> None:
        p = self.params
        bursts = group_bursts(list(series.flagged), p.burst_min_points, p.burst_max_gap)
        if not bursts or bursts[-1].end_index != series.count - 1:
            return
        burst = bursts[-1]
        if burst.start_index == series.burst_start:
            return  # the burst already reported, growing
        series.burst_start = burst.start_index
        start_ms, end_ms = burst.start_ts or 0, burst.end_ts or 0
        record = AnomalyRecord(
            symbol=snap.symbol, series=key[0], venue=key[1], kind="burst", ts_ms=end_ms,
            value=series.values[-1], score=burst.max_score, threshold=p.threshold,
            window=len(series.values), start_ms=start_ms, points=burst.points,
            mean_score=burst.mean_score,
        )  # fmt: skip
        findings.anomalies.append(record)
        if series.alert_ms is None or snap.ts_ms - series.alert_ms >= p.alert_cooldown_ms:
            series.alert_ms = snap.ts_ms
            findings.alerts.append(burst_alert(snap.symbol, key, burst, p))


def is_rise(values: Sequence[float], score_window: int) -> bool:
    """True when the last value is above the mean of the (up to) `score_window` values before
    it (the same span as the score's local mean); a single value is no rise."""
    previous = list(itertools.islice(reversed(values), 1, score_window + 1))
    return bool(previous) and values[-1] > sum(previous) / len(previous)


def burst_alert(
    symbol: str, key: tuple[str, str | None], burst: Burst, params: MonitorParams
) -> MarketAlert:
    """The ANOMALY_BURST alert of one burst (raised at its newest anomaly; timestamps set)."""
    name, venue = key
    start_ms, end_ms = burst.start_ts or 0, burst.end_ts or 0
    where = f" on {venue}" if venue is not None else ""
    span = burst.end_index - burst.start_index + 1
    reason = (
        f"{symbol} {SERIES_LABELS[name]}{where}: burst of {burst.points} anomalies in {span} "
        f"samples, max score {burst.max_score:.1f} (threshold {params.threshold:g})"
    )
    return MarketAlert(
        ts_ms=end_ms, source=SOURCE, type="ANOMALY_BURST", severity="warning",
        symbol=symbol, venue=venue or "", reason=reason,
        data={"series": name, "start_ms": start_ms, "end_ms": end_ms, "points": burst.points,
              "samples": span, "max_score": round(burst.max_score, 4),
              "mean_score": round(burst.mean_score, 4), "threshold": params.threshold,
              "sample_ms": params.sample_ms},
    )  # fmt: skip
