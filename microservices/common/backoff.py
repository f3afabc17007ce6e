"""Capped, jittered exponential backoff as a pure function of the attempt number."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Backoff:
    """delay(attempt) = min(cap, base * factor**attempt) scaled by a jitter in [1-j, 1].

    attempt counts from 0 (the first retry). The result never exceeds `cap_s`, so a test can
    assert the cap holds whatever the attempt number.
    """

    base_s: float = 5.0
    factor: float = 2.0
    cap_s: float = 60.0
    jitter: float = 0.5

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        exponent = min(max(attempt, 0), 62)
        raw = min(self.cap_s, self.base_s * (self.factor**exponent))
        draw = (rng or random).random()
        return raw * (1.0 - self.jitter * draw)
