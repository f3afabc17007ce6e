"""Field kinds of the stream schemas: how one value is written as text and checked when read.

Kinds: `price` (finite, > 0), `qty` (finite, >= 0), `pos` (finite, > 0), `rate` (finite,
|x| < 1), `float` (finite), `ms` (epoch ms written as seconds with 3 decimals), `bool`
(`true`/`false`), `str` (non-empty), `side` (`buy`/`sell`), `market` (`spot`/`perp`/
`future`), `venue`, `symbol` and `asset` (lowercase id / canonical uppercase name / asset code).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from microservices.common.clock import ms_to_seconds_str, parse_iso_ms
from microservices.common.errors import SchemaError

# canonical names (common/instruments.py): BTCUSDT, BTCUSD.INV, BTCUSDT-20261225-70000-P
SYMBOL_RE: Final = re.compile(r"^[A-Z0-9][A-Z0-9.-]{1,47}$")
ASSET_RE: Final = re.compile(r"^[A-Z0-9]{1,20}$")
VENUE_RE: Final = re.compile(r"^[a-z][a-z0-9_]{1,30}$")
# Epoch-ms bounds that any real exchange timestamp falls within (2009-01-01 .. 2100-01-01).
MIN_TS_MS: Final = 1_230_768_000_000
MAX_TS_MS: Final = 4_102_444_800_000
_FLOAT_KINDS: Final = frozenset({"price", "qty", "pos", "rate", "float"})


@dataclass(frozen=True, slots=True)
class FieldSpec:
    wire: str  # field name in the Redis entry
    attr: str  # attribute name on the record
    kind: str
    optional: bool = False


def encode_float(value: float) -> str:
    """Shortest text that round-trips (repr), so '16500.5' stays '16500.5'."""
    return repr(float(value))


def encode_derived(value: float) -> str:
    """A computed value with 12 significant digits: 149.95395000000002 -> '149.95395'.

    Derived streams (normalized, features, status) are read by people with redis-cli; the
    last digits of float arithmetic are noise there (relative error below 1e-12).
    """
    return repr(float(f"{value:.12g}"))


def encode_value(spec: FieldSpec, value: Any) -> str:
    kind = spec.kind
    if kind in _FLOAT_KINDS:
        return repr(float(value))
    if kind == "ms":
        return ms_to_seconds_str(int(value))
    if kind == "bool":
        return "true" if value else "false"
    return str(value)


def encode_fields(record: Any, specs: tuple[FieldSpec, ...]) -> dict[str, str]:
    """The `specs` fields of `record` as wire text; attributes that are None are left out."""
    out: dict[str, str] = {}
    for spec in specs:
        value = getattr(record, spec.attr)
        if value is not None:
            out[spec.wire] = encode_value(spec, value)
    return out


def normalize_entry(entry: Mapping[Any, Any]) -> dict[str, str]:
    """Raw Redis fields (bytes or str) -> dict[str, str]."""
    out: dict[str, str] = {}
    for key, value in entry.items():
        k = key.decode() if isinstance(key, bytes) else str(key)
        v = value.decode() if isinstance(value, bytes) else str(value)
        out[k] = v
    return out


def require(entry: Mapping[str, str], name: str, *, allow_empty: bool = False) -> str:
    try:
        value = entry[name]
    except KeyError:
        raise SchemaError(f"missing required field {name!r}") from None
    if not allow_empty and value == "":
        raise SchemaError(f"field {name!r} is empty")
    return value


def parse_float(name: str, text: str, kind: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise SchemaError(f"field {name!r}: not a number: {text[:40]!r}") from None
    if not math.isfinite(value):
        raise SchemaError(f"field {name!r}: not finite: {text[:40]!r}")
    if kind == "price" and value <= 0.0:
        raise SchemaError(f"field {name!r}: price must be > 0, got {value}")
    if kind == "pos" and value <= 0.0:
        raise SchemaError(f"field {name!r}: must be > 0, got {value}")
    if kind == "qty" and value < 0.0:
        raise SchemaError(f"field {name!r}: quantity must be >= 0, got {value}")
    if kind == "rate" and abs(value) >= 1.0:
        raise SchemaError(f"field {name!r}: rate out of range (|x| < 1): {value}")
    return value


def parse_int(name: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise SchemaError(f"field {name!r}: not an integer: {text[:40]!r}") from None


def parse_ms(name: str, text: str) -> int:
    """'1700000000.123' (seconds) -> 1700000000123; range-checked."""
    seconds, _, frac = text.partition(".")
    if not seconds.isdigit() or (frac and not frac.isdigit()):
        raise SchemaError(f"field {name!r}: not a unix time in seconds: {text[:40]!r}")
    ts_ms = int(seconds) * 1000 + int((frac + "000")[:3])
    if not MIN_TS_MS <= ts_ms <= MAX_TS_MS:
        raise SchemaError(f"field {name!r}: time out of range: {text[:40]!r}")
    return ts_ms


def parse_iso(name: str, text: str) -> int:
    """'2023-12-21T03:15:42Z' -> epoch ms; range-checked like `parse_ms`, so every accepted
    time is one `iso_utc` writes back in the same form."""
    try:
        ts_ms = parse_iso_ms(text)
    except (ValueError, OverflowError):
        raise SchemaError(f"field {name!r}: not an ISO 8601 time: {text[:40]!r}") from None
    if not MIN_TS_MS <= ts_ms <= MAX_TS_MS:
        raise SchemaError(f"field {name!r}: time out of range: {text[:40]!r}")
    return ts_ms


def parse_bool(name: str, text: str) -> bool:
    lowered = text.lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise SchemaError(f"field {name!r}: not a boolean: {text[:40]!r}")


def _parse_one(spec: FieldSpec, text: str) -> Any:
    kind = spec.kind
    if kind in _FLOAT_KINDS:
        return parse_float(spec.wire, text, kind)
    if kind == "ms":
        return parse_ms(spec.wire, text)
    if kind == "count":  # a whole number >= 0
        count = parse_int(spec.wire, text)
        if count < 0:
            raise SchemaError(f"field {spec.wire!r}: count must be >= 0, got {count}")
        return count
    if kind == "bool":
        return parse_bool(spec.wire, text)
    if kind == "side":
        if text not in ("buy", "sell"):
            raise SchemaError(f"field {spec.wire!r}: side must be buy or sell, got {text[:20]!r}")
        return text
    if kind == "market":
        if text not in ("spot", "perp", "future"):
            raise SchemaError(
                f"field {spec.wire!r}: market must be spot, perp or future, got {text[:20]!r}"
            )
        return text
    if kind == "symbol" and not SYMBOL_RE.match(text):
        raise SchemaError(f"field {spec.wire!r}: not a canonical symbol: {text[:40]!r}")
    if kind == "asset" and not ASSET_RE.match(text):
        raise SchemaError(f"field {spec.wire!r}: not an asset code: {text[:40]!r}")
    if kind == "venue" and not VENUE_RE.match(text):
        raise SchemaError(f"field {spec.wire!r}: not a venue id: {text[:40]!r}")
    return text


def decode_fields(entry: Mapping[str, str], specs: tuple[FieldSpec, ...]) -> dict[str, Any]:
    """Parse `specs` out of `entry` into record keyword arguments."""
    kwargs: dict[str, Any] = {}
    for spec in specs:
        text = entry.get(spec.wire)
        if text is None or text == "":
            if spec.optional:
                kwargs[spec.attr] = None
                continue
            raise SchemaError(f"missing required field {spec.wire!r}")
        kwargs[spec.attr] = _parse_one(spec, text)
    return kwargs
