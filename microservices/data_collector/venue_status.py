"""Connection state of every WebSocket plan, summarized per venue for /health.

The collector keeps one `VenueStatus`, updates it from the bridges (cheap attribute writes on
the hot path) and publishes `summary()` to Redis every second (see service.py), so the
engine's /health can report per-venue state even when it runs in another process.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from microservices.common import metrics
from microservices.common.clock import now_ms


@dataclass(slots=True)
class ConnectionState:
    venue: str
    state: str = "connecting"  # connecting | connected | reconnecting
    last_frame_ms: int = 0
    connected_since_ms: int = 0
    reconnects: int = 0
    last_cause: str = ""
    records: int = 0
    rejected: dict[str, int] = field(default_factory=dict)


class VenueStatus:
    def __init__(self) -> None:
        self._conns: dict[str, ConnectionState] = {}

    def register(self, label: str, venue: str) -> None:
        self._conns.setdefault(label, ConnectionState(venue=venue))

    def connected(self, label: str) -> None:
        conn = self._conns[label]
        conn.state = "connected"
        conn.connected_since_ms = now_ms()
        metrics.WS_CONNECTED.labels(conn.venue).inc()

    def disconnected(self, label: str) -> None:
        conn = self._conns[label]
        if conn.state == "connected":
            metrics.WS_CONNECTED.labels(conn.venue).dec()
        conn.state = "reconnecting"

    def reconnecting(self, label: str, cause: str, delay_s: float) -> None:
        conn = self._conns[label]
        conn.state = "reconnecting"
        conn.reconnects += 1
        conn.last_cause = cause

    def frame(self, label: str, received_ms: int) -> None:
        self._conns[label].last_frame_ms = received_ms

    def set_counts(self, label: str, records: int, rejected: dict[str, int]) -> None:
        conn = self._conns[label]
        conn.records = records
        conn.rejected = dict(rejected)

    def summary(self, now: int | None = None) -> dict[str, dict[str, Any]]:
        """venue -> {state, connections, connected, last_message_age_s, reconnects, records,
        rejected (all but "ignored"), rejected_by_reason (every reason, "ignored" included)}."""
        now = now_ms() if now is None else now
        venues: dict[str, dict[str, Any]] = {}
        for conn in self._conns.values():
            item = venues.setdefault(
                conn.venue,
                {"connections": 0, "connected": 0, "last_message_ms": 0, "reconnects": 0,
                 "records": 0, "rejected": 0, "rejected_by_reason": {}, "last_cause": ""},
            )  # fmt: skip
            item["connections"] += 1
            item["connected"] += conn.state == "connected"
            item["last_message_ms"] = max(item["last_message_ms"], conn.last_frame_ms)
            item["reconnects"] += conn.reconnects
            item["records"] += conn.records
            item["rejected"] += sum(v for k, v in conn.rejected.items() if k != "ignored")
            reasons = item["rejected_by_reason"]
            for reason, count in conn.rejected.items():
                reasons[reason] = reasons.get(reason, 0) + count
            item["last_cause"] = conn.last_cause or item["last_cause"]
        for venue, item in venues.items():
            last = item["last_message_ms"]
            item["last_message_age_s"] = None if last == 0 else round((now - last) / 1000, 3)
            item["state"] = _state(item)
            metrics.WS_LAST_MESSAGE.labels(venue).set(last / 1000)
        return venues


def _state(item: dict[str, Any]) -> str:
    if item["connected"] == item["connections"] and item["connected"] > 0:
        return "connected"
    if item["connected"] > 0:
        return "degraded"
    return "disconnected"
