"""Prometheus metric definitions for every service (one process-wide registry).

Names start with `ce_`. Labels are bounded sets (venue ids, record types, stream names,
symbols from settings, reason codes), never free text.
"""

from __future__ import annotations

from typing import Final

from prometheus_client import Counter, Gauge, Histogram

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
FEATURES_EMITTED: Final = Counter(
    "ce_features_emitted_total", "Feature vectors published", ["symbol"]
)
EXITBRAIN_LOCAL_MODE: Final = Gauge(
    "ce_exitbrain_local_mode", "1 while ExitBrain is in local (neutral) mode", ["symbol"]
)
EXITBRAIN_ALERTS: Final = Counter(
    "ce_exitbrain_alerts_total", "ExitBrain alerts published", ["type"]
)

# --- HTTP API
API_REQUESTS_REFUSED: Final = Counter(
    "ce_api_requests_refused_total", "HTTP requests refused before reaching a route", ["reason"]
)
