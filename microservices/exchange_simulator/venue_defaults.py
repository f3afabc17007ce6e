"""The simulator's venue lists and per-venue market defaults, read from the exchange registry.

URL venues are the path prefixes of the registered exchange packages that have a simulator
dialect; market venues are their venues. Plain data from the packages' descriptors: nothing
here imports a dialect (the CLI builds its flags from these in every process).
"""

from __future__ import annotations

from microservices.data_collector import exchanges


def url_venues() -> tuple[str, ...]:
    """URL venues, one path prefix each (Bybit's serves /v5/public/linear and /spot): those of
    the registered exchange packages that have a simulator dialect."""
    return tuple(exchanges.simulators())


def market_venues() -> tuple[str, ...]:
    """Market venues, one synthetic price each ("bybit" the linear perp, "bybit_spot" the spot
    book): the registered venues served by those URL venues."""
    served = set(exchanges.simulators())
    return tuple(v for v, spec in exchanges.venue_specs().items() if spec.url_venue in served)


def _simulated(venue: str) -> exchanges.SimulatedMarket:
    return exchanges.venue_specs()[venue].simulated


def default_basis() -> dict[str, float]:
    # bps over the true price: perps trade a little rich, Coinbase (USD) a little cheap
    return {venue: _simulated(venue).basis_bps for venue in market_venues()}


def default_funding() -> dict[str, float]:
    # funding rate per 8 h interval, as the venues quote it
    rates = {venue: _simulated(venue).funding_rate_8h for venue in market_venues()}
    return {venue: rate for venue, rate in rates.items() if rate is not None}


def default_volume_shares() -> dict[str, float]:
    return {venue: _simulated(venue).volume_share for venue in market_venues()}


def default_oi_shares() -> dict[str, float]:
    return {venue: _simulated(venue).oi_share for venue in market_venues()}


def default_perp_venues() -> frozenset[str]:
    specs = exchanges.venue_specs()
    return frozenset(venue for venue in market_venues() if specs[venue].market == "perp")
