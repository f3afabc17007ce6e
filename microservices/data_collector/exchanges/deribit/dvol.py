"""Deribit DVOL (`deribit_volatility_index.{btc_usd|eth_usd}`): the channels of the followed
bases and the `volatility_index` record of a notification.

DVOL is Deribit's 30-day implied-volatility index of a currency, annualised, in percent
(129.36 = 129.36 %); Deribit publishes it for BTC and ETH only and pushes it about once a
second. A record's header names the index, not an instrument: symbol and group `BTC-DVOL`,
venue_symbol `btc_usd`, quote USD. Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final

from microservices.common.errors import BadMessage
from microservices.common.records import VolatilityIndex
from microservices.data_collector.exchanges.deribit.wire import VolatilityData

VENUE: Final = "deribit"
CHANNEL: Final = "deribit_volatility_index.{}"
# currency -> Deribit's index name
INDEXES: Final[Mapping[str, str]] = {"BTC": "btc_usd", "ETH": "eth_usd"}
CURRENCY_OF: Final[Mapping[str, str]] = {name: cur for cur, name in INDEXES.items()}


def dvol_symbol(currency: str) -> str:
    """The canonical name of a currency's DVOL records: `BTC-DVOL`."""
    return f"{currency}-DVOL"


def dvol_channels(bases: Iterable[str]) -> list[str]:
    """The DVOL channels of the followed bases that have one, in INDEXES order."""
    wanted = set(bases)
    return [CHANNEL.format(name) for cur, name in INDEXES.items() if cur in wanted]


def dvol_record(data: VolatilityData, recv_ms: int) -> VolatilityIndex:
    """The record of one notification; BadMessage for an index Deribit does not publish."""
    currency = CURRENCY_OF.get(data.index_name)
    if currency is None:
        raise BadMessage(f"deribit: unknown volatility index {data.index_name[:40]!r}")
    symbol = dvol_symbol(currency)
    return VolatilityIndex(VENUE, "perp", symbol, data.index_name, symbol, "USD",
                           data.timestamp, recv_ms, currency, data.volatility)  # fmt: skip
