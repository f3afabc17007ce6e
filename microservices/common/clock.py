"""The single wall-clock seam: pure code takes `now_ms` as a parameter, shells call these."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_MS = timedelta(milliseconds=1)


def now_ms() -> int:
    """Wall-clock time in integer milliseconds since the Unix epoch."""
    return time.time_ns() // 1_000_000


def wall_ms() -> float:
    """Wall-clock epoch milliseconds with sub-ms precision (clock-skew measurements)."""
    return time.time_ns() / 1_000_000


def monotonic_s() -> float:
    """Monotonic seconds, for measuring intervals (never for timestamps)."""
    return time.monotonic()


def ms_to_seconds_str(ts_ms: int) -> str:
    """1700000000123 -> '1700000000.123' (the wire format of `timestamp` fields)."""
    seconds, millis = divmod(ts_ms, 1000)
    return f"{seconds}.{millis:03d}"


def iso_utc(ts_ms: int) -> str:
    """1703128542000 -> '2023-12-21T03:15:42Z' (seconds precision, as in seed 001)."""
    return datetime.fromtimestamp(ts_ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso_ms(text: str) -> int:
    """Parse an ISO 8601 time ('2021-04-17T18:24:06.123456Z') into epoch milliseconds."""
    cleaned = text.strip()
    if cleaned.endswith("Z"):
        cleaned = cleaned[:-1] + "+00:00"
    parsed = datetime.fromisoformat(cleaned)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return (parsed - UNIX_EPOCH) // ONE_MS  # exact floor: no float rounding of the fraction
