"""The `exchange.signals` stream: the current model's probability for each feature vector
(issue 17). `probability` is the primary LightGBM model's; `meta_probability` and
`meta_decision` are present when the model has a meta-labeler and the primary is positive
(the meta model judges positives only); `burst_confirmed` and
`burst_score` come from the spectral-residual BurstConfirmationFilter on the symbol's price
and volume. `decision` is the gated signal: probability >= threshold, confirmed by the meta
model (when present) and by a burst (seed 003: signals are taken on confirmed bursts only).

Pure: imports only the common schema helpers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from microservices.common.errors import SchemaError
from microservices.common.schema_fields import FieldSpec, decode_fields, encode_fields
from microservices.common.schemas import Fields, Schema

SIGNAL_FIELDS: Final = (
    FieldSpec("symbol", "symbol", "symbol"),  # canonical symbol: BTCUSDT
    FieldSpec("timestamp", "ts_ms", "ms"),  # the feature vector's time
    FieldSpec("probability", "probability", "float"),  # primary model, P(label 1)
    FieldSpec("threshold", "threshold", "float"),  # ML_THRESHOLD
    FieldSpec("model_version", "model_version", "str"),  # registry version, e.g. v0003
    FieldSpec("meta_probability", "meta_probability", "float", optional=True),
    FieldSpec("meta_decision", "meta_decision", "bool", optional=True),
    FieldSpec("burst_confirmed", "burst_confirmed", "bool"),
    FieldSpec("burst_score", "burst_score", "float"),
    FieldSpec("decision", "decision", "bool"),  # every gate passed: act on it
)


@dataclass(slots=True, kw_only=True)
class SignalRecord:
    """One `exchange.signals` entry (field comments: `SIGNAL_FIELDS`)."""

    symbol: str
    ts_ms: int
    probability: float
    threshold: float
    model_version: str
    burst_confirmed: bool
    burst_score: float
    decision: bool
    meta_probability: float | None = None
    meta_decision: bool | None = None


def encode_signal(record: SignalRecord) -> Fields:
    return encode_fields(record, SIGNAL_FIELDS)


def decode_signal(entry: dict[str, str]) -> SignalRecord:
    record = SignalRecord(**decode_fields(entry, SIGNAL_FIELDS))
    if not 0.0 <= record.probability <= 1.0:
        raise SchemaError(f"field 'probability': must be in [0, 1], got {record.probability}")
    if (record.meta_probability is None) != (record.meta_decision is None):
        raise SchemaError("meta_probability and meta_decision come together")
    if not record.model_version:
        raise SchemaError("field 'model_version' is empty")
    return record


SIGNALS: Final[Schema[SignalRecord]] = Schema(encode_signal, decode_signal)
