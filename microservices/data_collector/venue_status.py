"""Connection state of every WebSocket plan, summarized per venue for /health.

The collector keeps one `VenueStatus`, updates it from the bridges (cheap attribute writes on
the hot path) and publishes `summary()` to Redis every second (see service.py), so the
engine's /health can report per-venue state even when it runs in another process.

A connection is live while its socket is open and has delivered market data or a heartbeat
(never a ping, pong or ack) within its venue's silence timeout. A venue is `connected` only
when every connection is live, `degraded` when some are, `silent` when sockets are open but
its feed has been quiet for the timeout (across reconnects), `connecting` while a reopened
socket awaits its first data, else `disconnected`. `last_cause` is the short reason of the
last reconnect (`silent 30s`, `refused`, `HTTP 451 geo-block`). It also keeps each venue's
recent record latency (`latency.LatencyWindow`) and clock skew (`clock_skew.SkewEstimator`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

from microservices.common import metrics
from microservices.common.clock import now_ms
from microservices.data_collector.clock_skew import SkewEstimator, SkewSample
from microservices.data_collector.exchanges.base import QUIET_REASONS
from microservices.data_collector.latency import LatencyWindow, bucket_counts


@dataclass(slots=True)
class ConnectionState:
    venue: str
    silence_timeout_s: float = 30.0
    state: str = "connecting"  # connecting | connected | reconnecting
    last_frame_ms: int = 0  # last frame that proved the feed alive (data or heartbeat)
    connected_since_ms: int = 0
    first_connected_ms: int = 0
    reconnects: int = 0
    last_cause: str = ""
    retry_delay_s: float = 0.0  # wait before the latest reconnect attempt
    records: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    # what the plan subscribes: streams (Binance URL streams, Bybit args, Coinbase products x
    # channels), subscribe frames, the most args/products in one frame
    subscriptions: tuple[int, int, int] = (0, 0, 0)

    def live(self, now: int) -> bool:
        """Open, and fed data or a heartbeat since opening, within the silence timeout."""
        return (
            self.state == "connected"
            and self.last_frame_ms >= self.connected_since_ms
            and now - self.last_frame_ms < self.silence_timeout_s * 1000
        )

    def silent(self, now: int) -> bool:
        """Open, not live, and no data on any socket for the timeout since the first open."""
        quiet_since = max(self.last_frame_ms, self.first_connected_ms)
        return (
            self.state == "connected"
            and not self.live(now)
            and now - quiet_since >= self.silence_timeout_s * 1000
        )


class VenueStatus:
    def __init__(self) -> None:
        self._conns: dict[str, ConnectionState] = {}
        self._latency: dict[str, LatencyWindow] = {}
        self._skew: dict[str, SkewEstimator] = {}

    def register(
        self,
        label: str,
        venue: str,
        silence_timeout_s: float = 30.0,
        subscriptions: tuple[int, int, int] = (0, 0, 0),
    ) -> None:
        conn = self._conns.setdefault(label, ConnectionState(venue, silence_timeout_s))
        conn.subscriptions = subscriptions  # a replaced plan keeps its label

    def forget(self, label: str) -> None:
        """A connection no longer planned (its symbols moved or were unfollowed)."""
        conn = self._conns.pop(label, None)
        if conn is not None and conn.state == "connected":
            metrics.WS_CONNECTED.labels(conn.venue).dec()

    def connected(self, label: str) -> None:
        conn = self._conns[label]
        if conn.state == "connected":  # a rotation's successor: the connection never went down
            return
        conn.state = "connected"
        conn.connected_since_ms = now_ms()
        if not conn.first_connected_ms:
            conn.first_connected_ms = conn.connected_since_ms
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
        conn.retry_delay_s = round(delay_s, 3)

    def frame(self, label: str, received_ms: int) -> None:
        self._conns[label].last_frame_ms = received_ms

    def set_counts(self, label: str, records: int, rejected: dict[str, int]) -> None:
        conn = self._conns[label]
        conn.records = records
        conn.rejected = dict(rejected)

    def add_latency(self, venue: str, drained: Mapping[str, list[int]], now: int) -> None:
        """Record type -> latencies (ms) of one connection's records, drained at `now`: into
        the histogram and the venue's window."""
        histogram = metrics.WS_LATENCY
        for kind, samples in drained.items():
            histogram.add((venue, kind), bucket_counts(samples, histogram.bounds_ms), sum(samples))
        window = self._latency.setdefault(venue, LatencyWindow())
        window.add(now, list(chain.from_iterable(drained.values())))

    def add_clock_skew(self, venue: str, sample: SkewSample) -> None:
        self._skew.setdefault(venue, SkewEstimator()).add(sample)

    def summary(self, now: int | None = None) -> dict[str, dict[str, Any]]:
        """venue -> {state, connections, connected (sockets open), live (fed within the
        silence timeout), last_message_age_s (data or heartbeat), silence_timeout_s,
        reconnects, last_cause, retry_delay_s, records, rejected (all but QUIET_REASONS: the
        channels not followed, the venue's heartbeats), rejected_by_reason (every reason),
        latency_ms {p50, p95, samples} (last minute), clock_skew_ms and rtt_ms (None until
        measured), subscriptions {label: [streams, subscribe frames, most args in one
        frame]}}."""
        now = now_ms() if now is None else now
        venues: dict[str, dict[str, Any]] = {}
        for label, conn in self._conns.items():
            item = venues.setdefault(
                conn.venue,
                {"connections": 0, "connected": 0, "live": 0, "silent": 0, "last_message_ms": 0,
                 "silence_timeout_s": conn.silence_timeout_s, "reconnects": 0, "records": 0,
                 "rejected": 0, "rejected_by_reason": {}, "last_cause": "", "retry_delay_s": 0.0,
                 "subscriptions": {}},
            )  # fmt: skip
            item["connections"] += 1
            item["subscriptions"][label] = list(conn.subscriptions)
            item["connected"] += conn.state == "connected"
            item["live"] += conn.live(now)
            item["silent"] += conn.silent(now)
            item["retry_delay_s"] = max(item["retry_delay_s"], conn.retry_delay_s)
            item["last_message_ms"] = max(item["last_message_ms"], conn.last_frame_ms)
            item["reconnects"] += conn.reconnects
            item["records"] += conn.records
            item["rejected"] += sum(v for k, v in conn.rejected.items() if k not in QUIET_REASONS)
            reasons = item["rejected_by_reason"]
            for reason, count in conn.rejected.items():
                reasons[reason] = reasons.get(reason, 0) + count
            item["last_cause"] = conn.last_cause or item["last_cause"]
        for venue, item in venues.items():
            last = item["last_message_ms"]
            item["last_message_age_s"] = None if last == 0 else round((now - last) / 1000, 3)
            item["state"] = _state(item)
            metrics.WS_LAST_MESSAGE.labels(venue).set(last / 1000)
            item.update(self._timing(venue, now))
        return venues

    def _timing(self, venue: str, now: int) -> dict[str, Any]:
        """Latency and clock-skew fields of one venue; sets their gauges."""
        window = self._latency.get(venue)
        latency = window.summary(now) if window is not None else LatencyWindow().summary(now)
        for quantile, value in (("0.5", latency.p50), ("0.95", latency.p95)):
            gauge = metrics.WS_LATENCY_RECENT.labels(venue, quantile)
            gauge.set(math.nan if value is None else value / 1000)
        estimator = self._skew.get(venue)
        best = None if estimator is None else estimator.best()
        if best is not None:
            metrics.CLOCK_SKEW.labels(venue).set(best.skew_ms / 1000)
            metrics.CLOCK_SKEW_RTT.labels(venue).set(best.rtt_ms / 1000)
        return {
            "latency_ms": latency.as_dict(),
            "clock_skew_ms": None if best is None else round(best.skew_ms, 1),
            "rtt_ms": None if best is None else round(best.rtt_ms, 1),
        }


def _state(item: dict[str, Any]) -> str:
    if item["live"] == item["connections"] and item["live"] > 0:
        return "connected"
    if item["live"] > 0:
        return "degraded"
    if item["silent"] > 0:
        return "silent"
    if item["connected"] > 0:
        return "connecting"
    return "disconnected"
