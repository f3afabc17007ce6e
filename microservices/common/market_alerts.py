"""The general `alerts` stream (SPEC section 3): every alert that is not ExitBrain's.

One entry: `timestamp` (ISO 8601 Z), `source` (the service: aggregator, ...), `type` (`DEPEG`,
later `LARGE_TRADE`, `LIQUIDATION_CLUSTER`, `FUNDING_SPIKE`, `OI_CHANGE`, `CONTRACT_ROLL`,
`ANOMALY_BURST`, `NEW_LISTING`, `DELISTING`, `RENAMED`, `STORAGE_DISK_FULL` from the
storage writer), `severity` (`info`, `warning`, `critical`),
`symbol` and `venue` (empty when the alert is not about one), `reason` (one line for people)
and `data` (a JSON object with the numbers behind it). ExitBrain keeps `exitbrain.alerts`
(seed 001).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final, Literal

import orjson

from microservices.common.clock import iso_utc
from microservices.common.errors import SchemaError
from microservices.common.schema_fields import parse_iso, require
from microservices.common.schemas import Fields, Schema

MarketAlertType = Literal[
    "DEPEG", "LARGE_TRADE", "LIQUIDATION_CLUSTER", "FUNDING_SPIKE", "OI_CHANGE",
    "CONTRACT_ROLL", "ANOMALY_BURST", "NEW_LISTING", "DELISTING", "RENAMED",
    "STORAGE_DISK_FULL",
]  # fmt: skip
MARKET_ALERT_TYPES: Final[frozenset[str]] = frozenset(MarketAlertType.__args__)  # type: ignore[attr-defined]
Severity = Literal["info", "warning", "critical"]
SEVERITIES: Final = frozenset({"info", "warning", "critical"})


@dataclass(slots=True, kw_only=True)
class MarketAlert:
    """One `alerts` entry."""

    ts_ms: int
    source: str  # the service that raised it
    type: MarketAlertType
    severity: Severity
    reason: str
    symbol: str = ""
    venue: str = ""
    data: dict[str, Any] = field(default_factory=dict)


def encode_market_alert(alert: MarketAlert) -> Fields:
    return {
        "timestamp": iso_utc(alert.ts_ms),
        "source": alert.source,
        "type": alert.type,
        "severity": alert.severity,
        "symbol": alert.symbol,
        "venue": alert.venue,
        "reason": alert.reason,
        "data": orjson.dumps(alert.data, option=orjson.OPT_SORT_KEYS).decode(),
    }


def decode_market_alert(entry: dict[str, str]) -> MarketAlert:
    kind, severity = require(entry, "type"), require(entry, "severity")
    if kind not in MARKET_ALERT_TYPES:
        raise SchemaError(f"field 'type': unknown alert type {kind!r}")
    if severity not in SEVERITIES:
        raise SchemaError(f"field 'severity': unknown severity {severity!r}")
    try:
        data = orjson.loads(require(entry, "data"))
    except orjson.JSONDecodeError:
        raise SchemaError("field 'data': not JSON") from None
    if not isinstance(data, dict):
        raise SchemaError("field 'data': not a JSON object")
    return MarketAlert(
        ts_ms=parse_iso("timestamp", require(entry, "timestamp")),
        source=require(entry, "source"),
        type=kind,  # type: ignore[arg-type]
        severity=severity,  # type: ignore[arg-type]
        symbol=require(entry, "symbol", allow_empty=True),
        venue=require(entry, "venue", allow_empty=True),
        reason=require(entry, "reason", allow_empty=True),
        data=data,
    )


MARKET_ALERTS: Final[Schema[MarketAlert]] = Schema(encode_market_alert, decode_market_alert)
