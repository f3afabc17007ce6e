"""REST rate limits: request weight per minute, Retry-After windows, 429 -> 418 escalation.

Binance semantics: a 429 opens a Retry-After window; every request inside it is a violation,
and after `ban_after_violations` of them the venue answers 418 (an IP ban) for `ban_s`.
Venues without bans keep answering 429. `ban_burst` bans at once (a ban another client on
the same IP earned, from this client's point of view). Pure: the caller passes the clock
readings.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from microservices.exchange_simulator.config import FaultConfig


class Verdict(NamedTuple):
    status: int  # 200 = serve the request; 429, 418 or 503 = answer with that error
    retry_after_s: int  # for 429/418
    violation: bool  # the request arrived inside a Retry-After or ban window
    used_weight: int  # weight used in the current minute, this request included


class VenueLimiter:
    """Rate-limit and error-burst state of one venue (the simulator has one client IP)."""

    def __init__(self, weight_limit_1m: int | None, bans: bool) -> None:
        self.weight_limit_1m = weight_limit_1m
        self.bans = bans
        self.used_weight = 0
        self._minute = -1
        self._window_until = 0.0  # monotonic seconds
        self._ban_until = 0.0
        self._violations = 0
        self._burst_left = 0
        self._bans_left = 0
        self._errors_left = 0
        self._accepted = 0

    def arm(self, cfg: FaultConfig) -> None:
        """Start the configured bursts (at start-up and whenever the faults change)."""
        self._burst_left = cfg.rate_limit_burst
        self._bans_left = cfg.ban_burst if self.bans else 0
        self._errors_left = cfg.server_error_burst
        self._accepted = 0

    def check(self, cfg: FaultConfig, weight: int, now_s: float, wall_ms: int) -> Verdict:
        """Decide one request of `weight` at monotonic `now_s` / wall-clock `wall_ms`."""
        minute = wall_ms // 60_000
        if minute != self._minute:
            self._minute, self.used_weight = minute, 0
        self.used_weight += weight
        if now_s < self._ban_until:
            return self._verdict(418, self._ban_until - now_s, violation=True)
        if now_s < self._window_until:
            return self._inside_window(cfg, now_s)
        self._violations = 0
        if self._bans_left > 0:  # an injected ban: this request is its first, not a violation
            self._bans_left -= 1
            self._ban_until = now_s + cfg.ban_s
            return self._verdict(418, float(cfg.ban_s), violation=False)
        if self._burst_left > 0:
            self._burst_left -= 1
            return self._open_window(float(cfg.retry_after_s), now_s)
        if self.weight_limit_1m is not None and self.used_weight > self.weight_limit_1m:
            return self._open_window((60_000 - wall_ms % 60_000) / 1000, now_s)
        if self._errors_left > 0:
            self._errors_left -= 1
            return self._verdict(503, 0.0, violation=False)
        self._accepted += 1
        self._rearm(cfg)
        return self._verdict(200, 0.0, violation=False)

    def _inside_window(self, cfg: FaultConfig, now_s: float) -> Verdict:
        self._violations += 1
        if self.bans and self._violations >= cfg.ban_after_violations:
            self._ban_until = now_s + cfg.ban_s
            return self._verdict(418, float(cfg.ban_s), violation=True)
        return self._verdict(429, self._window_until - now_s, violation=True)

    def _open_window(self, seconds: float, now_s: float) -> Verdict:
        self._window_until = now_s + seconds
        return self._verdict(429, seconds, violation=False)

    def _rearm(self, cfg: FaultConfig) -> None:
        if cfg.rate_limit_every and self._accepted % cfg.rate_limit_every == 0:
            self._burst_left = cfg.rate_limit_burst
        if cfg.server_error_every and self._accepted % cfg.server_error_every == 0:
            self._errors_left = cfg.server_error_burst

    def _verdict(self, status: int, seconds: float, violation: bool) -> Verdict:
        retry = max(1, math.ceil(seconds)) if status in (418, 429) else 0
        return Verdict(status, retry, violation, self.used_weight)
