"""The online anomaly monitor: planted bursts found at the right samples, each point record
equal to the detector's judgement of the trailing window (rebuilt here from the raw series),
sampling, gap reset, cooldown, bad values; the exchange.anomalies schema; the settings."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from microservices.common.anomaly_schema import ANOMALIES, AnomalyRecord
from microservices.common.errors import FatalError, SchemaError
from microservices.common.records import NormalizedSnapshot
from microservices.common.settings import load_settings
from microservices.ml.anomaly_monitor import AnomalyMonitor, MonitorParams, is_rise
from microservices.ml.spectral import SpectralResidualDetector
from tests.unit.anomaly.series import NOW, log_returns, planted_series, snapshot

EXPECTED = [  # (sample, series, venue, kind) for planted_series(seed=4), default params
    (34, "exchange_divergence", None, "point"), (38, "volume", "bybit", "point"),
    (100, "volume", "binance", "point"), (101, "volume", "binance", "point"),
    (102, "volume", "binance", "point"), (102, "volume", "binance", "burst"),
    (130, "return", None, "point"), (131, "return", None, "point"),
    (132, "return", None, "point"), (132, "return", None, "burst"),
    (149, "volume", "binance", "point"),
]  # fmt: skip
# falls the detector flags on upward-only series and the monitor leaves out: divergence at 64
# and 126, bybit volume at 105
EXPECTED_DIPS = 3


def run(monitor: AnomalyMonitor, snaps: list[NormalizedSnapshot]) -> tuple[list[Any], list[Any]]:
    records, alerts = [], []
    for snap in snaps:
        found = monitor.update(snap)
        records += [(snap, r) for r in found.anomalies]
        alerts += found.alerts
    return records, alerts


def trailing_window(series: dict[str, list[float]], record: AnomalyRecord, i: int) -> list[float]:
    """The values the monitor held for `record`'s series after sample i (history 200)."""
    if record.series == "return":
        values = log_returns(series["avg_price"][: i + 1])
    elif record.series == "volume":
        values = series[record.venue or ""][: i + 1]
    else:
        values = series["exchange_divergence"][: i + 1]
    return values[-200:]


def test_planted_bursts_are_found_where_planted() -> None:
    series = planted_series()
    records, alerts = run(
        AnomalyMonitor(MonitorParams()), [snapshot(i, series) for i in range(160)]
    )
    found = [((s.ts_ms - NOW) // 1000, r.series, r.venue, r.kind) for s, r in records]
    assert found == EXPECTED
    detector = SpectralResidualDetector()
    for snap, record in records:
        i = (snap.ts_ms - NOW) // 1000
        window = trailing_window(series, record, i)
        assert record.window == len(window)
        if record.kind == "point":
            judged = detector.judge_last(window)
            assert judged is not None
            assert (record.score, record.saliency, record.value) == (
                judged.score, judged.saliency, window[-1],
            )  # fmt: skip
    volume_burst = records[5][1]
    points = [r.score for _, r in records[2:5]]
    assert volume_burst.start_ms == NOW + 100_000 and volume_burst.ts_ms == NOW + 102_000
    assert (volume_burst.points, volume_burst.score) == (3, max(points))
    assert volume_burst.mean_score == pytest.approx(sum(points) / 3)
    assert [(a.type, a.symbol, a.venue, a.ts_ms) for a in alerts] == [
        ("ANOMALY_BURST", "BTCUSDT", "binance", NOW + 102_000),
        ("ANOMALY_BURST", "BTCUSDT", "", NOW + 132_000),
    ]
    first = alerts[0]
    assert first.source == "anomaly" and first.severity == "warning"
    assert first.reason == (
        f"BTCUSDT volume on binance: burst of 3 anomalies in 3 samples, max score "
        f"{max(points):.1f} (threshold 3)"
    )
    assert first.data == {
        "series": "volume", "start_ms": NOW + 100_000, "end_ms": NOW + 102_000, "points": 3,
        "samples": 3, "max_score": round(max(points), 4),
        "mean_score": round(sum(points) / 3, 4), "threshold": 3.0, "sample_ms": 1000,
    }  # fmt: skip


def divergence_bursts() -> dict[str, list[float]]:
    """Noise with three ramps of 3 samples (x2, x4, x8) from 60, 120 and 180; flat price and
    volume."""
    divergence = [float(v) for v in 0.001 * np.random.default_rng(2).normal(1.0, 0.05, 200)]
    for start in (60, 120, 180):
        for k, factor in enumerate((2.0, 4.0, 8.0)):
            divergence[start + k] *= factor
    return {"avg_price": [100.0] * 200, "exchange_divergence": divergence,
            "binance": [10.0] * 200, "bybit": [10.0] * 200}  # fmt: skip


def test_a_burst_alerts_once_per_cooldown() -> None:
    series = divergence_bursts()
    monitor = AnomalyMonitor(MonitorParams(alert_cooldown_ms=100_000))
    records, alerts = run(monitor, [snapshot(i, series) for i in range(200)])
    bursts = [(r.start_ms - NOW) // 1000 for _, r in records if r.kind == "burst"]
    assert bursts == [60, 120, 180]
    assert [(r.ts_ms - NOW) // 1000 for _, r in records if r.kind == "burst"] == [62, 122, 182]
    # 120's burst (at 122) is 60 s after the alert at 62: inside the cooldown; 182 is not
    assert [(a.ts_ms - NOW) // 1000 for a in alerts] == [62, 182]
    # the falls back to the noise after each ramp (63, 64, 123, 124, 183) and one at 27
    assert monitor.dips == 6
    assert {r.series for _, r in records} == {"exchange_divergence"}  # flat series: silent


def test_sampling_keeps_one_snapshot_per_sample_ms() -> None:
    series = planted_series()
    monitor = AnomalyMonitor(MonitorParams(sample_ms=1_000))
    for i in range(8):  # 0, 250, ..., 1750 ms: samples at 0 and 1000
        found = monitor.update(snapshot(i, series, ts_ms=NOW + 250 * i))
        assert found.sampled == (i in (0, 4))
    assert not monitor.update(snapshot(8, series, ts_ms=NOW + 500)).sampled  # out of order
    assert (monitor.samples, monitor.skipped) == (2, 7)


def test_a_gap_restarts_the_series() -> None:
    series = divergence_bursts()
    monitor = AnomalyMonitor(MonitorParams())
    run(monitor, [snapshot(i, series) for i in range(40)])
    # 11 samples missing (> 10 x sample_ms): the next 25 samples start new series
    later = [snapshot(i, series, ts_ms=NOW + 1000 * (i + 11)) for i in range(40, 65)]
    records, _ = run(monitor, later)
    assert [((s.ts_ms - NOW) // 1000 - 11, r.window, r.kind) for s, r in records] == [
        (60, 21, "point"), (61, 22, "point"), (62, 23, "point"), (62, 23, "burst"),
    ]  # fmt: skip
    # without the gap the same samples are judged on all the samples since 0
    records, _ = run(AnomalyMonitor(MonitorParams()), [snapshot(i, series) for i in range(65)])
    assert [((s.ts_ms - NOW) // 1000, r.window) for s, r in records] == [
        (49, 50), (60, 61), (61, 62), (62, 63), (62, 63),
    ]  # fmt: skip


def test_bad_values_are_counted_and_left_out() -> None:
    series = planted_series()
    monitor = AnomalyMonitor(MonitorParams())
    snap = snapshot(0, series)
    snap.venues["binance"].volume = math.nan
    snap.venues["bybit"].volume = -1.0
    snap.exchange_divergence = math.inf
    snap.avg_price = math.nan
    assert monitor.update(snap).anomalies == []
    assert monitor.rejected == 4
    assert monitor.update(snapshot(1, series)).sampled  # the next sample is taken normally


def test_schema_round_trip_and_refusals() -> None:
    point = AnomalyRecord(symbol="BTCUSDT", series="volume", venue="binance", kind="point",
                          ts_ms=NOW + 1, value=120.5, score=4.25, threshold=3.0, window=200,
                          saliency=0.125)  # fmt: skip
    fields = ANOMALIES.encode(point)
    assert fields == {"symbol": "BTCUSDT", "series": "volume", "venue": "binance",
                      "kind": "point", "timestamp": "1760000000.001", "value": "120.5",
                      "score": "4.25", "threshold": "3.0", "window": "200",
                      "saliency": "0.125"}  # fmt: skip
    assert ANOMALIES.decode({k.encode(): v.encode() for k, v in fields.items()}) == point
    burst = AnomalyRecord(symbol="BTCUSDT", series="return", kind="burst", ts_ms=NOW,
                          value=-0.01, score=21.5, threshold=3.0, window=131,
                          start_ms=NOW - 2000, points=3, mean_score=13.25)  # fmt: skip
    assert ANOMALIES.decode(ANOMALIES.encode(burst)) == burst
    for bad, message in (
        ({"series": "funding"}, "unknown series"),
        ({"kind": "blip"}, "point or burst"),
        ({"series": "return"}, "volume series only"),
        ({"score": "nan"}, "score"),
    ):
        with pytest.raises(SchemaError, match=message):
            ANOMALIES.decode(fields | bad)
    bad_burst = ANOMALIES.encode(burst)
    del bad_burst["points"]
    with pytest.raises(SchemaError, match="needs 'start' and 'points'"):
        ANOMALIES.decode(bad_burst)


def test_settings_fail_at_start_on_bad_values() -> None:
    settings = load_settings(env_file=None)
    assert (settings.anomaly_enabled, settings.anomaly_window_size, settings.anomaly_threshold,
            settings.anomaly_mag_window, settings.anomaly_score_window) == (True, 20, 3.0, 3, 40)  # fmt: skip
    assert settings.streams().anomalies.name == "quantum:stream:exchange.anomalies"
    for bad in ({"anomaly_history": 20}, {"anomaly_threshold": 0}, {"anomaly_mag_window": 0},
                {"anomaly_sample_ms": 10}, {"anomaly_burst_max_gap": -1}):  # fmt: skip
        with pytest.raises(FatalError):
            load_settings(env_file=None, **bad)
    with pytest.raises(ValueError, match="history"):
        AnomalyMonitor(MonitorParams(history=20))


def test_is_rise_compares_with_the_mean_before() -> None:
    assert is_rise([1.0, 2.0, 3.0, 2.1], score_window=3)  # mean of 1, 2, 3 = 2
    assert not is_rise([1.0, 2.0, 3.0, 2.0], score_window=3)
    assert is_rise([9.0, 1.0, 1.0, 1.5], score_window=2)  # only the 2 before count
    assert not is_rise([5.0], score_window=40)
