"""One schema per stream: records -> flat Redis fields and back, with validation on decode.

Encoding is cheap (it runs per tick) and produces `dict[str, str]` that `redis-cli XREVRANGE`
shows readably. Decoding accepts bytes or str keys/values (raw redis replies) and raises
`SchemaError` naming the field on anything missing, malformed, non-finite or impossible.
Imports nothing but records, clock and errors.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any, Final, Generic, TypeVar

from microservices.common.clock import iso_utc, ms_to_seconds_str
from microservices.common.errors import SchemaError
from microservices.common.raw_decode import FALLBACK_ERRORS, decode_fast
from microservices.common.raw_wire import FAST_ENCODERS, FAST_PACKERS, Packed
from microservices.common.records import (
    ALERT_TYPES,
    ExitAlert,
    ExitStatus,
    FeatureVector,
    Funding,
    Kline,
    Liquidation,
    NormalizedSnapshot,
    OpenInterest,
    RawRecord,
    Ticker,
    Trade,
)
from microservices.common.resp import pack_fields
from microservices.common.schema_fields import (
    FieldSpec,
    decode_fields,
    encode_derived,
    encode_value,
    normalize_entry,
    parse_bool,
    parse_float,
    parse_int,
    parse_iso,
    parse_ms,
    require,
)

R = TypeVar("R")
Fields = dict[str, str]
RawEntry = Mapping[Any, Any]

SYMBOL_RE: Final = re.compile(r"^[A-Z0-9]{2,30}$")
VENUE_RE: Final = re.compile(r"^[a-z][a-z0-9_]{1,30}$")


class Schema(Generic[R]):
    """Encoder/decoder pair for one stream's records.

    `pack` is the producer's path: the same fields as `encode`, as RESP text (see `resp`);
    a schema may give a faster one than packing the `encode` dict.
    """

    def __init__(
        self,
        encode: Callable[[R], Fields],
        decode: Callable[[dict[str, str]], R],
        pack: Callable[[R], Packed] | None = None,
        decode_fast: Callable[[RawEntry], R | None] | None = None,
    ):
        self._encode = encode
        self._decode = decode
        self._pack = pack
        # returns the record only when `decode` would return the same one, else None/raises
        self._decode_fast = decode_fast

    def encode(self, record: R) -> Fields:
        return self._encode(record)

    def pack(self, record: R) -> Packed:
        """(RESP argument count, RESP text) of the record's fields, for the batch XADD."""
        if self._pack is not None:
            return self._pack(record)
        return pack_fields(self._encode(record))

    def decode(self, entry: RawEntry) -> R:
        """Decode raw stream fields (bytes or str) into a record; raises SchemaError."""
        if self._decode_fast is not None:
            try:
                record = self._decode_fast(entry)
            except FALLBACK_ERRORS:
                record = None  # the reference decoder below decides (and names the error)
            if record is not None:
                return record
        try:
            return self._decode(normalize_entry(entry))
        except SchemaError:
            raise
        except (ValueError, TypeError, KeyError, UnicodeDecodeError) as exc:
            raise SchemaError(f"malformed entry: {exc}") from exc


# --------------------------------------------------------------------------- exchange.raw

HEADER: Final = (
    FieldSpec("exchange", "exchange", "venue"),
    FieldSpec("market", "market", "market"),
    FieldSpec("symbol", "symbol", "symbol"),
    FieldSpec("venue_symbol", "venue_symbol", "str"),
    FieldSpec("timestamp", "ts_ms", "ms"),
    FieldSpec("received_at", "recv_ms", "ms"),
)

RAW_BODIES: Final[dict[str, tuple[type[RawRecord], tuple[FieldSpec, ...]]]] = {
    "kline": (
        Kline,
        (
            FieldSpec("open_time", "open_time_ms", "ms"),
            FieldSpec("interval", "interval", "str"),
            FieldSpec("open", "open", "price"),
            FieldSpec("high", "high", "price"),
            FieldSpec("low", "low", "price"),
            FieldSpec("close", "close", "price"),
            FieldSpec("volume", "volume", "qty"),
            FieldSpec("closed", "closed", "bool"),
        ),
    ),
    "trade": (
        Trade,
        (
            FieldSpec("price", "price", "price"),
            FieldSpec("size", "size", "qty"),
            FieldSpec("side", "side", "side"),
            FieldSpec("trade_id", "trade_id", "str"),
        ),
    ),
    "ticker": (
        Ticker,
        (
            FieldSpec("bid", "bid", "price"),
            FieldSpec("bid_size", "bid_size", "qty"),
            FieldSpec("ask", "ask", "price"),
            FieldSpec("ask_size", "ask_size", "qty"),
            FieldSpec("last", "last", "price", optional=True),
        ),
    ),
    "funding": (
        Funding,
        (
            FieldSpec("funding_rate", "funding_rate", "rate"),
            FieldSpec("funding_interval_h", "funding_interval_h", "pos"),
            FieldSpec("next_funding_time", "next_funding_time_ms", "ms", optional=True),
            FieldSpec("mark_price", "mark_price", "price", optional=True),
            FieldSpec("index_price", "index_price", "price", optional=True),
        ),
    ),
    "open_interest": (
        OpenInterest,
        (
            FieldSpec("open_interest", "open_interest", "qty"),
            FieldSpec("open_interest_usd", "open_interest_usd", "qty", optional=True),
        ),
    ),
    "liquidation": (
        Liquidation,
        (
            FieldSpec("price", "price", "price"),
            FieldSpec("size", "size", "qty"),
            FieldSpec("side", "side", "side"),
        ),
    ),
}


def encode_raw(record: RawRecord) -> Fields:
    fast = FAST_ENCODERS.get(record.type)
    return encode_raw_generic(record) if fast is None else fast(record)


def pack_raw(record: RawRecord) -> Packed:
    fast = FAST_PACKERS.get(record.type)
    return pack_fields(encode_raw_generic(record)) if fast is None else fast(record)


def encode_raw_generic(record: RawRecord) -> Fields:
    """The reference encoding, driven by HEADER and RAW_BODIES (raw_wire must match it)."""
    out: Fields = {"type": record.type}
    for spec in HEADER:
        out[spec.wire] = encode_value(spec, getattr(record, spec.attr))
    for spec in RAW_BODIES[record.type][1]:
        value = getattr(record, spec.attr)
        if value is not None:
            out[spec.wire] = encode_value(spec, value)
    return out


def decode_raw(entry: dict[str, str]) -> RawRecord:
    kind = require(entry, "type")
    if kind not in RAW_BODIES:
        raise SchemaError(f"field 'type': unknown record type {kind!r}")
    cls, body = RAW_BODIES[kind]
    kwargs = decode_fields(entry, HEADER)
    kwargs.update(decode_fields(entry, body))
    record = cls(**kwargs)
    check_raw(record)
    return record


def check_raw(record: RawRecord) -> None:
    """Cross-field checks that a single field's type cannot express."""
    if isinstance(record, Kline):
        if record.high < record.low:
            raise SchemaError(f"kline high {record.high} below low {record.low}")
        if not (
            record.low <= record.open <= record.high and record.low <= record.close <= record.high
        ):
            raise SchemaError("kline open/close outside [low, high]")
    elif isinstance(record, Ticker) and record.bid > record.ask:
        raise SchemaError(f"ticker bid {record.bid} above ask {record.ask}")


RAW: Final[Schema[RawRecord]] = Schema(encode_raw, decode_raw, pack_raw, decode_fast)


# ---------------------------------------------------------------------- exchange.normalized

VENUE_FIELDS: Final = (
    "bid",
    "ask",
    "bid_size",
    "ask_size",
    "volume",
    "funding_8h",
    "open_interest_usd",
)
NORMALIZED_FLOATS: Final = (
    "avg_price",
    "median_price",
    "price_divergence",
    "exchange_divergence",
    "funding_delta",
    "avg_funding_rate",
    "volatility_factor",
    "arb_bps",
)


def encode_normalized(snap: NormalizedSnapshot) -> Fields:
    out: Fields = {"symbol": snap.symbol, "timestamp": ms_to_seconds_str(snap.ts_ms)}
    for name in NORMALIZED_FLOATS:
        out[name] = encode_derived(getattr(snap, name))
    out["num_exchanges"] = str(snap.num_exchanges)
    out["exchanges"] = ",".join(snap.venues)
    for venue, quote in snap.venues.items():
        out[f"{venue}_price"] = encode_derived(quote.price)
        for name in VENUE_FIELDS:
            value = getattr(quote, name)
            if value is not None:
                out[f"{venue}_{name}"] = encode_derived(value)
        out[f"{venue}_age_ms"] = str(quote.age_ms)
    out["best_bid"] = "" if snap.best_bid is None else encode_derived(snap.best_bid)
    out["best_bid_exchange"] = snap.best_bid_exchange or ""
    out["best_ask"] = "" if snap.best_ask is None else encode_derived(snap.best_ask)
    out["best_ask_exchange"] = snap.best_ask_exchange or ""
    out["excluded"] = ",".join(f"{venue}:{why}" for venue, why in snap.excluded.items())
    return out


def _optional_float(entry: dict[str, str], name: str) -> float | None:
    text = entry.get(name, "")
    return None if text == "" else parse_float(name, text, "float")


def decode_normalized(entry: dict[str, str]) -> NormalizedSnapshot:
    from microservices.common.records import VenueQuote

    symbol = require(entry, "symbol")
    if not SYMBOL_RE.match(symbol):
        raise SchemaError(f"field 'symbol': not a canonical symbol: {symbol!r}")
    floats = {name: parse_float(name, require(entry, name), "float") for name in NORMALIZED_FLOATS}
    venues: dict[str, VenueQuote] = {}
    listed = require(entry, "exchanges", allow_empty=True)
    for venue in filter(None, listed.split(",")):
        extras = {name: _optional_float(entry, f"{venue}_{name}") for name in VENUE_FIELDS}
        venues[venue] = VenueQuote(
            price=parse_float(f"{venue}_price", require(entry, f"{venue}_price"), "price"),
            age_ms=parse_int(f"{venue}_age_ms", entry.get(f"{venue}_age_ms", "0")),
            **extras,
        )
    excluded = dict(
        item.split(":", 1) for item in filter(None, entry.get("excluded", "").split(","))
    )
    return NormalizedSnapshot(
        symbol=symbol,
        ts_ms=parse_ms("timestamp", require(entry, "timestamp")),
        num_exchanges=parse_int("num_exchanges", require(entry, "num_exchanges")),
        venues=venues,
        best_bid=_optional_float(entry, "best_bid"),
        best_bid_exchange=entry.get("best_bid_exchange") or None,
        best_ask=_optional_float(entry, "best_ask"),
        best_ask_exchange=entry.get("best_ask_exchange") or None,
        excluded=excluded,
        **floats,
    )


NORMALIZED: Final[Schema[NormalizedSnapshot]] = Schema(encode_normalized, decode_normalized)


# ------------------------------------------------------------------------ exchange.features

SEED_FEATURES: Final = (
    "avg_price",
    "price_divergence",
    "funding_delta",
    "price_momentum",
    "volatility_spread",
    "binance_bybit_ratio",
    "hour",
    "day_of_week",
    "all_exchanges_active",
    "num_exchanges",
)
CROSS_FEATURES: Final = (
    "price_dispersion",
    "max_price_spread_bps",
    "price_entropy",
    "best_arb_opportunity_bps",
    "arb_opportunity_count",
    "avg_arb_profit_bps",
    "vw_price_dispersion",
    "volume_concentration",
    "price_sync_correlation",
    "lead_lag_coefficient",
    "depth_imbalance_ratio",
    "consolidated_spread_bps",
    "cross_exchange_vol_ratio",
    "vol_dispersion",
)
CONTEXT_FEATURES: Final = ("exchange_divergence", "volatility_factor", "avg_funding_rate")
FEATURE_NAMES: Final = SEED_FEATURES + CROSS_FEATURES + CONTEXT_FEATURES


def encode_features(vector: FeatureVector) -> Fields:
    out: Fields = {"symbol": vector.symbol, "timestamp": ms_to_seconds_str(vector.ts_ms)}
    for name in FEATURE_NAMES:
        out[name] = encode_derived(vector.values[name])
    return out


def decode_features(entry: dict[str, str]) -> FeatureVector:
    values = {name: parse_float(name, require(entry, name), "float") for name in FEATURE_NAMES}
    return FeatureVector(
        symbol=require(entry, "symbol"),
        ts_ms=parse_ms("timestamp", require(entry, "timestamp")),
        values=values,
    )


FEATURES: Final[Schema[FeatureVector]] = Schema(encode_features, decode_features)


# ------------------------------------------------------------------------ exitbrain.status

STATUS_FLOATS: Final = (
    "data_age_seconds",
    "volatility_factor",
    "exchange_divergence",
    "funding_delta",
    "atr_multiplier",
    "tp_multiplier",
    "sl_multiplier",
)


def encode_status(status: ExitStatus) -> Fields:
    out: Fields = {
        "timestamp": iso_utc(status.ts_ms),
        "symbol": status.symbol,
        "cross_exchange_active": "true" if status.cross_exchange_active else "false",
    }
    for name in STATUS_FLOATS:
        out[name] = encode_derived(getattr(status, name))
    out["use_trailing"] = "true" if status.use_trailing else "false"
    out["reasoning"] = status.reasoning
    out["total_reads"] = str(status.total_reads)
    out["fail_count"] = str(status.fail_count)
    return out


def decode_status(entry: dict[str, str]) -> ExitStatus:
    floats = {name: parse_float(name, require(entry, name), "float") for name in STATUS_FLOATS}
    return ExitStatus(
        symbol=require(entry, "symbol"),
        ts_ms=parse_iso("timestamp", require(entry, "timestamp")),
        cross_exchange_active=parse_bool(
            "cross_exchange_active", require(entry, "cross_exchange_active")
        ),
        use_trailing=parse_bool("use_trailing", require(entry, "use_trailing")),
        reasoning=require(entry, "reasoning", allow_empty=True),
        total_reads=parse_int("total_reads", require(entry, "total_reads")),
        fail_count=parse_int("fail_count", require(entry, "fail_count")),
        **floats,
    )


STATUS: Final[Schema[ExitStatus]] = Schema(encode_status, decode_status)


# ------------------------------------------------------------------------ exitbrain.alerts


def encode_alert(alert: ExitAlert) -> Fields:
    return {
        "timestamp": iso_utc(alert.ts_ms),
        "symbol": alert.symbol,
        "type": alert.type,
        "reason": alert.reason,
        "fail_count": str(alert.fail_count),
    }


def decode_alert(entry: dict[str, str]) -> ExitAlert:
    kind = require(entry, "type")
    if kind not in ALERT_TYPES:
        raise SchemaError(f"field 'type': unknown alert type {kind!r}")
    return ExitAlert(
        symbol=require(entry, "symbol"),
        ts_ms=parse_iso("timestamp", require(entry, "timestamp")),
        type=kind,
        reason=require(entry, "reason", allow_empty=True),
        fail_count=parse_int("fail_count", require(entry, "fail_count")),
    )


ALERTS: Final[Schema[ExitAlert]] = Schema(encode_alert, decode_alert)


def is_finite_positive(value: float) -> bool:
    """True for a usable price: finite and strictly positive."""
    return math.isfinite(value) and value > 0.0
