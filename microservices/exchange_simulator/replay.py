"""Recorded sessions to replay: capture files grouped by the venue whose frames they hold.

Reads the fixtures' JSONL formats: cryptofeed (`{"ts","dir","url","frame"}`, only `recv`
frames are replayed) and tardis samples (`{"ts","frame","src",...}`, `synthetic` lines
skipped). The venue comes from the capture URL, else from the file path, as the exchange
packages' simulator dialects recognise them (`venues/registry.py`). No sockets here.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import orjson

logger = logging.getLogger(__name__)


class ReplayFrame(NamedTuple):
    ts: float | None  # capture time in seconds (None: unknown, no pacing)
    text: str  # the frame exactly as captured
    obj: Any  # parsed JSON (None when the frame is not JSON)


def venue_of_url(url: str) -> str | None:
    """Market venue of a capture URL (real venue hosts or this simulator's path prefixes)."""
    from microservices.exchange_simulator.venues import registry  # it imports session -> us

    parts = urlsplit(url)
    return registry.venue_of_url((parts.hostname or "").lower(), parts.path.lower())


def venue_of_path(path: Path) -> str | None:
    """URL venue named in a capture's file path (`fixtures/binance-futures/...`)."""
    from microservices.exchange_simulator.venues import registry

    return registry.venue_of_path(path)


def _seconds(value: Any) -> float | None:
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None
    return None


def _frame(text: str, ts: float | None) -> ReplayFrame:
    try:
        obj = orjson.loads(text)
    except orjson.JSONDecodeError:
        obj = None
    return ReplayFrame(ts, text, obj)


def load_capture(path: Path) -> dict[str, list[ReplayFrame]]:
    """Frames of one capture file by market venue, in file order."""
    from microservices.exchange_simulator.venues import registry

    by_venue: dict[str, list[ReplayFrame]] = {}
    path_venue = venue_of_path(path)
    url_venue: str | None = None
    with path.open("rb") as handle:
        for line in handle:
            if not line.strip():
                continue
            item = orjson.loads(line)
            if item.get("url"):
                url_venue = venue_of_url(item["url"]) or url_venue
            frame = item.get("frame")
            if frame is None or item.get("synthetic") or item.get("dir", "recv") != "recv":
                continue
            venue = url_venue or path_venue
            if venue is None:
                raise ValueError(f"{path}: cannot tell the venue (no known URL or path)")
            venue = registry.frame_venue(venue, item)
            text = frame if isinstance(frame, str) else orjson.dumps(frame).decode()
            by_venue.setdefault(venue, []).append(_frame(text, _seconds(item.get("ts"))))
    return by_venue


class ReplayLibrary:
    """All loaded captures: market venue -> frames in order (files appended in given order)."""

    def __init__(self, frames: dict[str, list[ReplayFrame]] | None = None) -> None:
        self.frames: dict[str, list[ReplayFrame]] = frames or {}

    @classmethod
    def load(cls, paths: Iterable[Path]) -> ReplayLibrary:
        library = cls()
        for path in paths:
            for venue, frames in load_capture(Path(path)).items():
                library.frames.setdefault(venue, []).extend(frames)
                logger.info(
                    "replay.loaded",
                    extra={"path": str(path), "venue": venue, "frames": len(frames)},
                )
        return library

    def for_venue(self, market_venue: str) -> list[ReplayFrame]:
        return self.frames.get(market_venue, [])
