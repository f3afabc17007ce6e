"""Checks shared by the venues' server-time parsers (`<exchange>/server_time.py`). Pure."""

from __future__ import annotations

import math
from typing import Any

from microservices.common.errors import BadMessage
from microservices.common.schema_fields import MAX_TS_MS, MIN_TS_MS  # epoch_ms() bounds


def server_ms(value: Any, scale: float = 1.0) -> float:
    """`value * scale` as epoch milliseconds: `value` a JSON number or numeric string (never a
    boolean), the result finite and within 2009..2100; BadMessage otherwise."""
    if value is True or value is False or not isinstance(value, int | float | str):
        raise BadMessage(f"bad server time {value!r}")
    try:
        ms = float(value) * scale
    except ValueError:
        raise BadMessage(f"bad server time {value!r}") from None
    if not (math.isfinite(ms) and MIN_TS_MS <= ms <= MAX_TS_MS):
        raise BadMessage(f"server time out of range {value!r}")
    return ms


def field(payload: Any, *path: str) -> Any:
    """payload[path[0]][path[1]]...; BadMessage when a level is not an object or lacks it."""
    for key in path:
        if not isinstance(payload, dict) or key not in payload:
            raise BadMessage(f"server time answer without {'.'.join(path)}")
        payload = payload[key]
    return payload
