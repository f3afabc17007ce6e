"""One schema per stream: records -> flat Redis fields and back, with validation on decode.

This module holds the `Schema` type and the schema of `exchange.raw` (the hot path, with fast
encoders in `raw_wire` and a fast decoder in `raw_decode`); `derived_schemas` holds those of
the streams the engine writes (normalized, features, ExitBrain status and alerts).

Encoding is cheap (it runs per tick) and produces `dict[str, str]` that `redis-cli XREVRANGE`
shows readably. Decoding accepts bytes or str keys/values (raw redis replies) and raises
`SchemaError` naming the field on anything missing, malformed, non-finite or impossible.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final, Generic, TypeVar

from microservices.common.errors import SchemaError
from microservices.common.raw_decode import FALLBACK_ERRORS, decode_fast
from microservices.common.raw_wire import FAST_ENCODERS, FAST_PACKERS, Packed
from microservices.common.records import (
    Funding,
    Kline,
    Liquidation,
    OpenInterest,
    OptionsSummary,
    RawRecord,
    Settlement,
    Ticker,
    Trade,
    VolatilityIndex,
)
from microservices.common.resp import pack_fields
from microservices.common.schema_fields import (
    FieldSpec,
    decode_fields,
    encode_value,
    normalize_entry,
    require,
)

R = TypeVar("R")
Fields = dict[str, str]
RawEntry = Mapping[Any, Any]


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
    # the followed symbol, e.g. BTCUSDT, and the instrument's real quote, e.g. USD; optional
    # on decode for entries of collectors before them: group = symbol, quote "" (unknown)
    FieldSpec("group", "group", "symbol", optional=True),
    FieldSpec("quote", "quote", "asset", optional=True),
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
    "volatility_index": (
        VolatilityIndex,
        (
            FieldSpec("currency", "currency", "asset"),
            FieldSpec("volatility", "volatility", "pos"),
        ),
    ),
    "options_summary": (
        OptionsSummary,
        (
            FieldSpec("currency", "currency", "asset"),
            FieldSpec("instruments", "instruments", "count"),
            FieldSpec("open_interest", "open_interest", "qty"),
            FieldSpec("open_interest_usd", "open_interest_usd", "qty"),
            FieldSpec("volume_24h", "volume_24h", "qty"),
            FieldSpec("volume_24h_usd", "volume_24h_usd", "qty"),
            FieldSpec("index_price", "index_price", "price"),
            FieldSpec("put_call_oi_ratio", "put_call_oi_ratio", "qty", optional=True),
            FieldSpec("put_call_volume_ratio", "put_call_volume_ratio", "qty", optional=True),
        ),
    ),
    "settlement": (  # delayed futures settlements (CME); never fast-path data
        Settlement,
        (
            FieldSpec("product", "product", "asset"),
            FieldSpec("trade_date", "trade_date", "str"),
            FieldSpec("settlement", "settlement", "price"),
            FieldSpec("volume", "volume", "qty"),
            FieldSpec("open_interest", "open_interest", "qty"),
            FieldSpec("contract_size", "contract_size", "pos"),
            FieldSpec("expiry", "expiry_ms", "ms"),
            FieldSpec("delayed", "delayed", "bool"),
            FieldSpec("front", "front", "bool"),
            FieldSpec("reference_price", "reference_price", "price", optional=True),
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
    if kwargs["group"] is None:  # a collector before `group` wrote the followed symbol
        kwargs["group"] = kwargs["symbol"]
    if kwargs["quote"] is None:
        kwargs["quote"] = ""
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
