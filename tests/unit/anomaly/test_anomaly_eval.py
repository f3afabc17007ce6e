"""Offline evaluation on planted anomalies: the matching rule by hand, the exact counts of the
seeded run that docs/ML.md reports, and floors the detector must stay above."""

from __future__ import annotations

import numpy as np
import pytest

from microservices.ml.anomaly_eval import (
    EvalResult,
    Planted,
    evaluate,
    main,
    markdown_table,
    online_hits,
    plant,
    score_spans,
)
from microservices.ml.spectral import SpectralResidualDetector

# (kind, mode): (events, found, detections, true detections); seed 7, 20 series x 400 samples
DOCUMENTED = {
    ("spike", "batch"): (80, 79, 86, 79),
    ("spike", "online"): (80, 78, 177, 148),
    ("level_shift", "batch"): (40, 9, 33, 9),
    ("level_shift", "online"): (40, 39, 158, 43),
    ("volume_burst", "batch"): (60, 59, 184, 143),
    ("volume_burst", "online"): (60, 59, 321, 203),
    ("volume_burst", "online_rises"): (60, 59, 254, 178),
    ("volume_burst", "bursts"): (60, 30, 30, 30),
    ("rolling_volume", "batch"): (40, 33, 153, 58),
    ("rolling_volume", "online"): (40, 40, 274, 128),
    ("rolling_volume", "online_rises"): (40, 40, 174, 127),
    ("rolling_volume", "bursts"): (40, 10, 18, 10),
    ("noise", "batch"): (0, 0, 12, 0),
    ("noise", "online"): (0, 0, 53, 0),
    ("noise", "online_rises"): (0, 0, 28, 0),
    ("noise", "bursts"): (0, 0, 0, 0),
}


def test_matching_rule_by_hand() -> None:
    planted = Planted(np.zeros(100), [(10, 10), (50, 54)])
    # windows: [10, 13] and [50, 57]; detections 12 (in), 20 (out), 56 (in), burst 48-51 (in)
    result = score_spans("x", "batch", planted, [(12, 12), (20, 20), (56, 56), (48, 51)])
    assert result == EvalResult("x", "batch", 2, 2, 4, 3, 100)
    assert (result.precision, result.recall, result.false_per_1k) == (0.75, 1.0, 10.0)
    assert result.f1 == pytest.approx(2 * 0.75 / 1.75)
    missed = score_spans("x", "online", planted, [(9, 9), (14, 14)])  # before, and after tolerance
    assert (missed.found, missed.true_detections, missed.precision) == (0, 0, 0.0)


def test_planted_series_hold_their_events() -> None:
    rng = np.random.default_rng(1)
    burst = plant("volume_burst", rng, 400)
    assert len(burst.events) == 3
    for start, end in burst.events:
        assert start >= 60 and 3 <= end - start + 1 <= 8
    assert len(plant("spike", rng, 400).events) == 4
    assert plant("noise", rng, 400).events == []
    rolling = plant("rolling_volume", rng, 400)
    assert len(rolling.values) == 400 and len(rolling.events) == 2
    start, end = rolling.events[0]  # the rolling sum steps up by the burst's extra volume
    assert rolling.values[end] - rolling.values[start - 1] > 3 * 10.0 * (end - start + 1)
    with pytest.raises(ValueError, match="unknown kind"):
        plant("drift", rng, 400)


def test_online_hits_judge_each_sample_on_its_trailing_window() -> None:
    values = np.random.default_rng(3).normal(0.0, 1.0, 120)
    values[90] += 9.0
    detector = SpectralResidualDetector()
    hits = online_hits(detector, values, history=50)
    assert 90 in hits
    for i in hits:
        assert detector.judge_last(values[max(0, i - 49) : i + 1]) is not None


def test_seeded_run_matches_the_documented_numbers_and_floors() -> None:
    results = {(r.kind, r.mode): r for r in evaluate(seed=7, series=20, length=400)}
    assert {
        key: (r.events, r.found, r.detections, r.true_detections) for key, r in results.items()
    } == DOCUMENTED
    assert results["spike", "batch"].recall >= 0.95 and results["spike", "batch"].precision >= 0.85
    assert (
        results["spike", "online"].recall >= 0.95 and results["spike", "online"].precision >= 0.75
    )
    assert results["volume_burst", "batch"].recall >= 0.95
    assert results["volume_burst", "batch"].precision >= 0.7
    assert results["volume_burst", "online"].recall >= 0.95
    assert results["volume_burst", "bursts"].precision >= 0.95
    assert results["volume_burst", "bursts"].recall >= 0.4
    assert results["level_shift", "online"].recall >= 0.9
    # through a rolling sum, keeping rises only removes the burst's exit from the window
    rolling, rises = results["rolling_volume", "online"], results["rolling_volume", "online_rises"]
    assert rises.recall == rolling.recall == 1.0
    assert rises.precision >= 0.7 and rises.precision > rolling.precision + 0.2
    assert results["noise", "batch"].false_per_1k <= 2.0
    assert results["noise", "online"].false_per_1k <= 8.0
    assert results["noise", "online_rises"].false_per_1k <= 4.0
    assert results["noise", "bursts"].detections == 0


def test_command_prints_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--seed", "7", "--series", "2", "--length", "200"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("| series | mode | events |")
    assert "| noise | batch |" in out and "| – | – | – |" in out
    assert len(out.splitlines()) == 2 + 16
    table = markdown_table([EvalResult("spike", "batch", 4, 3, 5, 4, 1000)])
    assert (
        table.splitlines()[2] == "| spike | batch | 4 | 3 | 5 | 4 | 0.800 | 0.750 | 0.774 | 1.00 |"
    )
    with pytest.raises(SystemExit):
        main(["--length", "50"])
