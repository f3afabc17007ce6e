"""Spectral residual: scores against a step-by-step numpy.fft computation, detect and
detect_bursts on hand-placed spikes, and the burst confirmation gate."""

from __future__ import annotations

import math

import numpy as np
import pytest

from microservices.ml.spectral import Anomaly, BurstConfirmationFilter, SpectralResidualDetector
from microservices.ml.spectral_transform import average_filter, extend_series, local_mean_scores

SHORT = [1.0, 2.0, 1.5, 1.0, 9.0, 1.2, 1.1, 1.4]


def test_average_filter_is_trailing_with_warm_up() -> None:
    out = average_filter(np.array([3.0, 6.0, 9.0, 12.0]), 3)
    assert out.tolist() == [3.0, 4.5, 6.0, 9.0]


def test_extension_uses_the_window_before_the_last_point() -> None:
    values = np.array([1.0, 2.0, 1.5, 1.0, 9.0, 1.2, 1.1, 1.4])
    # window = values[-7:-1] = [2, 1.5, 1, 9, 1.2, 1.1]; last = 1.1
    # slopes to the last: (1.1-2)/5, (1.1-1.5)/4, (1.1-1)/3, (1.1-9)/2, (1.1-1.2)/1
    slopes = [-0.9 / 5, -0.4 / 4, 0.1 / 3, -7.9 / 2, -0.1 / 1]
    estimate = 1.5 + sum(slopes)
    extended = extend_series(values)
    assert extended[:8].tolist() == values.tolist()
    assert extended[8:] == pytest.approx([estimate] * 5)
    assert estimate == pytest.approx(-2.7966666666666664)


def test_scores_match_a_by_hand_fft() -> None:
    detector = SpectralResidualDetector(window_size=3, mag_window=3, score_window=4)
    x = np.array(SHORT + [extend_series(np.array(SHORT))[-1]] * 5)
    # 1. spectrum, log amplitude, phase
    spectrum = np.fft.fft(x)
    log_amp = np.log(np.abs(spectrum))
    phase = np.angle(spectrum)
    # 2. average filter of size 3 (trailing; first two average what exists)
    avg = np.array(
        [log_amp[0], (log_amp[0] + log_amp[1]) / 2]
        + [(log_amp[i - 2] + log_amp[i - 1] + log_amp[i]) / 3 for i in range(2, len(x))]
    )
    residual = log_amp - avg
    # 3. inverse FFT with the original phase -> saliency of the 8 real points
    saliency = np.abs(np.fft.ifft(np.exp(residual + 1j * phase)))[:8]
    assert detector.saliency(SHORT) == pytest.approx(saliency, rel=1e-12)
    # 4. score = (S - mean of the preceding <= 4 saliencies) / that mean; warm-up zeroed
    expected = [0.0, 0.0]
    for i in range(2, 8):
        prev = saliency[max(0, i - 4) : i]
        expected.append((saliency[i] - prev.mean()) / prev.mean())
    assert detector.scores(SHORT) == pytest.approx(expected, rel=1e-12)
    assert int(np.argmax(detector.scores(SHORT))) == 4


def test_local_mean_scores_by_hand() -> None:
    scores = local_mean_scores(np.array([1.0, 1.0, 3.0, 1.0, 5.0]), 2)
    # i=1: (1-1)/1; i=2: (3-1)/1; i=3: (1-2)/2; i=4: (5-2)/2
    assert scores.tolist() == [0.0, 0.0, 2.0, -0.5, 1.5]


def _noise(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, 1.0, n)


def test_detect_finds_hand_placed_spikes() -> None:
    series = _noise(300, 1)
    series[150] += 8.0
    series[220] += 6.0
    ts = [1_700_000_000_000 + 1000 * i for i in range(300)]
    found = SpectralResidualDetector().detect(series, ts)
    assert [a.index for a in found] == [22, 150, 220]
    spike = found[1]
    assert spike == Anomaly(150, ts[150], float(series[150]), spike.saliency, spike.score)
    assert spike.score == pytest.approx(10.64, abs=0.01)
    # the online question on the series cut after the spike: the same numbers as scores()
    head = series[:151]
    last = SpectralResidualDetector().judge_last(head, ts[:151])
    assert last is not None and (last.index, last.ts) == (150, ts[150])
    assert last.score == pytest.approx(
        float(SpectralResidualDetector().scores(head)[-1]), rel=1e-12
    )
    assert SpectralResidualDetector().judge_last(series[:150]) is None
    assert found[2].score == pytest.approx(5.18, abs=0.01)


def test_constant_and_short_series_have_no_anomaly() -> None:
    detector = SpectralResidualDetector()
    assert detector.detect([5.0] * 100) == []
    assert detector.detect([0.0] * 100) == []
    assert detector.detect([1.0] * 18 + [50.0]) == []  # 19 points: fewer than window_size=20
    assert [a.index for a in detector.detect([1.0] * 19 + [50.0])] == [19]
    assert detector.scores([1.0, 2.0]).tolist() == [0.0, 0.0]


def test_detect_refuses_bad_input() -> None:
    detector = SpectralResidualDetector()
    with pytest.raises(ValueError, match="NaN"):
        detector.detect([1.0] * 30 + [math.nan])
    with pytest.raises(ValueError, match="timestamps"):
        detector.detect([1.0] * 30, [1, 2])
    for kwargs in (
        {"window_size": 2},
        {"threshold_multiplier": 0.0},
        {"threshold_multiplier": math.inf},
        {"mag_window": 0},
        {"score_window": 0},
    ):
        with pytest.raises(ValueError):
            SpectralResidualDetector(**kwargs)


def test_detect_bursts_groups_close_anomalies() -> None:
    volume = np.random.default_rng(3).gamma(2.0, 5.0, 300)
    volume[100:106] *= 6.0
    detector = SpectralResidualDetector()
    found = detector.detect(volume)
    assert [a.index for a in found] == [100, 101, 102, 161]
    bursts = detector.detect_bursts(volume, min_duration=3, max_gap=2)
    assert len(bursts) == 1
    burst = bursts[0]
    assert (burst.start_index, burst.end_index, burst.points) == (100, 102, 3)
    scores = [a.score for a in found[:3]]
    assert burst.max_score == max(scores)
    assert burst.mean_score == pytest.approx(sum(scores) / 3)
    assert detector.detect_bursts(volume, min_duration=4, max_gap=2) == []
    singles = detector.detect_bursts(volume, min_duration=1, max_gap=0)
    assert [(b.start_index, b.end_index, b.points) for b in singles] == [
        (100, 102, 3),
        (161, 161, 1),
    ]
    with pytest.raises(ValueError):
        detector.detect_bursts(volume, min_duration=0)


def _filled_filter(spike_at_end: bool) -> BurstConfirmationFilter:
    gate = BurstConfirmationFilter(lookback_window=100, min_burst_score=3.0)
    rng = np.random.default_rng(7)
    price = 100.0
    for i in range(100):
        price *= math.exp(rng.normal(0.0, 0.0005))
        volume = float(rng.gamma(2.0, 5.0))
        if spike_at_end and i == 99:
            volume *= 12.0
        assert gate.update(price, volume, 1_000 * i)
    return gate


def test_filter_confirms_a_volume_burst_and_gates_signals() -> None:
    quiet = _filled_filter(spike_at_end=False)
    is_burst, score = quiet.confirm_burst()
    assert not is_burst
    assert 0.0 <= score < 3.0
    take, confidence = quiet.filter_signal(0.8)
    assert not take
    assert confidence == pytest.approx(0.8 * score / 3.0)

    loud = _filled_filter(spike_at_end=True)
    is_burst, score = loud.confirm_burst()
    assert is_burst
    assert score == pytest.approx(11.91, abs=0.01)
    assert loud.filter_signal(0.8) == (True, 0.8)
    assert loud.filter_signal(1.7) == (True, 1.0)
    assert loud.filter_signal(math.nan) == (False, 0.0)


def test_filter_refuses_bad_updates_and_waits_for_history() -> None:
    gate = BurstConfirmationFilter()
    assert not gate.update(math.nan, 1.0, 0)
    assert not gate.update(100.0, -1.0, 0)
    assert not gate.update(0.0, 1.0, 0)
    assert gate.rejected == 3
    for i in range(20):
        gate.update(100.0 + i, 1.0, i)
    assert len(gate) == 20
    assert gate.confirm_burst() == (False, 0.0)  # needs window_size + 1 = 21 points
    with pytest.raises(ValueError):
        BurstConfirmationFilter(lookback_window=20)
    with pytest.raises(ValueError):
        BurstConfirmationFilter(min_burst_score=-1.0)
