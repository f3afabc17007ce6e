"""Every stream's name, consumer group, MAXLEN and schema, in one place.

Producers and consumers get their `Stream` objects from `streams_for(settings)` (or
`build_streams(prefix, maxlens)` in pure code and tests); nothing else spells a stream name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Generic, TypeVar

from microservices.common import (
    anomaly_schema,
    book_schema,
    derived_schemas,
    large_trade_schema,
    market_alerts,
    schemas,
    signal_schema,
)
from microservices.common.schemas import Schema

R = TypeVar("R")

DEFAULT_PREFIX: Final = "quantum:stream:"


@dataclass(frozen=True, slots=True)
class StreamSpec(Generic[R]):
    """A stream before the prefix and MAXLEN settings are applied."""

    key: str  # suffix after the prefix, e.g. "exchange.raw"
    default_maxlen: int
    schema: Schema[R]
    group: str | None = None  # consumer group of the stream's main consumer


@dataclass(frozen=True, slots=True)
class Stream(Generic[R]):
    """A resolved stream: full Redis key, trim length, schema and consumer group."""

    name: str
    maxlen: int
    schema: Schema[R]
    group: str | None

    @property
    def dead_letter(self) -> str:
        """Where entries that fail to decode are copied (`<stream>:dead`)."""
        return f"{self.name}:dead"


RAW_SPEC: Final = StreamSpec("exchange.raw", 10_000, schemas.RAW, group="aggregator")
NORMALIZED_SPEC: Final = StreamSpec(
    "exchange.normalized", 10_000, derived_schemas.NORMALIZED, group="feature_adapter"
)
FEATURES_SPEC: Final = StreamSpec("exchange.features", 10_000, derived_schemas.FEATURES)
STATUS_SPEC: Final = StreamSpec("exitbrain.status", 1_000, derived_schemas.STATUS)
ALERTS_SPEC: Final = StreamSpec("exitbrain.alerts", 500, derived_schemas.ALERTS)
LISTINGS_SPEC: Final = StreamSpec("exchange.listings", 1_000, derived_schemas.LISTINGS)
# the general alert stream (not ExitBrain's): DEPEG from the aggregator, later others
MARKET_ALERTS_SPEC: Final = StreamSpec("alerts", 5_000, market_alerts.MARKET_ALERTS)
# the top of every venue's L2 book per instrument (issue 13), throttled per book
ORDERBOOK_SPEC: Final = StreamSpec(
    "exchange.orderbook", 10_000, book_schema.ORDERBOOK, group="aggregator"
)
# trades and liquidations above seed 002's USD thresholds (issue 16), from the engine's
# large-trade detector; the storage writer's group `storage` files them in `large_trades`
LARGE_TRADES_SPEC: Final = StreamSpec(
    "exchange.large_trades", 10_000, large_trade_schema.LARGE_TRADES, group="storage"
)
# spectral-residual anomalies and bursts of the engine's anomaly monitor (issue 17)
ANOMALIES_SPEC: Final = StreamSpec("exchange.anomalies", 10_000, anomaly_schema.ANOMALIES)
# the current model's probabilities per feature vector, with its version (issue 17)
SIGNALS_SPEC: Final = StreamSpec("exchange.signals", 10_000, signal_schema.SIGNALS)
DEAD_LETTER_MAXLEN: Final = 1_000


@dataclass(frozen=True, slots=True)
class Streams:
    raw: Stream[Any]
    normalized: Stream[Any]
    features: Stream[Any]
    status: Stream[Any]
    alerts: Stream[Any]
    listings: Stream[Any]
    market_alerts: Stream[Any]
    orderbook: Stream[Any]
    large_trades: Stream[Any]
    anomalies: Stream[Any]
    signals: Stream[Any]

    def all(self) -> tuple[Stream[Any], ...]:
        return (
            self.raw, self.normalized, self.features, self.status, self.alerts, self.listings,
            self.market_alerts, self.orderbook, self.large_trades, self.anomalies,
            self.signals,
        )  # fmt: skip


def _resolve(spec: StreamSpec[R], prefix: str, maxlen: int | None) -> Stream[R]:
    return Stream(
        name=f"{prefix}{spec.key}",
        maxlen=spec.default_maxlen if maxlen is None else maxlen,
        schema=spec.schema,
        group=spec.group,
    )


def build_streams(prefix: str = DEFAULT_PREFIX, maxlens: dict[str, int] | None = None) -> Streams:
    """Resolve all specs; `maxlens` maps a spec key ("exchange.raw") to an override."""
    chosen = maxlens or {}
    return Streams(
        raw=_resolve(RAW_SPEC, prefix, chosen.get(RAW_SPEC.key)),
        normalized=_resolve(NORMALIZED_SPEC, prefix, chosen.get(NORMALIZED_SPEC.key)),
        features=_resolve(FEATURES_SPEC, prefix, chosen.get(FEATURES_SPEC.key)),
        status=_resolve(STATUS_SPEC, prefix, chosen.get(STATUS_SPEC.key)),
        alerts=_resolve(ALERTS_SPEC, prefix, chosen.get(ALERTS_SPEC.key)),
        listings=_resolve(LISTINGS_SPEC, prefix, chosen.get(LISTINGS_SPEC.key)),
        market_alerts=_resolve(MARKET_ALERTS_SPEC, prefix, chosen.get(MARKET_ALERTS_SPEC.key)),
        orderbook=_resolve(ORDERBOOK_SPEC, prefix, chosen.get(ORDERBOOK_SPEC.key)),
        large_trades=_resolve(LARGE_TRADES_SPEC, prefix, chosen.get(LARGE_TRADES_SPEC.key)),
        anomalies=_resolve(ANOMALIES_SPEC, prefix, chosen.get(ANOMALIES_SPEC.key)),
        signals=_resolve(SIGNALS_SPEC, prefix, chosen.get(SIGNALS_SPEC.key)),
    )


def collector_key(prefix: str, name: str) -> str:
    """Non-stream keys the collector owns: `<prefix>collector.health` (hash, TTL),
    `<prefix>collector.cursor` (hash of REST history timestamps) and `<prefix>collector.symbols`
    (hash: followed symbol -> its instrument on each venue, JSON; for /api/v1/symbols)."""
    return f"{prefix}collector.{name}"


COLLECTOR_HEALTH_TTL_S: Final = 15
