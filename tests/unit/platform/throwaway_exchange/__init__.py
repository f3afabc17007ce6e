"""A throw-away exchange package, defined in the tests only: one spot venue (`throwaway`)
whose feed is a trivial JSON trade frame, one REST route, and a simulator dialect.

`test_throwaway_exchange.py` registers it at run time and shows that settings, the collector,
the simulator and `normalize` pick it up with no other change: the whole of "adding an
exchange" is a package like this one plus its line in the registry.
"""

from __future__ import annotations

from typing import Final

from microservices.data_collector.exchanges.package import (
    ExchangePackage,
    VenueSpec,
    has,
    url_venue,
)
from tests.unit.platform.throwaway_exchange.exchange import Throwaway

PACKAGE: Final = ExchangePackage(
    name="throwaway",
    venues=(VenueSpec("throwaway", Throwaway, url_venue="throwaway", has=has("trades", "klines")),),
    url_venues=(
        url_venue(
            "throwaway",
            ws=("wss://ws.throwaway.invalid", "Throwaway WebSocket base"),
            rest=("https://api.throwaway.invalid", "Throwaway REST base"),
        ),
    ),
    simulator="tests.unit.platform.throwaway_exchange.simulator",
)
