"""Prometheus metric definitions for every service (one process-wide registry).

Names start with `ce_`. Labels are bounded sets (venue ids, record types, stream names,
symbols from settings, reason codes), never free text.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from itertools import accumulate
from typing import Final

from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.core import HistogramMetricFamily, Metric


class BulkHistogram:
    """A labelled histogram fed with counts already sorted into its buckets (`add`), for
    per-record observations: `Histogram.observe` costs ~0.7 us a sample, this a bisect.

    `bounds_ms` are the buckets' upper bounds in ms, exposed in seconds. Registered in the
    default registry like the metrics below; `add` and the scrape thread share a lock.
    """

    def __init__(
        self, name: str, documentation: str, labelnames: Sequence[str], bounds_ms: Sequence[int]
    ) -> None:
        self.name, self.documentation = name, documentation
        self.labelnames = tuple(labelnames)
        self.bounds_ms = tuple(bounds_ms)
        self._les = [str(b / 1000) for b in self.bounds_ms] + ["+Inf"]  # '0.005', '1.0'
        self._series: dict[tuple[str, ...], tuple[list[int], list[float]]] = {}
        self._lock = threading.Lock()
        REGISTRY.register(self)

    def add(self, labels: Sequence[str], counts: Sequence[int], sum_ms: float) -> None:
        """Add per-bucket (not cumulative) counts, len(bounds_ms) + 1 of them, and their sum."""
        if len(counts) != len(self._les) or len(labels) != len(self.labelnames):
            raise ValueError(f"{self.name}: {len(counts)} counts, labels {labels}")
        with self._lock:
            series = self._series.setdefault(tuple(labels), ([0] * len(counts), [0.0]))
            for i, count in enumerate(counts):
                series[0][i] += count
            series[1][0] += sum_ms

    def describe(self) -> list[Metric]:
        return [HistogramMetricFamily(self.name, self.documentation, labels=self.labelnames)]

    def collect(self) -> Iterator[Metric]:
        family = HistogramMetricFamily(self.name, self.documentation, labels=self.labelnames)
        with self._lock:
            rows = [(labels, list(c), s[0]) for labels, (c, s) in self._series.items()]
        for labels, counts, sum_ms in rows:
            buckets = list(zip(self._les, accumulate(counts), strict=True))
            family.add_metric(list(labels), buckets, sum_ms / 1000)
        yield family


# --- collector: WebSocket bridge
WS_RECORDS: Final = Counter(
    "ce_ws_records_total", "Records parsed from WebSocket frames", ["exchange", "type"]
)
WS_FRAMES: Final = Counter("ce_ws_frames_total", "WebSocket frames received", ["exchange"])
PARSE_ERRORS: Final = Counter(
    "ce_parse_errors_total", "Frames rejected by a venue parser", ["exchange", "reason"]
)
WS_RECONNECTS: Final = Counter(
    "ce_ws_reconnects_total",
    "WebSocket reconnects (drops, silence, rotation)",
    ["exchange", "cause"],
)
WS_CONNECTED: Final = Gauge("ce_ws_connected", "Open WebSocket connections", ["exchange"])
WS_LAST_MESSAGE: Final = Gauge(
    "ce_ws_last_message_timestamp_seconds", "Unix time of the last frame", ["exchange"]
)
# exchange time -> receive time of every record whose ts_ms is venue time; the 0 bucket
# collects latencies <= 0 (the venue's clock ahead of ours)
LATENCY_BUCKETS_MS: Final = (0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000)
WS_LATENCY: Final = BulkHistogram(
    "ce_ws_latency_seconds",
    "Receive time minus exchange time of WebSocket records",
    ["exchange", "type"],
    LATENCY_BUCKETS_MS,
)
WS_LATENCY_RECENT: Final = Gauge(
    "ce_ws_latency_recent_seconds",
    "Latency percentile over the last minute of WebSocket records (quantile 0.5, 0.95)",
    ["exchange", "quantile"],
)
CLOCK_SKEW: Final = Gauge(
    "ce_clock_skew_seconds",
    "Venue server time minus local time (NTP-style, smallest round trip of the last polls)",
    ["exchange"],
)
CLOCK_SKEW_RTT: Final = Gauge(
    "ce_clock_skew_rtt_seconds",
    "Round trip of the server-time request behind ce_clock_skew_seconds (uncertainty +-rtt/2)",
    ["exchange"],
)

# --- collector: REST
REST_REQUESTS: Final = Counter(
    "ce_rest_requests_total", "REST requests sent", ["exchange", "endpoint", "status"]
)
REST_RATE_LIMITED: Final = Counter(
    "ce_rest_rate_limited_total",
    "429/418 answers honoured with Retry-After",
    ["exchange", "status"],
)
REST_CIRCUIT_OPEN: Final = Gauge(
    "ce_rest_circuit_open",
    "1 while an endpoint's circuit breaker is open",
    ["exchange", "endpoint"],
)

# --- Redis bus
PUBLISHED: Final = Counter("ce_published_records_total", "Records written to a stream", ["stream"])
DROPPED: Final = Counter(
    "ce_dropped_records_total", "Records dropped because the producer buffer was full", ["stream"]
)
PUBLISH_BATCH_SECONDS: Final = Histogram(
    "ce_publish_batch_seconds",
    "Time to write one pipelined batch",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
)
PRODUCER_BUFFERED: Final = Gauge("ce_producer_buffered", "Records waiting in the producer buffer")
REDIS_ERRORS: Final = Counter("ce_redis_errors_total", "Redis connection errors", ["component"])
CONSUMED: Final = Counter(
    "ce_consumed_records_total", "Stream entries handled and acknowledged", ["stream", "group"]
)
DEAD_LETTERS: Final = Counter(
    "ce_dead_letters_total", "Entries moved to the dead-letter stream", ["stream"]
)
CONSUMER_LAG: Final = Gauge(
    "ce_consumer_lag", "Entries not yet delivered to the consumer group", ["stream", "group"]
)

# --- aggregator, features, ExitBrain
NORMALIZED_EMITTED: Final = Counter(
    "ce_normalized_emitted_total", "Normalized snapshots published", ["symbol"]
)
STALE_VENUES: Final = Gauge("ce_stale_venues", "Venues excluded as stale", ["symbol"])
OUTLIER_VENUES: Final = Gauge("ce_outlier_venues", "Venues excluded as outliers", ["symbol"])
USD_UNPRICED: Final = Counter(
    "ce_usd_value_unavailable_total",
    "Per-venue USD values (volume, open_interest) left null: no USD price of the quote",
    ["symbol", "exchange", "kind"],
)
DEPEG_ALERTS: Final = Counter("ce_depeg_alerts_total", "DEPEG alerts published", ["asset", "state"])
FEATURES_EMITTED: Final = Counter(
    "ce_features_emitted_total", "Feature vectors published", ["symbol"]
)
EXITBRAIN_LOCAL_MODE: Final = Gauge(
    "ce_exitbrain_local_mode", "1 while ExitBrain is in local (neutral) mode", ["symbol"]
)
EXITBRAIN_ALERTS: Final = Counter(
    "ce_exitbrain_alerts_total", "ExitBrain alerts published", ["type"]
)
# --- engine: spectral-residual anomaly monitor (ml/anomaly_service.py)
ANOMALIES: Final = Counter(
    "ce_anomalies_total", "exchange.anomalies entries published", ["series", "kind"]
)
ANOMALY_SAMPLES: Final = Counter(
    "ce_anomaly_samples_total", "Snapshots sampled by the anomaly monitor", ["symbol"]
)
ANOMALY_REJECTED: Final = Counter(
    "ce_anomaly_rejected_total", "Non-finite or negative values the anomaly monitor left out"
)

# --- engine: ML signals (ml/signal_service.py)
ML_SIGNALS: Final = Counter(
    "ce_ml_signals_total", "exchange.signals entries published", ["symbol", "decision"]
)

# --- HTTP API
API_REQUESTS_REFUSED: Final = Counter(
    "ce_api_requests_refused_total", "HTTP requests refused before reaching a route", ["reason"]
)

# --- collector: instrument listings and followed symbols
LISTING_FAILURES: Final = Counter(
    "ce_listing_failures_total",
    "Instrument listings not taken (fetch_failed, implausible, bad_cache); the last good stays",
    ["exchange", "reason"],
)
LISTING_INSTRUMENTS: Final = Gauge(
    "ce_listing_instruments", "Instruments in the listing each venue uses", ["exchange"]
)
LISTING_CHANGES: Final = Counter(
    "ce_listing_changes_total", "Instruments added or delisted by a refresh", ["exchange", "change"]
)
FOLLOWED_SYMBOLS: Final = Gauge("ce_followed_symbols", "Symbols the collector follows")

# --- L2 order books (collector)
BOOK_RESYNCS: Final = Counter(
    "ce_book_resyncs_total", "Order books thrown away and rebuilt, by cause", ["exchange", "reason"]
)
BOOK_DROPPED: Final = Counter(
    "ce_book_frames_dropped_total",
    "Book frames dropped on purpose (stale, duplicate, before a snapshot)",
    ["exchange", "cause"],
)
BOOK_UPDATES: Final = Counter(
    "ce_book_updates_total", "Book updates applied (snapshots included)", ["exchange"]
)
BOOK_SNAPSHOTS: Final = Counter(
    "ce_book_snapshots_total", "REST depth snapshot requests, by outcome", ["exchange", "outcome"]
)
BOOKS_LIVE: Final = Gauge("ce_books_live", "Order books synced and published", ["exchange"])

# --- web dashboard (engine API)
DASHBOARD_CLIENTS: Final = Gauge("ce_dashboard_clients", "Live-stream (SSE) clients connected")
DASHBOARD_EVENTS: Final = Counter(
    "ce_dashboard_events_total", "Events sent to live-stream clients, by kind", ["kind"]
)
DASHBOARD_DROPPED: Final = Counter(
    "ce_dashboard_dropped_total", "Events a slow live-stream client's full queue dropped"
)
DASHBOARD_BAD_ENTRIES: Final = Counter(
    "ce_dashboard_bad_entries_total", "Stream entries the live stream could not decode", ["stream"]
)

# --- Redis server (sampled by the engine at every /metrics scrape, from INFO memory)
REDIS_USED_MEMORY: Final = Gauge("ce_redis_used_memory_bytes", "Redis used_memory (INFO memory)")
REDIS_MAXMEMORY: Final = Gauge(
    "ce_redis_maxmemory_bytes", "Redis maxmemory (INFO memory); 0 = no limit"
)

# --- alert delivery to webhooks (notifier), per configured target name
NOTIFY_SENT: Final = Counter("ce_notify_sent_total", "Alerts delivered (2xx answer)", ["target"])
NOTIFY_FAILED: Final = Counter(
    "ce_notify_failed_total", "Delivery attempts that failed, by cause", ["target", "cause"]
)
NOTIFY_RETRIED: Final = Counter(
    "ce_notify_retried_total", "Delivery attempts repeated after a failure", ["target"]
)
NOTIFY_DROPPED: Final = Counter(
    "ce_notify_dropped_total",
    "Alerts given up on (refused by the receiver, or unreadable entries)",
    ["target", "reason"],
)
NOTIFY_FILTERED: Final = Counter(
    "ce_notify_filtered_total", "Alerts a target's filters left out", ["target"]
)

# --- collector: options summaries (data_collector/options_poller.py)
OPTIONS_POLLS: Final = Counter(
    "ce_options_polls_total",
    "Option-chain summary polls by outcome (ok, empty, failed)",
    ["exchange", "currency", "outcome"],
)
OPTIONS_ROWS_SKIPPED: Final = Counter(
    "ce_options_rows_skipped_total",
    "Option-chain rows left out of a summary (malformed, expired, ...)",
    ["exchange", "reason"],
)

# --- CME settlements (data_collector/exchanges/cme/service.py)
CME_DAYS: Final = Counter(
    "ce_cme_days_total",
    "CME trade dates read by outcome (ok, holiday: no settlement, failed)",
    ["source", "outcome"],
)
CME_ROWS_REJECTED: Final = Counter(
    "ce_cme_rows_rejected_total",
    "CME settlement rows dropped (malformed, unknown_contract, expired, other_product)",
    ["reason"],
)
CME_ROLLS: Final = Counter("ce_cme_rolls_total", "CME front-month rolls raised", ["product"])
