"""Offline evaluation of the spectral residual detector on series with planted anomalies.

Three kinds of series, each generated from a fixed seed: `spike` (Gaussian noise with isolated
spikes of 5-8 sigma, either sign), `level_shift` (noise whose level moves by 5-8 sigma) and
`volume_burst` (gamma-distributed volume multiplied by 4-8 for 3-8 samples), `rolling_volume`
(such bursts seen through a 60-sample rolling sum, as the aggregator reports volume: a step up
at the burst and a step down when it leaves the window, which is no event), plus `noise`
(nothing planted: the false-alarm rate). Two modes:
`batch` runs `detect` over the whole series (hindsight inside the series); `online` judges each
sample once, on its trailing `history` window, as the engine's monitor does (`judge_last`);
`online_rises` (volume kinds and noise) also drops samples not above the mean before them, the
monitor's rule for volume and exchange_divergence.

Scoring, per kind and mode: a planted event is found when a detection falls within
[start, end + tolerance] (the tolerance allows the usual detection delay, as Ren et al. do);
recall = events found / events; precision = detections inside some event's span / detections.
`bursts` scores `detect_bursts` (batch) against the volume bursts (and noise) the same way,
a burst counting when it overlaps an event's span. `false per 1k samples` = detections outside
every event's span per 1000 samples.

Run: `python -m microservices.ml.anomaly_eval [--seed 7] [--series 20] [--length 400]`
(prints a Markdown table). Pure numpy, no I/O besides that print.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np

from microservices.ml.anomaly_monitor import is_rise
from microservices.ml.spectral import FloatArray, SpectralResidualDetector

KINDS: Final = ("spike", "level_shift", "volume_burst", "rolling_volume", "noise")
ROLLING_WINDOW: Final = 60  # samples in the rolling volume sum (the aggregator's 60 s window)
VOLUME_KINDS: Final = frozenset({"volume_burst", "rolling_volume", "noise"})
TOLERANCE: Final = 3  # samples after an event's end that still count as finding it
MARGIN: Final = 60  # no event in the first samples (the detector's warm-up and local mean)


@dataclass(frozen=True, slots=True)
class Planted:
    values: FloatArray
    events: list[tuple[int, int]]  # inclusive (start, end) sample indices


@dataclass(frozen=True, slots=True)
class EvalResult:
    kind: str
    mode: str  # batch, online or bursts
    events: int
    found: int
    detections: int
    true_detections: int
    samples: int

    @property
    def false_per_1k(self) -> float:
        """Detections outside every event's span per 1000 samples."""
        return 1000.0 * (self.detections - self.true_detections) / self.samples

    @property
    def recall(self) -> float:
        return self.found / self.events if self.events else 0.0

    @property
    def precision(self) -> float:
        return self.true_detections / self.detections if self.detections else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r > 0 else 0.0


def _positions(rng: np.random.Generator, length: int, count: int, gap: int) -> list[int]:
    """`count` sorted positions in [MARGIN, length - 10) at least `gap` apart."""
    slots = np.arange(MARGIN, length - 10 - gap * (count - 1))
    base = np.sort(rng.choice(slots, size=count, replace=False))
    return [int(p) + gap * k for k, p in enumerate(base)]


def plant(kind: str, rng: np.random.Generator, length: int) -> Planted:
    """One series of `kind` with its planted events."""
    if kind == "spike":
        values = rng.normal(0.0, 1.0, length)
        starts = _positions(rng, length, 4, 30)
        for p in starts:
            values[p] += rng.choice([-1.0, 1.0]) * rng.uniform(5.0, 8.0)
        return Planted(values, [(p, p) for p in starts])
    if kind == "level_shift":
        values = rng.normal(0.0, 1.0, length)
        starts = _positions(rng, length, 2, 80)
        for p in starts:
            values[p:] += rng.choice([-1.0, 1.0]) * rng.uniform(5.0, 8.0)
        return Planted(values, [(p, p) for p in starts])
    if kind == "volume_burst":
        values = rng.gamma(4.0, 2.5, length)
        starts = _positions(rng, length, 3, 40)
        events = []
        for p in starts:
            duration = int(rng.integers(3, 9))
            values[p : p + duration] *= rng.uniform(4.0, 8.0)
            events.append((p, p + duration - 1))
        return Planted(values, events)
    if kind == "rolling_volume":  # volume_burst's bursts seen through a rolling sum
        per_sample = rng.gamma(4.0, 2.5, length + ROLLING_WINDOW)
        starts = _positions(rng, length, 2, 120)
        events = []
        for p in starts:
            duration = int(rng.integers(3, 9))
            at = p + ROLLING_WINDOW
            per_sample[at : at + duration] *= rng.uniform(4.0, 8.0)
            events.append((p, p + duration - 1))
        rolling = np.convolve(per_sample, np.ones(ROLLING_WINDOW), "valid")[1:]
        return Planted(rolling, events)
    if kind == "noise":  # nothing planted: every detection is a false one
        return Planted(rng.normal(0.0, 1.0, length), [])
    raise ValueError(f"unknown kind {kind!r}; one of {', '.join(KINDS)}")


def online_hits(
    detector: SpectralResidualDetector, values: FloatArray, history: int, rises_only: bool = False
) -> list[int]:
    """Indices the online monitor flags: each sample judged once on its trailing window; with
    `rises_only`, only samples above the mean before them (the monitor's rule for volume)."""
    hits = []
    for i in range(detector.window_size - 1, len(values)):
        window = values[max(0, i + 1 - history) : i + 1]
        if detector.judge_last(window) is None:
            continue
        if not rises_only or is_rise(list(window), detector.score_window):
            hits.append(i)
    return hits


def score_spans(
    kind: str,
    mode: str,
    planted: Planted,
    spans: Sequence[tuple[int, int]],
) -> EvalResult:
    """Match detection spans (a point is (i, i)) against the events' tolerance windows."""
    events = planted.events
    windows = [(start, end + TOLERANCE) for start, end in events]

    def overlaps(span: tuple[int, int], window: tuple[int, int]) -> bool:
        return span[0] <= window[1] and span[1] >= window[0]

    found = sum(any(overlaps(s, w) for s in spans) for w in windows)
    true = sum(any(overlaps(s, w) for w in windows) for s in spans)
    return EvalResult(kind, mode, len(events), found, len(spans), true, len(planted.values))


def _merge(results: list[EvalResult]) -> EvalResult:
    first = results[0]
    return EvalResult(
        first.kind,
        first.mode,
        sum(r.events for r in results),
        sum(r.found for r in results),
        sum(r.detections for r in results),
        sum(r.true_detections for r in results),
        sum(r.samples for r in results),
    )


def evaluate(
    seed: int = 7,
    series: int = 20,
    length: int = 400,
    history: int = 200,
    detector: SpectralResidualDetector | None = None,
) -> list[EvalResult]:
    """Precision and recall per kind for batch and online detection (and bursts for volume),
    over `series` generated series of `length` samples per kind."""
    sr = detector if detector is not None else SpectralResidualDetector()
    rng = np.random.default_rng(seed)
    out: list[EvalResult] = []
    for kind in KINDS:
        per_mode: dict[str, list[EvalResult]] = {
            "batch": [], "online": [], "online_rises": [], "bursts": []
        }  # fmt: skip
        for _ in range(series):
            planted = plant(kind, rng, length)
            batch = [(a.index, a.index) for a in sr.detect(planted.values)]
            online = [(i, i) for i in online_hits(sr, planted.values, history)]
            per_mode["batch"].append(score_spans(kind, "batch", planted, batch))
            per_mode["online"].append(score_spans(kind, "online", planted, online))
            if kind in VOLUME_KINDS:
                rises = [(i, i) for i in online_hits(sr, planted.values, history, True)]
                per_mode["online_rises"].append(score_spans(kind, "online_rises", planted, rises))
                bursts = [(b.start_index, b.end_index) for b in sr.detect_bursts(planted.values)]
                per_mode["bursts"].append(score_spans(kind, "bursts", planted, bursts))
        out += [_merge(results) for results in per_mode.values() if results]
    return out


def markdown_table(results: Sequence[EvalResult]) -> str:
    lines = [
        "| series | mode | events | found | detections | true | precision | recall | F1 "
        "| false per 1k samples |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        rates = (
            f"{r.precision:.3f} | {r.recall:.3f} | {r.f1:.3f}" if r.events else "– | – | –"
        )  # nothing planted: only the false-alarm rate means something
        lines.append(
            f"| {r.kind} | {r.mode} | {r.events} | {r.found} | {r.detections} | "
            f"{r.true_detections} | {rates} | {r.false_per_1k:.2f} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--series", type=int, default=20, help="series per kind")
    parser.add_argument("--length", type=int, default=400, help="samples per series")
    parser.add_argument("--history", type=int, default=200, help="online window (samples)")
    args = parser.parse_args(argv)
    if args.series < 1 or args.length < MARGIN + 100 or args.history < 21:
        parser.error("need --series >= 1, --length >= 160 and --history >= 21")
    results = evaluate(args.seed, args.series, args.length, args.history)
    print(markdown_table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
