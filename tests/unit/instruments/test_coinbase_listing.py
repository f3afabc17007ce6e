"""Coinbase Exchange `/products`: exact values from the real 2021 capture (../shared/fixtures),
the repo's own listing (tests/fixtures/exchanges/coinbase), the naming rule and bad input."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from microservices.common.instruments import Instrument, group_key
from microservices.data_collector.exchanges.coinbase.listing import (
    parse_products,
    symbol_instrument,
)
from tests.fixture_paths import local_fixture, shared_fixture

REAL = "coinbase/rest/LEGACY_api_pro_products.TRIMMED.cryptofeed-2021.json"
OWN = "exchanges/coinbase/rest_products.json"


def by_symbol(instruments: list[Instrument]) -> dict[str, Instrument]:
    return {inst.venue_symbol: inst for inst in instruments}


@pytest.mark.real_fixtures
def test_real_products() -> None:
    result = parse_products(shared_fixture(REAL).read_bytes())
    assert (result.skipped, result.flagged) == ({}, {})
    found = by_symbol(result.instruments)
    assert list(found) == [
        "SKL-EUR",
        "BTC-GBP",
        "OMG-GBP",
        "CVC-USDC",
        "ETH-EUR",
        "ADA-USD",
        "BCH-EUR",
        "1INCH-USD",
    ]
    btc = found["BTC-GBP"]
    assert (btc.venue, btc.symbol, btc.base, btc.quote, btc.market, btc.status) == (
        "coinbase", "BTCGBP", "BTC", "GBP", "spot", "trading",
    )  # fmt: skip
    assert (btc.tick_size, btc.lot_size) == (0.01, 0.00000001)
    ada = found["ADA-USD"]
    assert (ada.symbol, ada.tick_size, ada.lot_size, group_key(ada)) == (
        "ADAUSD",
        0.0001,
        0.01,
        "ADAUSDT",
    )
    cvc = found["CVC-USDC"]
    assert (cvc.quote, cvc.tick_size, cvc.lot_size, group_key(cvc)) == (
        "USDC",
        0.000001,
        1.0,
        "CVCUSDT",
    )
    inch = found["1INCH-USD"]  # a digit-led asset code is not a multiplier
    assert (inch.base, inch.price_multiplier, inch.symbol) == ("1INCH", 1, "1INCHUSD")
    assert group_key(found["SKL-EUR"]) == "SKLEUR"


def test_own_products_statuses() -> None:
    result = parse_products(local_fixture(OWN).read_bytes())
    assert (result.skipped, result.flagged) == ({}, {})
    found = by_symbol(result.instruments)
    assert {sym: inst.status for sym, inst in found.items()} == {
        "BTC-USD": "trading",
        "ETH-BTC": "trading",
        "USDT-USD": "trading",
        "BTC-EUR": "halted",  # cancel_only
        "MATIC-USD": "delisted",
        "SOL-USD": "halted",  # trading_disabled
    }
    assert (found["MATIC-USD"].symbol, found["MATIC-USD"].base) == ("POLUSD", "POL")
    assert (found["BTC-USD"].symbol, group_key(found["BTC-USD"])) == ("BTCUSD", "BTCUSDT")
    assert group_key(found["USDT-USD"]) == "USDTUSD"


def good_row() -> dict[str, Any]:
    rows: list[dict[str, Any]] = orjson.loads(local_fixture(OWN).read_bytes())
    return rows[0]


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda r: r.pop("quote_currency"), "malformed"),
        (lambda r: r.update(quote_increment="one cent"), "bad_number"),
        (lambda r: r.update(base_increment=0.5), "malformed"),  # documented as a string
        (lambda r: r.update(trading_disabled="no"), "malformed"),
        (lambda r: r.update(id=7), "malformed"),
    ],
)
def test_bad_rows_are_skipped_and_counted(mutate: Any, reason: str) -> None:
    row = good_row()
    mutate(row)
    result = parse_products([row, good_row()])
    assert result.skipped == {reason: 1}
    assert [i.symbol for i in result.instruments] == ["BTCUSD"]


def test_unknown_status_is_flagged_and_halted() -> None:
    result = parse_products([dict(good_row(), status="paused")])
    assert (result.instruments[0].status, result.flagged) == ("halted", {"unknown_status": 1})


@pytest.mark.parametrize(
    ("body", "skipped"),
    [
        (b"<html>", {"bad_json": 1}),
        (b"null", {"empty_body": 1}),
        ({"message": "x"}, {"not_a_list": 1}),
    ],
)
def test_bad_bodies(body: object, skipped: dict[str, int]) -> None:
    result = parse_products(body)
    assert (result.instruments, result.skipped) == ([], skipped)


def test_naming_rule() -> None:
    found = symbol_instrument("BTC-USD")
    assert found is not None
    assert (found.symbol, found.base, found.quote, found.market) == ("BTCUSD", "BTC", "USD", "spot")
    assert (found.tick_size, found.lot_size, found.venue) == (None, None, "coinbase")
    matic = symbol_instrument("matic-usd")
    assert matic is not None and matic.symbol == "POLUSD"
    for bad in ("BTCUSD", "BTC-", "-USD", "A-B-C", ""):
        assert symbol_instrument(bad) is None
