"""Prometheus metrics of large trades, market alerts and the RabbitMQ bridge (issue 16), in
the process-wide registry beside `metrics`. Labels are bounded sets (venue ids, alert types,
record kinds)."""

from __future__ import annotations

from typing import Final

from prometheus_client import Counter, Gauge

LARGE_TRADES: Final = Counter(
    "ce_large_trades_total",
    "Trades and liquidations at or above the large-trade thresholds, published to "
    "exchange.large_trades",
    ["exchange", "kind"],  # kind: trade | liquidation
)
MARKET_ALERTS: Final = Counter(
    "ce_market_alerts_total", "Alerts the large-trade watcher published to `alerts`", ["type"]
)
LARGE_TRADE_UNPRICED: Final = Counter(
    "ce_large_trade_unpriced_total",
    "Trades not valued in USD: no USD price of their quote yet",
    ["exchange"],
)
LARGE_TRADE_INVALID: Final = Counter(
    "ce_large_trade_invalid_total", "Trades whose USD value is not finite (absurd price or size)"
)
RABBITMQ_PUBLISHED: Final = Counter(
    "ce_rabbitmq_published_total", "Messages the RabbitMQ broker confirmed"
)
RABBITMQ_DROPPED: Final = Counter(
    "ce_rabbitmq_dropped_total", "Messages dropped from a full buffer while the broker was down"
)
RABBITMQ_BUFFERED: Final = Gauge(
    "ce_rabbitmq_buffered", "Messages waiting for the broker's confirmation"
)
RABBITMQ_CONNECTED: Final = Gauge("ce_rabbitmq_connected", "1 while connected to RabbitMQ")
