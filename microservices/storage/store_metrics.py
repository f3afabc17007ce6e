"""Prometheus metrics of the PostgreSQL writer (issue 16), in the process-wide registry beside
`metrics`. Labels are bounded sets (table names, stream names, states)."""

from __future__ import annotations

from typing import Final

from prometheus_client import Counter, Gauge

ROWS: Final = Counter(
    "ce_store_rows_total", "Rows new to their table (replays insert nothing)", ["table"]
)
ENTRIES: Final = Counter(
    "ce_store_entries_total", "Stream entries acknowledged after their rows committed", ["stream"]
)
REJECTED: Final = Counter(
    "ce_store_rejected_total",
    "Rows refused (oversized or out-of-range values), copied to the stream's dead letter",
    ["stream"],
)
LOST: Final = Counter(
    "ce_store_lost_total", "Entries trimmed from a stream before the writer stored them", ["stream"]
)
UP: Final = Gauge("ce_store_up", "1 while the writer commits (0: database down or disk full)")
