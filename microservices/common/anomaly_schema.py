"""The `exchange.anomalies` stream: spectral-residual anomalies found online (issue 17).

One entry per anomalous sample (`kind` `point`) and one per burst of anomalies (`kind`
`burst`, also raised as an ANOMALY_BURST alert on `alerts`). `series` names what was
watched: `return` (log return of `avg_price` between samples), `exchange_divergence` (both
per symbol) or `volume` (one venue's rolling traded volume, `venue` set). Point-only and
burst-only fields are absent on the other kind.

Pure: imports only the common schema helpers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from microservices.common.errors import SchemaError
from microservices.common.schema_fields import FieldSpec, decode_fields, encode_fields
from microservices.common.schemas import Fields, Schema

AnomalySeries = Literal["return", "volume", "exchange_divergence"]
ANOMALY_SERIES: Final[frozenset[str]] = frozenset({"return", "volume", "exchange_divergence"})
ANOMALY_KINDS: Final[frozenset[str]] = frozenset({"point", "burst"})

ANOMALY_FIELDS: Final = (
    FieldSpec("symbol", "symbol", "symbol"),  # canonical symbol: BTCUSDT
    FieldSpec("series", "series", "str"),  # return, volume or exchange_divergence
    FieldSpec("venue", "venue", "venue", optional=True),  # volume only: the venue id
    FieldSpec("kind", "kind", "str"),  # point or burst
    FieldSpec("timestamp", "ts_ms", "ms"),  # the sample's time (burst: its last anomaly)
    FieldSpec("value", "value", "float"),  # the series value at `timestamp`
    FieldSpec("score", "score", "float"),  # (saliency - local mean) / local mean; burst: max
    FieldSpec("threshold", "threshold", "pos"),  # anomalous when score > threshold
    FieldSpec("window", "window", "count"),  # samples the detector saw (history)
    FieldSpec("saliency", "saliency", "qty", optional=True),  # point: the saliency S(x)
    FieldSpec("start", "start_ms", "ms", optional=True),  # burst: time of its first anomaly
    FieldSpec("points", "points", "count", optional=True),  # burst: its anomalous samples
    FieldSpec("mean_score", "mean_score", "float", optional=True),  # burst: mean score
)


@dataclass(slots=True, kw_only=True)
class AnomalyRecord:
    """One `exchange.anomalies` entry (field comments: `ANOMALY_FIELDS`)."""

    symbol: str
    series: str
    kind: str
    ts_ms: int
    value: float
    score: float
    threshold: float
    window: int
    venue: str | None = None
    saliency: float | None = None
    start_ms: int | None = None
    points: int | None = None
    mean_score: float | None = None


def encode_anomaly(record: AnomalyRecord) -> Fields:
    return encode_fields(record, ANOMALY_FIELDS)


def decode_anomaly(entry: dict[str, str]) -> AnomalyRecord:
    record = AnomalyRecord(**decode_fields(entry, ANOMALY_FIELDS))
    if record.series not in ANOMALY_SERIES:
        raise SchemaError(f"field 'series': unknown series {record.series[:40]!r}")
    if record.kind not in ANOMALY_KINDS:
        raise SchemaError(f"field 'kind': must be point or burst, got {record.kind[:20]!r}")
    if (record.series == "volume") != (record.venue is not None):
        raise SchemaError("field 'venue': set for volume series only")
    if record.kind == "burst" and (record.start_ms is None or record.points is None):
        raise SchemaError("a burst needs 'start' and 'points'")
    return record


ANOMALIES: Final[Schema[AnomalyRecord]] = Schema(encode_anomaly, decode_anomaly)
