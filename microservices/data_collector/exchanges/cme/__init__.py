"""CME Group crypto futures (`cme`): BTC, MBT, ETH and MET daily settlements, delayed.

A polled venue (`PolledVenue`): no WebSocket and no live quote; its `settlement` records are
delayed and never count towards a symbol's freshness. `contracts.py` names contracts and
computes expiries, `rows.py` checks rows, `files.py` (CSV importer) and `web.py` (CME's
product-page JSON, UNVERIFIED) read them, `source.py` is the plug-in interface, `roll.py` the
front month and CONTRACT_ROLL, `reference.py` the spot reference (the basis formula is in
`common/futures_basis.py`), `settlements.py` the records, `service.py` and `runtime.py` the
poller and importer, `simulator.py` the simulator, `cli.py` `cross-exchange cme ...`.
"""

from __future__ import annotations

from typing import Final

from microservices.data_collector.exchanges.package import ExchangePackage, PolledVenue

PACKAGE: Final = ExchangePackage(
    name="cme",
    venues=(),
    url_venues=(),
    simulator="microservices.data_collector.exchanges.cme.simulator",
    polled=(
        PolledVenue(
            "cme",
            frozenset({"settlement"}),
            service="microservices.data_collector.exchanges.cme.runtime",
            enabled_setting="cme_enabled",
            description="CME BTC/ETH futures daily settlements, volume and open interest (delayed)",
            url_setting="cme_web_url",
        ),
    ),
)
