"""Every stream's name, consumer group, MAXLEN, schema and sharding, in one place.

Producers and consumers get their `Stream` objects from `settings.streams()` (or
`build_streams(prefix, maxlens, shards, usd_quotes)` in pure code and tests); nothing else spells a
stream name. A sharded stream (`key_of` set) with STREAM_SHARDS > 1 is one Redis key per
shard (`sharding.py`): `Stream.shard(i)` is shard i as a single-key `Stream`, `shards_all()`
all of them, `route(record)` the keys a record is written to. With one shard a stream is its
own only shard and keeps its plain name.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace
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
from microservices.common.instruments import USD_EQUIVALENTS
from microservices.common.schemas import Schema
from microservices.common.sharding import (
    KeyOf,
    group_key,
    raw_key,
    raw_key_for,
    shard_name,
    shard_of,
    symbol_key,
)

R = TypeVar("R")

DEFAULT_PREFIX: Final = "quantum:stream:"


@dataclass(frozen=True, slots=True)
class StreamSpec(Generic[R]):
    """A stream before the prefix and MAXLEN settings are applied."""

    key: str  # suffix after the prefix, e.g. "exchange.raw"
    default_maxlen: int
    schema: Schema[R]
    group: str | None = None  # consumer group of the stream's main consumer
    key_of: KeyOf | None = None  # record -> shard key (None: every shard); unset: one key


@dataclass(frozen=True, slots=True)
class Stream(Generic[R]):
    """A resolved stream, or one shard of it: Redis key, trim length, schema, consumer group.

    `base` is the unsharded name (`<prefix>exchange.raw`), `shards` how many keys the stream
    has, `index` which one this is (None: the whole stream, named `base`, when shards = 1)."""

    name: str
    maxlen: int
    schema: Schema[R]
    group: str | None
    key_of: KeyOf | None = None
    shards: int = 1
    index: int | None = None

    @property
    def dead_letter(self) -> str:
        """Where entries that fail to decode are copied (`<stream or shard>:dead`)."""
        return f"{self.name}:dead"

    @property
    def base(self) -> str:
        return self.name if self.index is None else self.name.rsplit(":{", 1)[0]

    def shard(self, index: int) -> Stream[R]:
        """Shard `index` as a one-key stream (the stream itself when it has one shard)."""
        if self.shards == 1:
            return self
        return replace(self, name=shard_name(self.base, index, self.shards), index=index)

    def shards_all(self) -> list[Stream[R]]:
        return [self.shard(i) for i in range(self.shards)]

    def names(self) -> list[str]:
        return [s.name for s in self.shards_all()]

    def shard_for(self, key: str) -> Stream[R]:
        """The shard holding the entries of canonical symbol `key`."""
        return self.shard(shard_of(key, self.shards))

    def route(self, record: R) -> list[str]:
        """The keys `record` is written to: its shard's, or every shard's for context records."""
        if self.shards == 1 or self.key_of is None:
            return [self.name]
        key = self.key_of(record)
        if key is None:
            return self.names()
        return [shard_name(self.base, shard_of(key, self.shards), self.shards)]


RAW_SPEC: Final = StreamSpec(
    "exchange.raw", 10_000, schemas.RAW, group="aggregator", key_of=raw_key
)
NORMALIZED_SPEC: Final = StreamSpec(
    "exchange.normalized",
    10_000,
    derived_schemas.NORMALIZED,
    group="feature_adapter",
    key_of=symbol_key,
)
FEATURES_SPEC: Final = StreamSpec(
    "exchange.features", 10_000, derived_schemas.FEATURES, key_of=symbol_key
)
STATUS_SPEC: Final = StreamSpec(
    "exitbrain.status", 1_000, derived_schemas.STATUS, key_of=symbol_key
)
ALERTS_SPEC: Final = StreamSpec("exitbrain.alerts", 500, derived_schemas.ALERTS, key_of=symbol_key)
LISTINGS_SPEC: Final = StreamSpec("exchange.listings", 1_000, derived_schemas.LISTINGS)
# the general alert stream (not ExitBrain's): DEPEG from the aggregator, later others
MARKET_ALERTS_SPEC: Final = StreamSpec("alerts", 5_000, market_alerts.MARKET_ALERTS)
# the top of every venue's L2 book per instrument (issue 13), throttled per book
ORDERBOOK_SPEC: Final = StreamSpec(
    "exchange.orderbook", 10_000, book_schema.ORDERBOOK, group="aggregator", key_of=group_key
)
# trades and liquidations above seed 002's USD thresholds (issue 16), from the engine's
# large-trade detector; the storage writer's group `storage` files them in `large_trades`
LARGE_TRADES_SPEC: Final = StreamSpec(
    "exchange.large_trades",
    10_000,
    large_trade_schema.LARGE_TRADES,
    group="storage",
    key_of=group_key,
)
# spectral-residual anomalies and bursts of the engine's anomaly monitor (issue 17)
ANOMALIES_SPEC: Final = StreamSpec(
    "exchange.anomalies", 10_000, anomaly_schema.ANOMALIES, key_of=symbol_key
)
# the current model's probabilities per feature vector, with its version (issue 17)
SIGNALS_SPEC: Final = StreamSpec(
    "exchange.signals", 10_000, signal_schema.SIGNALS, key_of=symbol_key
)
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


def build_streams(
    prefix: str = DEFAULT_PREFIX,
    maxlens: dict[str, int] | None = None,
    shards: int = 1,
    usd_quotes: Collection[str] = USD_EQUIVALENTS,
) -> Streams:
    """Resolve all specs; `maxlens` maps a spec key ("exchange.raw") to an override (per
    shard); `shards` applies to the streams whose spec has a `key_of`; `usd_quotes` (the
    USD_EQUIVALENTS setting) says which stablecoin pairs the raw stream routes to every shard."""
    chosen = maxlens or {}
    # the raw router with the configured USD set (the spec's is the default set's)
    raw_router = raw_key_for(usd_quotes)

    def resolve(spec: StreamSpec[Any]) -> Stream[Any]:
        maxlen = chosen.get(spec.key)
        return Stream(
            name=f"{prefix}{spec.key}",
            maxlen=spec.default_maxlen if maxlen is None else maxlen,
            schema=spec.schema,
            group=spec.group,
            key_of=raw_router if spec.key_of is raw_key else spec.key_of,
            shards=shards if spec.key_of is not None else 1,
        )

    return Streams(
        raw=resolve(RAW_SPEC), normalized=resolve(NORMALIZED_SPEC),
        features=resolve(FEATURES_SPEC), status=resolve(STATUS_SPEC),
        alerts=resolve(ALERTS_SPEC), listings=resolve(LISTINGS_SPEC),
        market_alerts=resolve(MARKET_ALERTS_SPEC), orderbook=resolve(ORDERBOOK_SPEC),
        large_trades=resolve(LARGE_TRADES_SPEC), anomalies=resolve(ANOMALIES_SPEC),
        signals=resolve(SIGNALS_SPEC),
    )  # fmt: skip


def collector_key(prefix: str, name: str) -> str:
    """Non-stream keys the collector owns: `<prefix>collector.health` (hash, TTL),
    `<prefix>collector.cursor` (hash of REST history timestamps) and `<prefix>collector.symbols`
    (hash: followed symbol -> its instrument on each venue, JSON; for /api/v1/symbols)."""
    return f"{prefix}collector.{name}"


COLLECTOR_HEALTH_TTL_S: Final = 15
