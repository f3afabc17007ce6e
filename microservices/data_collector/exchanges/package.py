"""What an exchange package declares (`ExchangePackage`), and the registry of packages.

An exchange package (`exchanges/<exchange>/`) exposes one `PACKAGE`: its venues (`VenueSpec`),
the endpoint settings they read (`UrlVenue`: env names, defaults, descriptions) and the module
path of its simulator dialect, imported only by the simulator, so a collector never loads it.
`package_registry.PackageRegistry` holds the registered packages and derives every venue list
from them. Imports no I/O library and nothing from the simulator.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final, Literal

from microservices.common.orderbook.sync import BookSpec
from microservices.common.records import Market, RecordType
from microservices.data_collector.exchanges.base import Exchange, RestRequest

EndpointKind = Literal["ws", "rest"]
# What a venue can serve (ccxt's `has`): generic code and tests ask this map, never a name.
FEATURES: Final = (
    "trades",  # trade records over WebSocket
    "tickers",  # best bid/ask over WebSocket
    "klines",  # 1m candles (WebSocket or built from trades) and REST history
    "funding",  # current funding (WebSocket or REST) and its REST history
    "open_interest",  # current open interest and its REST history
    "liquidations",  # liquidation records over WebSocket
    "listing",  # an instrument listing parser (`<exchange>/listing.py`)
)


def has(*features: str) -> Mapping[str, bool]:
    """The `has` map of a venue: True for the given features, False for every other one."""
    unknown = sorted(set(features) - set(FEATURES))
    if unknown:
        raise ValueError(f"unknown feature(s) {unknown}; known: {FEATURES}")
    return MappingProxyType({name: name in features for name in FEATURES})


@dataclass(frozen=True, slots=True)
class EndpointSetting:
    """One URL setting, read from the environment variable `name.upper()` (and `.env`)."""

    name: str  # lower case, e.g. "binance_ws_url"
    kind: EndpointKind  # "ws": a ws:// or wss:// URL, "rest": http:// or https://
    default: str
    description: str

    @property
    def env(self) -> str:
        return self.name.upper()


@dataclass(frozen=True, slots=True)
class UrlVenue:
    """One set of base URLs: the `<name>_ws_url`/`<name>_rest_url` settings and the
    simulator's path prefix `/<name>` (several venues may share one, like Bybit's)."""

    name: str
    ws: EndpointSetting
    rest: EndpointSetting

    def setting(self, kind: EndpointKind) -> EndpointSetting:
        return self.ws if kind == "ws" else self.rest


def url_venue(name: str, ws: tuple[str, str], rest: tuple[str, str]) -> UrlVenue:
    """`UrlVenue` from (default, description) pairs; settings named `<name>_ws_url` etc."""
    return UrlVenue(
        name,
        EndpointSetting(f"{name}_ws_url", "ws", *ws),
        EndpointSetting(f"{name}_rest_url", "rest", *rest),
    )


@dataclass(frozen=True, slots=True)
class SimulatedMarket:
    """How the simulator's synthetic market prices a venue (defaults of its config)."""

    basis_bps: float = 0.0  # over the true price
    volume_share: float = 1.0  # traded volume relative to the others
    funding_rate_8h: float | None = None  # perps: the built-in funding rate per 8 h
    oi_share: float = 0.5  # perps: open interest relative to the others


@dataclass(frozen=True, slots=True)
class ServerTime:
    """A venue's server-time endpoint: GET `path` (no query), whose answer `parse` turns into
    epoch milliseconds (float: sub-ms where the venue says it), raising BadMessage."""

    path: str
    parse: Callable[[Any], float]
    weight: int = 1

    def request(self) -> RestRequest:
        return RestRequest(self.path, {}, self.weight)


@dataclass(frozen=True, slots=True)
class VenueSpec:
    """One venue id (an exchange and a market) and what it supports."""

    venue: str  # e.g. "bybit_spot": records' `exchange` field, VENUES entries
    exchange: type[Exchange]
    url_venue: str  # which `UrlVenue` of its package it reads (Bybit spot shares Bybit's)
    has: Mapping[str, bool] = field(default_factory=has)
    default: bool = True  # collected when VENUES is not set
    simulated: SimulatedMarket = field(default_factory=SimulatedMarket)
    # record types whose WebSocket `ts_ms` is the venue's clock at the event (match or push
    # time): their `recv_ms - ts_ms` is the venue's latency (ce_ws_latency_seconds, /health)
    latency_types: frozenset[RecordType] = frozenset({"trade", "ticker"})
    server_time: ServerTime | None = None  # polled for the clock skew (CLOCK_SKEW_POLL_S)
    books: BookSpec | None = None  # its L2 book rules (`<exchange>/book.py`); None: no books

    def __post_init__(self) -> None:
        if self.exchange.name != self.venue:
            raise ValueError(f"{self.exchange.__name__}.name is not {self.venue!r}")
        if set(self.has) != set(FEATURES):
            raise ValueError(f"{self.venue}: `has` must name exactly {FEATURES} (use has())")

    @property
    def market(self) -> Market:
        return self.exchange.market


@dataclass(frozen=True, slots=True)
class PolledVenue:
    """A venue whose data is polled a few times a day and published as delayed records (CME
    settlements): no WebSocket, no live quote, never in a symbol's freshness or the venue
    lists of the fast path (`venues()`); `service` is the module whose `run(settings)` polls
    it (started when its `enabled_setting` is true)."""

    venue: str
    record_types: frozenset[RecordType]
    service: str
    enabled_setting: str  # e.g. "cme_enabled"
    description: str = ""
    # the setting holding its base URL, pointed at the simulator's `/<venue>` in the demo; the
    # package's `simulator` module then exposes `routes()` served under that prefix
    url_setting: str = ""


@dataclass(frozen=True, slots=True)
class ExchangePackage:
    """Everything the rest of the program knows about one exchange."""

    name: str  # e.g. "bybit"
    venues: tuple[VenueSpec, ...]
    url_venues: tuple[UrlVenue, ...]
    # module exposing `SIMULATOR` (a `SimulatorDialect`), imported by the simulator only
    simulator: str | None = None
    polled: tuple[PolledVenue, ...] = ()  # delayed, polled venues (a package may have only these)

    def __post_init__(self) -> None:
        names = {u.name for u in self.url_venues}
        stray = [v.venue for v in self.venues if v.url_venue not in names]
        if stray or not (self.venues or self.polled) or len(names) != len(self.url_venues):
            raise ValueError(f"package {self.name}: venues {stray} name no url venue of it")

    def endpoint_settings(self) -> tuple[EndpointSetting, ...]:
        return tuple(s for u in self.url_venues for s in (u.ws, u.rest))
