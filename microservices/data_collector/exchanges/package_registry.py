"""The registry of exchange packages, and every venue list derived from it.

The registry is built from package module names (`exchanges/__init__.py`: one line per
exchange) and imports them on first use, all at once and in registration order, so the venue
lists keep that order. One lookup needs less: `exchange(venue)` (and so `EXCHANGES[venue]`)
imports only the package the venue id names, `<exchange>` or `<exchange>_<market>` by the
naming rule every package follows, while nothing has loaded the rest yet. `normalize` of one
venue thus imports one exchange package of nine (~30 ms of its start-up). `register()` adds a
package object at run time (tests), after the named ones.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from types import MappingProxyType

from microservices.data_collector.exchanges.base import Exchange
from microservices.data_collector.exchanges.package import (
    EndpointKind,
    EndpointSetting,
    ExchangePackage,
    PolledVenue,
    UrlVenue,
    VenueSpec,
)

Load = Callable[[str], ExchangePackage]  # package module name -> its PACKAGE (an import)


class _ExchangeView(Mapping[str, type[Exchange]]):
    __slots__ = ("_registry",)

    def __init__(self, registry: PackageRegistry) -> None:
        self._registry = registry

    def __getitem__(self, venue: str) -> type[Exchange]:
        return self._registry.exchange(venue)

    def __iter__(self) -> Iterator[str]:
        return iter(self._registry.venues())

    def __len__(self) -> int:
        return len(self._registry.venues())


class PackageRegistry:
    """The registered packages and the venue lists derived from them (in registration order)."""

    def __init__(self, names: tuple[str, ...] = (), load: Load | None = None) -> None:
        self._packages: tuple[ExchangePackage, ...] = ()
        self._venues: dict[str, VenueSpec] = {}
        self._url_venues: dict[str, UrlVenue] = {}
        self._pending = names  # package modules not registered yet
        self._load = load
        self._loaded: dict[str, ExchangePackage] = {}  # imported ahead of the rest

    def _ensure(self) -> None:
        """Register the named packages not registered yet, in their order."""
        pending, self._pending = self._pending, ()
        for name in pending:
            self._add(self._package_module(name))

    def _package_module(self, name: str) -> ExchangePackage:
        package = self._loaded.get(name)
        if package is None:
            assert self._load is not None, "named packages need a loader"
            package = self._loaded[name] = self._load(name)
        return package

    # --- changes
    def register(self, package: ExchangePackage) -> None:
        """Add a package; ValueError when its name, venues or settings are taken."""
        self._ensure()
        self._add(package)

    def _add(self, package: ExchangePackage) -> None:
        venues = {v.venue: v for v in package.venues}
        urls = {u.name: u for u in package.url_venues}
        polled = {v.venue for p in self._packages for v in p.polled}
        own_polled = {v.venue for v in package.polled}
        taken = (
            {package.name} & {p.name for p in self._packages}
            | (set(venues) | own_polled) & (set(self._venues) | polled)
            | set(urls) & set(self._url_venues)
        )
        if taken:
            raise ValueError(f"already registered: {sorted(taken)}")
        self._packages += (package,)
        self._venues.update(venues)
        self._url_venues.update(urls)

    def unregister(self, name: str) -> ExchangePackage:
        """Remove the package called `name` (KeyError when absent) and return it."""
        package = self.package(name)
        self._packages = tuple(p for p in self._packages if p is not package)
        for venue in package.venues:
            del self._venues[venue.venue]
        for url in package.url_venues:
            del self._url_venues[url.name]
        return package

    @contextlib.contextmanager
    def registered(self, package: ExchangePackage) -> Iterator[ExchangePackage]:
        """`with registered(PACKAGE):` the package is known inside the block only."""
        self.register(package)
        try:
            yield package
        finally:
            self.unregister(package.name)

    # --- views
    def exchange(self, venue: str) -> type[Exchange]:
        """The Exchange class of a venue (KeyError if unknown); before the registry is loaded,
        from the one package the venue id names when that package has it."""
        name = venue.split("_", 1)[0]
        if name in self._pending:
            for spec in self._package_module(name).venues:
                if spec.venue == venue:
                    return spec.exchange
        return self.venues()[venue].exchange

    def packages(self) -> tuple[ExchangePackage, ...]:
        self._ensure()
        return self._packages

    def package(self, name: str) -> ExchangePackage:
        for package in self.packages():
            if package.name == name:
                return package
        raise KeyError(f"no exchange package {name!r}")

    def venues(self) -> Mapping[str, VenueSpec]:
        """venue id -> spec, every registered venue."""
        self._ensure()
        return MappingProxyType(self._venues)

    def polled_venues(self) -> Mapping[str, PolledVenue]:
        """venue id -> spec of every delayed, polled venue (not in `venues()`)."""
        return MappingProxyType({v.venue: v for p in self.packages() for v in p.polled})

    def polled_simulators(self) -> Mapping[str, str]:
        """Polled venue -> module whose `routes()` the simulator serves under `/<venue>`."""
        return {v.venue: p.simulator for p in self.packages() if p.simulator for v in p.polled}

    def url_venues(self) -> Mapping[str, UrlVenue]:
        """URL venue name -> its endpoint settings."""
        self._ensure()
        return MappingProxyType(self._url_venues)

    def exchanges(self) -> Mapping[str, type[Exchange]]:
        """venue id -> Exchange class: a live view (follows later registrations)."""
        return _ExchangeView(self)

    def endpoint_settings(self) -> tuple[EndpointSetting, ...]:
        return tuple(s for p in self.packages() for s in p.endpoint_settings())

    def simulators(self) -> Mapping[str, str]:
        """URL venue -> module of the simulator dialect serving it (packages that have one)."""
        return {u.name: p.simulator for p in self.packages() if p.simulator for u in p.url_venues}

    def endpoint_setting(self, venue: str, kind: EndpointKind) -> EndpointSetting:
        """The setting holding `venue`'s WebSocket or REST base URL (KeyError if unknown)."""
        return self.url_venues()[self.venues()[venue].url_venue].setting(kind)
