"""Clock skew against a venue's server time, estimated the NTP way. Pure: no I/O, no clock.

A request sent at our `send_ms` and answered at our `recv_ms` carries the venue's time
`server_ms`, stamped somewhere in between, so `server_ms - (send_ms + recv_ms) / 2` is the
skew (positive: the venue's clock is ahead of ours) within +-rtt/2. `SkewEstimator` keeps
the last few samples and answers the one with the smallest round trip: the tightest bound.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Final

KEEP_SAMPLES: Final = 9  # three polls of three requests


@dataclass(frozen=True, slots=True)
class SkewSample:
    skew_ms: float  # venue clock minus ours; the true skew is within skew_ms +- rtt_ms / 2
    rtt_ms: float  # round trip of the request that measured it
    at_ms: float  # our clock when the answer arrived


def skew_sample(send_ms: float, recv_ms: float, server_ms: float) -> SkewSample:
    """One measurement from our send and receive times and the venue's time (all epoch ms).
    ValueError when `recv_ms` precedes `send_ms`."""
    if recv_ms < send_ms:
        raise ValueError(f"answer at {recv_ms} before the request at {send_ms}")
    return SkewSample(server_ms - (send_ms + recv_ms) / 2, recv_ms - send_ms, recv_ms)


class SkewEstimator:
    """The last `keep` samples of one venue; `best()` is the one with the smallest round trip
    (the newest of equal ones)."""

    __slots__ = ("_samples",)

    def __init__(self, keep: int = KEEP_SAMPLES) -> None:
        self._samples: deque[SkewSample] = deque(maxlen=keep)

    def add(self, sample: SkewSample) -> None:
        self._samples.append(sample)

    def best(self) -> SkewSample | None:
        best: SkewSample | None = None
        for sample in self._samples:
            if best is None or sample.rtt_ms <= best.rtt_ms:
                best = sample
        return best
