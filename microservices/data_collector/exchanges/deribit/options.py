"""Deribit option chains summed per currency: `public/get_book_summary_by_currency?currency=
BTC&kind=option` -> one `options_summary` record.

Over the chain's live rows (one per option instrument):
- open_interest = sum of `open_interest` (contracts; a BTC or ETH option is 1 coin);
- open_interest_usd = open_interest x index_price;
- volume_24h = sum of `volume` (contracts), volume_24h_usd = sum of `volume_usd`;
- put_call_oi_ratio = put open interest / call open interest, None when calls have none;
- put_call_volume_ratio = put volume / call volume, None when no call traded;
- index_price = the median of the rows' `estimated_delivery_price` (the currency's USD
  index; every row of a chain carries the same one);
- ts_ms = the newest row's `creation_timestamp` (else the receive time).

A row is skipped, and counted by reason, when it is not an object of the documented fields
("malformed"), names no option ("not_an_option"), is of another currency ("other_currency")
or has expired by the receive time ("expired": the chain can lag an expiry by a poll). A
JSON-RPC error or a non-list result raises BadMessage; a chain without live rows or without
an index price gives no record. Pure: no I/O, no clock (`recv_ms` is a parameter).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from statistics import median
from typing import Any, Final

import msgspec

from microservices.common.errors import BadMessage
from microservices.common.records import OptionsSummary
from microservices.data_collector.exchanges.base import RestRequest
from microservices.data_collector.exchanges.deribit.listing import symbol_instrument
from microservices.data_collector.exchanges.typed import EpochMs, Price, Size

SUMMARY_PATH: Final = "/api/v2/public/get_book_summary_by_currency"
CURRENCIES: Final = ("BTC", "ETH")  # the coin-settled option chains
VENUE: Final = "deribit"


class SummaryRow(msgspec.Struct):
    """The fields of one book-summary row this module reads."""

    instrument_name: str
    open_interest: Size = 0.0  # contracts
    volume: Size = 0.0  # contracts over 24 h
    volume_usd: Size = 0.0
    estimated_delivery_price: Price | None = None  # the currency's USD index
    creation_timestamp: EpochMs | None = None


@dataclass(slots=True)
class Chain:
    """Sums of the live rows of one chain, by side."""

    oi: dict[str, float] = field(default_factory=lambda: {"C": 0.0, "P": 0.0})
    volume: dict[str, float] = field(default_factory=lambda: {"C": 0.0, "P": 0.0})
    volume_usd: float = 0.0
    index_prices: list[float] = field(default_factory=list)
    rows: int = 0
    ts_ms: int = 0
    skipped: dict[str, int] = field(default_factory=dict)

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1


def summary_request(currency: str) -> RestRequest:
    """The option chain of `currency` (BTC, ETH)."""
    return RestRequest(SUMMARY_PATH, {"currency": currency, "kind": "option"})


def summary_symbol(currency: str) -> str:
    """The canonical name of a currency's summaries: `BTC-OPTIONS`."""
    return f"{currency}-OPTIONS"


def ratio(puts: float, calls: float) -> float | None:
    """puts / calls; None when calls are 0 (no defined ratio)."""
    return puts / calls if calls > 0 else None


def add_row(chain: Chain, currency: str, raw: Any, recv_ms: int) -> None:
    """Fold one row into `chain`, or count why it is skipped."""
    try:
        row = msgspec.convert(raw, SummaryRow)
    except msgspec.ValidationError:
        chain.skip("malformed")
        return
    inst = symbol_instrument(row.instrument_name)
    if inst is None or inst.put_call is None or inst.expiry_ms is None:
        chain.skip("not_an_option")
        return
    if inst.base != currency or not inst.inverse:
        chain.skip("other_currency")
        return
    if inst.expiry_ms <= recv_ms:
        chain.skip("expired")
        return
    chain.oi[inst.put_call] += row.open_interest
    chain.volume[inst.put_call] += row.volume
    chain.volume_usd += row.volume_usd
    if row.estimated_delivery_price is not None:
        chain.index_prices.append(row.estimated_delivery_price)
    chain.rows += 1
    chain.ts_ms = max(chain.ts_ms, row.creation_timestamp or 0)


def fold_chain(currency: str, rows: Any, recv_ms: int) -> Chain:
    """The chain of a `result` list; BadMessage when it is not a list."""
    if not isinstance(rows, list):
        raise BadMessage("deribit: book summary result is not a list")
    chain = Chain()
    for raw in rows:
        add_row(chain, currency, raw, recv_ms)
    return chain


def summary_record(currency: str, chain: Chain, recv_ms: int) -> OptionsSummary | None:
    """The record of a folded chain; None without live rows or an index price (counted)."""
    if chain.rows == 0:
        chain.skip("empty_chain")
        return None
    if not chain.index_prices:
        chain.skip("no_index_price")
        return None
    index = median(chain.index_prices)
    oi = chain.oi["C"] + chain.oi["P"]
    volume = chain.volume["C"] + chain.volume["P"]
    symbol = summary_symbol(currency)
    ts_ms = chain.ts_ms if chain.ts_ms > 0 else recv_ms
    return OptionsSummary(
        VENUE, "perp", symbol, currency, symbol, "USD", ts_ms, recv_ms, currency, chain.rows,
        oi, oi * index, volume, chain.volume_usd, index,
        ratio(chain.oi["P"], chain.oi["C"]), ratio(chain.volume["P"], chain.volume["C"]),
    )  # fmt: skip
