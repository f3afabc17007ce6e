"""The spectral residual transform of Ren et al. 2019 ("Time-Series Anomaly Detection Service at
Microsoft", KDD), step by step: average filter, series extension, saliency map, local-mean
scores. `spectral.SpectralResidualDetector` composes them.

Pure numpy: no I/O, no clock.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

EPS: Final = 1e-8
# Points appended after the series before the FFT (the paper's kappa) and how many preceding
# points estimate their value (the paper's m); both 5 in the paper and its reference code.
EXTEND_POINTS: Final = 5
LOOK_AHEAD: Final = 5


def average_filter(values: FloatArray, n: int) -> FloatArray:
    """Trailing moving average of width ``n`` (the current point included); the first n-1
    points average what exists so far. This is the paper's h_q(f) * L(f) for q = n."""
    n = max(1, min(n, len(values)))
    csum = np.cumsum(values, dtype=np.float64)
    out = csum.copy()
    out[n:] = (csum[n:] - csum[:-n]) / n
    out[:n] = csum[:n] / np.arange(1, n + 1, dtype=np.float64)
    return out


def extend_series(values: FloatArray) -> FloatArray:
    """Append EXTEND_POINTS copies of the paper's estimate x' = x[n-m+1] + g*m, g the mean
    gradient from the last point to each of the m points before it. As in the paper's reference
    code (microsoft/anomalydetector) the estimate is taken on the window that ends one point
    before the last, so a spike on the last point does not leak into its own extension."""
    window = values[-LOOK_AHEAD - 2 : -1]
    if len(window) < 2:
        estimate = float(values[-1])
    else:
        last = float(window[-1])
        k = len(window)
        slopes = [(last - float(v)) / (k - 1 - i) for i, v in enumerate(window[:-1])]
        estimate = float(window[1]) + sum(slopes)
    return np.concatenate([values, np.full(EXTEND_POINTS, estimate, dtype=np.float64)])


def saliency_map(values: FloatArray, mag_window: int) -> FloatArray:
    """S(x) = |IFFT(exp(R(f) + i P(f)))| with L = log|FFT(x)|, R = L - average_filter(L, q)
    and P the original phase. Frequencies whose amplitude is below EPS keep a zero spectrum
    (their phase is undefined), as in the reference code."""
    spectrum = np.fft.fft(values)
    amplitude = np.abs(spectrum)
    tiny = amplitude <= EPS
    amplitude[tiny] = EPS
    log_amplitude = np.log(amplitude)
    log_amplitude[tiny] = 0.0
    residual = log_amplitude - average_filter(log_amplitude, mag_window)
    # e^{iP} is the spectrum over its amplitude (cheaper than exp(1j * angle))
    rebuilt = spectrum * (np.exp(residual) / amplitude)
    rebuilt[tiny] = 0.0
    return np.abs(np.fft.ifft(rebuilt)).astype(np.float64)


def local_mean_scores(saliency: FloatArray, score_window: int) -> FloatArray:
    """score[i] = (S[i] - mean(S[i-z..i-1])) / mean(S[i-z..i-1]), z = score_window: the paper's
    "local average of the preceding z points" (the current point is not in its own mean; the
    reference code includes it). Fewer than z predecessors: their mean; none: score 0."""
    scores = np.zeros(len(saliency), dtype=np.float64)
    if len(saliency) < 2:
        return scores
    csum = np.concatenate([[0.0], np.cumsum(saliency, dtype=np.float64)])
    idx = np.arange(1, len(saliency))
    start = np.maximum(0, idx - score_window)
    means = (csum[idx] - csum[start]) / (idx - start)
    means = np.maximum(means, EPS)
    scores[1:] = (saliency[1:] - means) / means
    return scores


def last_score(saliency: FloatArray, score_window: int) -> float:
    """`local_mean_scores(saliency, score_window)[-1]` without the rest of the array."""
    if len(saliency) < 2:
        return 0.0
    mean = max(float(np.mean(saliency[-1 - score_window : -1])), EPS)
    return (float(saliency[-1]) - mean) / mean
