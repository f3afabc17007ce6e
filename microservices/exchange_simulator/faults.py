"""Fault injection: the runtime fault settings per venue and what they do to one connection.

`FaultState` holds the current FaultConfig of each venue (changed by POST /_sim/faults);
`ConnectionFaults` decides, frame by frame, about silence and drops; `malform()` turns a good
frame into a bad one. Pure: callers pass the time; no sockets here.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterable, Mapping
from dataclasses import asdict, replace
from typing import Any

import orjson

from microservices.exchange_simulator.config import FAULT_FIELDS, FaultConfig

PRICE_KEYS = frozenset(
    {
        "p",
        "b",
        "a",
        "ap",
        "price",
        "best_bid",
        "best_ask",
        "lastPrice",
        "markPrice",
        "indexPrice",
        "bid1Price",
        "ask1Price",
        "o",
        "c",
        "h",
        "l",
        "open",
        "close",
        "high",
        "low",
    }
)
_TUPLE_FIELDS = {"malformed_kinds"}


def coerce_faults(base: FaultConfig, changes: Mapping[str, Any]) -> FaultConfig:
    """`base` with JSON `changes` applied; ValueError names unknown or invalid fields."""
    unknown = sorted(set(changes) - set(FAULT_FIELDS))
    if unknown:
        raise ValueError(f"unknown fault fields {unknown}; known: {list(FAULT_FIELDS)}")
    values: dict[str, Any] = {k: tuple(v) if k in _TUPLE_FIELDS else v for k, v in changes.items()}
    try:
        return replace(base, **values)
    except TypeError as exc:
        raise ValueError(str(exc)) from exc


class FaultState:
    """Current fault settings: one default for all venues plus per-venue overrides."""

    def __init__(
        self, default: FaultConfig, per_venue: Mapping[str, FaultConfig], venues: Iterable[str]
    ) -> None:
        self.venues = tuple(venues)
        self._configs = {v: per_venue.get(v, default) for v in self.venues}
        self.version = 0  # bumped on every change; connections restart their silence on it

    def for_venue(self, venue: str) -> FaultConfig:
        return self._configs[venue]

    def update(self, venue: str | None, changes: Mapping[str, Any]) -> list[str]:
        """Apply `changes` to one venue (or all when None/"all"); return the venues changed."""
        targets = self.venues if venue in (None, "all") else (venue,)
        if any(t not in self._configs for t in targets):
            raise ValueError(f"unknown venue {venue!r}; known: {list(self.venues)}")
        updated = {t: coerce_faults(self._configs[t], changes) for t in targets}
        self._configs.update(updated)
        self.version += 1
        return list(targets)

    def reset(self) -> None:
        self._configs = {v: FaultConfig() for v in self.venues}
        self.version += 1

    def snapshot(self) -> dict[str, Any]:
        return {"version": self.version, "venues": {v: asdict(c) for v, c in self._configs.items()}}


class ConnectionFaults:
    """Per-connection fault bookkeeping: data frames sent, silence window, malformed draws."""

    __slots__ = ("_silence_until", "_version", "book_diffs", "data_frames", "rng")

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.data_frames = 0
        self.book_diffs = 0  # L2 deltas met (sent or skipped)
        self._silence_until: float | None = None
        self._version = -1

    def silent(self, cfg: FaultConfig, version: int, now_s: float) -> bool:
        """True while this connection must not send data (it stays open)."""
        if version != self._version:  # new settings: the silence may start again
            self._version, self._silence_until = version, None
        if cfg.silence_after is None:
            return False
        if self._silence_until is None and self.data_frames >= cfg.silence_after:
            span = math.inf if cfg.silence_for_s is None else cfg.silence_for_s
            self._silence_until = now_s + span
        return self._silence_until is not None and now_s < self._silence_until

    def malformed_kind(self, cfg: FaultConfig) -> str | None:
        if cfg.malformed_rate and self.rng.random() < cfg.malformed_rate:
            return self.rng.choice(cfg.malformed_kinds)
        return None

    def skip_book_diff(self, cfg: FaultConfig) -> bool:
        """Count one L2 delta; True when the depth_gap_every fault skips it (every Nth)."""
        self.book_diffs += 1
        return bool(cfg.depth_gap_every) and self.book_diffs % cfg.depth_gap_every == 0

    def should_drop(self, cfg: FaultConfig) -> bool:
        return bool(cfg.drop_every) and self.data_frames >= cfg.drop_every


# ------------------------------------------------------------------------ malformed frames


def malform(frame: bytes, kind: str) -> tuple[bytes, bool]:
    """(bad frame, is_binary). Kinds: invalid_json, nan_price, negative_price, unknown_topic,
    binary. A frame without a field to spoil becomes invalid JSON instead."""
    if kind == "binary":
        return frame, True
    if kind != "invalid_json":
        try:
            obj = orjson.loads(frame)
        except orjson.JSONDecodeError:
            obj = None
        spoiled = _spoil(obj, kind) if isinstance(obj, dict) else False
        if spoiled:
            # json (not orjson) so that NaN stays the literal NaN, as a broken venue sends it
            return json.dumps(obj, separators=(",", ":")).encode(), False
    return frame[: max(1, len(frame) // 2)], False


def _spoil(obj: dict[str, Any], kind: str) -> bool:
    if kind == "unknown_topic":
        return _unknown_topic(obj)
    return _spoil_prices(obj, negative=kind == "negative_price")


def _unknown_topic(obj: dict[str, Any]) -> bool:
    for key, value in (
        ("stream", "xyzusdt@unknownStream"),
        ("topic", "unknownTopic.XYZUSDT"),
        ("type", "unknown_type"),
        ("e", "unknownEvent"),
    ):
        if key in obj:
            obj[key] = value
            return True
    obj["e"] = "unknownEvent"
    return True


def _bad_value(value: Any, negative: bool) -> Any:
    if isinstance(value, str):
        return ("-" + value.lstrip("-")) if negative else "NaN"
    return -abs(value) if negative else math.nan


def _spoil_prices(node: Any, negative: bool) -> bool:
    """Replace every price in `node` (recursively); True if one was found."""
    found = False
    if isinstance(node, dict):
        for key, value in node.items():
            if key in PRICE_KEYS and _is_price(value):
                node[key] = _bad_value(value, negative)
                found = True
            elif key in PRICE_KEYS and isinstance(value, list) and value:
                level = value[0]  # [[price, qty], ...] book levels
                if isinstance(level, list) and level and _is_price(level[0]):
                    level[0] = _bad_value(level[0], negative)
                    found = True
            elif isinstance(value, dict | list):
                found = _spoil_prices(value, negative) or found
    elif isinstance(node, list):
        for item in node:
            found = _spoil_prices(item, negative) or found
    return found


def _is_price(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, float):
        return True
    return isinstance(value, str) and value.replace(".", "", 1).isdigit()
