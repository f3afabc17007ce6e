"""Fast exact parsing of the ISO-8601 UTC times Coinbase sends ('2023-11-14T22:13:20.123456Z').

The reference, `parse_iso_ms` (common/clock.py), strips the text, turns a final 'Z' into
'+00:00', parses an aware datetime and returns whole milliseconds since the epoch: ~1 us per
frame, most of it in building the UTC offset. For a text ending in 'Z' the fast path parses
the part before it as a naive datetime and subtracts a naive epoch.

Why that is the same: `fromisoformat` reads the time part up to the first '+', '-' or 'Z'. A
naive result (tzinfo None) means the text before 'Z' has none of them in its time part, so
appending '+00:00' adds an offset of 0 and changes nothing else; the date part is read the
same with or without it once the text is longer than a date alone (at most 10 characters).
Both floor `dt - epoch` to whole milliseconds in integer arithmetic (`// ONE_MS`), so
they agree exactly. Anything else (no 'Z', an offset, a parse error, a non-string) goes to
`parse_iso_ms`, which returns or raises as before. tests/unit/exchanges/test_iso_time.py
checks equality over generated, malformed and captured times.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from microservices.common.clock import ONE_MS, parse_iso_ms
from microservices.common.schema_fields import MAX_TS_MS, MIN_TS_MS  # epoch_ms() bounds
from microservices.data_collector.exchanges.base import epoch_ms

EPOCH: Final = datetime(1970, 1, 1)
DATE_ONLY_MAX: Final = 11  # the longest date-only text ('YYYY-MM-DD') and its 'Z'

_fromisoformat = datetime.fromisoformat


def iso_ms(value: Any) -> int:
    """Epoch ms of an ISO-8601 time: `parse_iso_ms(value)` (the same result or exception)."""
    if type(value) is str and len(value) > DATE_ONLY_MAX and value[-1] == "Z":
        try:
            parsed = _fromisoformat(value[:-1])
        except ValueError:
            return parse_iso_ms(value)
        if parsed.tzinfo is None:
            return (parsed - EPOCH) // ONE_MS
    return parse_iso_ms(value)


def iso_epoch_ms(value: Any) -> int:
    """`base.epoch_ms(parse_iso_ms(value))` (an ISO time within 2009..2100, in epoch ms): the
    same result or exception; `iso_ms` inlined, and anything out of range left to the
    reference to reject."""
    if type(value) is str and len(value) > DATE_ONLY_MAX and value[-1] == "Z":
        try:
            parsed = _fromisoformat(value[:-1])
        except ValueError:
            parsed = None
        if parsed is not None and parsed.tzinfo is None:
            number = (parsed - EPOCH) // ONE_MS
            if MIN_TS_MS <= number <= MAX_TS_MS:
                return number
    return epoch_ms(parse_iso_ms(value))
