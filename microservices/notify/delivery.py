"""Delivery decisions, free of I/O and of the clock: which alerts a target takes, what an
HTTP answer means (delivered, retry — after how long — or refused for good), and the
per-target token bucket."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal

import orjson

from microservices.notify.formats import Alert
from microservices.notify.targets import AlertTarget, severity_passes

RETRY_STATUSES: Final = frozenset({408, 425, 429})


def wanted(target: AlertTarget, alert: Alert) -> bool:
    """The target's filters: type, symbol (set: alerts about no symbol are left out too) and
    minimum severity."""
    if target.types and alert.type not in target.types:
        return False
    if target.symbols and alert.symbol.upper() not in target.symbols:
        return False
    return severity_passes(target, alert.severity)


@dataclass(frozen=True, slots=True)
class Outcome:
    kind: Literal["ok", "retry", "refused"]
    cause: str = ""  # metric label: http_500, timeout, ClientConnectorError...
    retry_after_s: float | None = None  # the receiver's own wait (429), when it gave one


def _seconds(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text.strip())
    except ValueError:
        return None  # an HTTP date: the caller's backoff applies
    return value if 0 <= value < float("inf") else None


def _body_retry_after(body: bytes) -> float | None:
    """Telegram's `parameters.retry_after` or Discord's top-level `retry_after` (seconds)."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(data, dict):
        return None
    params = data.get("parameters")
    value = params.get("retry_after") if isinstance(params, dict) else data.get("retry_after")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if value >= 0 else None


def classify(status: int, headers: Mapping[str, str], body: bytes) -> Outcome:
    """2xx delivered; 408/425/429 and 5xx retried (429: Retry-After header or body field);
    any other answer refused for good (a wrong URL or token does not heal by retrying)."""
    if 200 <= status < 300:
        return Outcome("ok")
    cause = f"http_{status}"
    if status in RETRY_STATUSES or status >= 500:
        wait = None
        if status == 429:
            wait = _seconds(headers.get("Retry-After"))
            wait = _body_retry_after(body) if wait is None else wait
        return Outcome("retry", cause, wait)
    return Outcome("refused", cause)


class TokenBucket:
    """`burst` messages at once, then `rate_per_s`; `take(now)` books one message and returns
    how long to wait before sending it (0: at once). Bookings go into debt, so callers sharing
    a bucket queue up fairly."""

    def __init__(self, rate_per_s: float, burst: int, now: float) -> None:
        self.rate_per_s, self.burst = rate_per_s, float(burst)
        self.tokens, self.updated = float(burst), now

    def take(self, now: float) -> float:
        elapsed = max(0.0, now - self.updated)
        self.tokens = min(self.burst, self.tokens + elapsed * self.rate_per_s)
        self.updated = max(self.updated, now)
        self.tokens -= 1.0
        return 0.0 if self.tokens >= 0 else -self.tokens / self.rate_per_s
