"""What the writer inserts: each table's columns (mirroring migrations/0001) and the checks
that keep a bad value from failing a whole batch. Pure: no I/O.

A row is a tuple in `Table.columns` order. `reject_reason` returns why a row cannot be stored
as it is (a string longer than its VARCHAR, a number outside its DECIMAL's range, a non-finite
float), or None. Such rows are not clipped: the writer copies their entry to the stream's dead
letter with the reason and counts them (`store_rejected_total`), so a venue's garbage never
turns into plausible-looking history.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from microservices.common.derived_schemas import FEATURE_NAMES

Kind = Literal["text", "decimal", "float", "int", "bool", "ts", "json"]
MAX_JSON_CHARS: Final = 1_000_000  # a metadata or book document larger than this is rejected
MAX_TEXT_CHARS: Final = 10_000  # TEXT columns (reasons): longer is rejected


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    kind: Kind
    size: int = 0  # VARCHAR length, or DECIMAL precision
    scale: int = 0  # DECIMAL scale
    nullable: bool = False

    def reject(self, value: Any) -> str | None:
        """Why `value` does not fit this column, or None."""
        if value is None:
            return None if self.nullable else f"column '{self.name}': missing"
        if self.kind == "text":
            limit = self.size or MAX_TEXT_CHARS
            if len(value) > limit:
                return f"column '{self.name}': {len(value)} characters, at most {limit}"
        elif self.kind == "json" and len(value) > MAX_JSON_CHARS:
            return f"column '{self.name}': {len(value)} characters of JSON"
        elif self.kind == "float" and not math.isfinite(value):
            return f"column '{self.name}': not finite"
        elif self.kind == "decimal":
            return self._reject_decimal(value)
        elif self.kind == "int" and not -(2**63) <= value < 2**63:
            return f"column '{self.name}': outside BIGINT"
        return None

    def _reject_decimal(self, value: float) -> str | None:
        if not math.isfinite(value):
            return f"column '{self.name}': not finite"
        bound = 10.0 ** (self.size - self.scale)  # DECIMAL(p, s) holds |x| < 10^(p - s)
        # rounded to the column's scale first, as PostgreSQL does
        if abs(round(value, self.scale)) >= bound:
            return f"column '{self.name}': {value!r} exceeds DECIMAL({self.size},{self.scale})"
        return None

    def fits(self) -> Callable[[Any], bool]:
        """A fast test that accepts what `reject` accepts (the writer's per-row path; a value
        it refuses goes through `reject` for the reason)."""
        nullable = self.nullable
        if self.kind == "text" or self.kind == "json":
            limit = self.size or (MAX_TEXT_CHARS if self.kind == "text" else MAX_JSON_CHARS)
            return lambda v: len(v) <= limit if v is not None else nullable
        if self.kind == "decimal":
            # strictly inside the bound even after rounding to the scale; NaN fails too
            bound = 10.0 ** (self.size - self.scale) - 0.5 * 10.0**-self.scale
            return lambda v: -bound < v < bound if v is not None else nullable
        if self.kind == "float":
            return lambda v: math.isfinite(v) if v is not None else nullable
        if self.kind == "int":
            return lambda v: -(2**63) <= v < 2**63 if v is not None else nullable
        return lambda v: v is not None or nullable


@dataclass(frozen=True, slots=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    _fits: tuple[Callable[[Any], bool], ...] = field(
        init=False, repr=False, compare=False, hash=False
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "_fits", tuple(c.fits() for c in self.columns))

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def reject_reason(self, row: tuple[Any, ...]) -> str | None:
        for fits, value in zip(self._fits, row, strict=True):
            if not fits(value):
                break
        else:
            return None
        for column, value in zip(self.columns, row, strict=True):
            reason = column.reject(value)
            if reason is not None:
                return reason
        return None


def _text(name: str, size: int = 0, nullable: bool = False) -> Column:
    return Column(name, "text", size, nullable=nullable)


def _floats(*names: str, nullable: bool = False) -> tuple[Column, ...]:
    return tuple(Column(n, "float", nullable=nullable) for n in names)


VENUE_KEYS: Final = (
    _text("exchange", 50), _text("symbol", 50), _text("canonical_symbol", 50),
    _text("symbol_group", 50),
)  # fmt: skip
TS: Final = Column("timestamp", "ts")

ORDERBOOKS: Final = Table("exchange_orderbooks", (
    _text("id", 255), *VENUE_KEYS, Column("bids", "json"), Column("asks", "json"), TS,
    Column("sequence", "int", nullable=True), Column("metadata", "json", nullable=True),
))  # fmt: skip
LARGE_TRADES: Final = Table("large_trades", (
    _text("id", 255), *VENUE_KEYS, _text("side", 10), Column("price", "decimal", 20, 8),
    Column("size", "decimal", 20, 8), Column("value_usd", "decimal", 20, 2), TS,
    _text("trade_id", 255, nullable=True), Column("is_liquidation", "bool"),
    Column("metadata", "json", nullable=True),
))  # fmt: skip
FUNDING_RATES: Final = Table("funding_rates", (
    _text("id", 255), *VENUE_KEYS, Column("rate", "decimal", 10, 8),
    Column("predicted_rate", "decimal", 10, 8, nullable=True), TS,
    Column("next_funding_time", "ts", nullable=True), Column("metadata", "json", nullable=True),
))  # fmt: skip
OPEN_INTEREST: Final = Table("open_interest", (
    _text("id", 255), *VENUE_KEYS, Column("open_interest", "decimal", 20, 8),
    Column("open_interest_usd", "decimal", 20, 2, nullable=True), TS,
    Column("metadata", "json", nullable=True),
))  # fmt: skip
OHLC: Final = Table("ohlc", (
    *VENUE_KEYS, _text("interval", 10), Column("open_time", "ts"),
    *_floats("open", "high", "low", "close", "volume"), TS,
))  # fmt: skip
NORMALIZED_FLOAT_COLUMNS: Final = (
    "avg_price", "median_price", "price_divergence", "exchange_divergence", "funding_delta",
    "avg_funding_rate", "volatility_factor", "arb_bps",
)  # fmt: skip
NORMALIZED: Final = Table("normalized", (
    _text("symbol", 50), TS, *_floats(*NORMALIZED_FLOAT_COLUMNS),
    Column("num_exchanges", "int"), *_floats("best_bid", nullable=True),
    _text("best_bid_exchange", 50, nullable=True), *_floats("best_ask", nullable=True),
    _text("best_ask_exchange", 50, nullable=True),
    *_floats("best_bid_size", "best_ask_size", nullable=True),
    Column("venues", "json"), Column("excluded", "json"),
))  # fmt: skip
FEATURES: Final = Table(
    "features", (_text("symbol", 50), TS, *_floats(*FEATURE_NAMES, nullable=True))
)
STATUS_FLOAT_COLUMNS: Final = (
    "data_age_seconds", "volatility_factor", "exchange_divergence", "funding_delta",
    "atr_multiplier", "tp_multiplier", "sl_multiplier",
)  # fmt: skip
EXITBRAIN_STATUS: Final = Table("exitbrain_status", (
    _text("symbol", 50), TS, Column("cross_exchange_active", "bool"),
    *_floats(*STATUS_FLOAT_COLUMNS), Column("use_trailing", "bool"), _text("reasoning"),
    Column("total_reads", "int"), Column("fail_count", "int"),
))  # fmt: skip
EXITBRAIN_ALERTS: Final = Table("exitbrain_alerts", (
    _text("symbol", 50), TS, _text("type", 50), _text("reason"), Column("fail_count", "int"),
))  # fmt: skip

ALL_TABLES: Final = (
    ORDERBOOKS, LARGE_TRADES, FUNDING_RATES, OPEN_INTEREST, OHLC, NORMALIZED, FEATURES,
    EXITBRAIN_STATUS, EXITBRAIN_ALERTS,
)  # fmt: skip
# the time column retention drops rows by
TIME_COLUMN: Final = {table.name: "timestamp" for table in ALL_TABLES} | {"ohlc": "open_time"}
