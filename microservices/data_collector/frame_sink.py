"""What happens to each frame a connection receives: books first, then records.

`FrameSink` is the per-frame half of a WebSocket connection (`ws_bridge.WsConnectionRunner`
is the connection's life): a frame that may be a book frame goes to the connection's
`BookFeed`; any other goes to the venue's parser, and its records to `exchange.raw`. Frames
that prove the feed alive (market data, heartbeats; as the parser or the book rules decide)
refresh the connection's liveness. `sync_stats` turns the parser's cumulative counts into
Prometheus counters and rate-limited log samples, and the records' latencies into /health.
"""

from __future__ import annotations

import logging
from typing import Any

from microservices.common import metrics
from microservices.common.clock import now_ms
from microservices.common.counter_sync import CounterSync
from microservices.common.logs import SampledLogger
from microservices.common.producer import StreamProducer
from microservices.common.streams import Stream
from microservices.data_collector.book_feed import BookFeed
from microservices.data_collector.exchanges.base import (
    QUIET_REASONS,
    Exchange,
    VenueParser,
    WsConnectionPlan,
)
from microservices.data_collector.latency import LatencyRecorder
from microservices.data_collector.venue_status import VenueStatus

logger = logging.getLogger("microservices.data_collector.ws_bridge")
samples = SampledLogger(logger, interval_s=30.0)


class FrameSink:
    """One connection's frames in; records, book updates and counters out."""

    def __init__(
        self,
        exchange: Exchange,
        plan: WsConnectionPlan,
        producer: StreamProducer,
        raw: Stream[Any],
        status: VenueStatus,
        latency_types: frozenset[str],
        books: BookFeed | None,
    ) -> None:
        self.exchange = exchange
        self.plan = plan
        self.producer = producer
        self.raw = raw
        self.status = status
        self.parser: VenueParser = exchange.new_parser()
        self.latency = LatencyRecorder(latency_types)
        self.books = books  # the connection's L2 books (book_loop.py serves their requests)
        self._exported = CounterSync()  # parser totals already in the Prometheus counters

    def handle(self, frame: str | bytes) -> bool:
        """Parse and publish one frame; True when it proved the feed alive."""
        received = now_ms()
        books = self.books
        if books is not None and books.is_book(frame):
            handled = books.on_frame(frame, received)
            if handled is not None:
                self.status.frame(self.plan.label, received)
                return handled
        records, alive = self.parser.parse_with_liveness(frame, received)
        if alive:
            self.status.frame(self.plan.label, received)
        publish = self.producer.publish
        raw = self.raw
        for record in records:
            publish(raw, record)
        self.latency.observe(records, received)
        return alive

    def sync_stats(self) -> None:
        """Turn cumulative parser stats into Prometheus counters and log new reject samples."""
        name = self.exchange.name
        stats = self.parser.stats
        for kind, count in stats.emitted.items():
            if delta := self._exported.delta(("emitted", kind), count):
                metrics.WS_RECORDS.labels(name, kind).inc(delta)
        for reason, count in stats.rejected.items():
            if delta := self._exported.delta(("rejected", reason), count):
                metrics.PARSE_ERRORS.labels(name, reason).inc(delta)
                if reason not in QUIET_REASONS:
                    samples.warning(
                        f"{name}:{reason}", "ws.frame_rejected", exchange=name, reason=reason,
                        count=count, sample=stats.samples.get(reason, ""),
                    )  # fmt: skip
        self.status.set_counts(self.plan.label, sum(stats.emitted.values()), stats.rejected)
        self.status.add_latency(name, self.latency.drain(), now_ms())
