"""Bybit v5 instruments-info: the repo's own pages written from the documented format
(tests/fixtures/exchanges/bybit*, linear with a nextPageCursor, and spot), the docs' option
row, the naming rule, and bad input (counted, never raised)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from microservices.common.instruments import Instrument, ParsedListing
from microservices.data_collector.exchanges.bybit.listing import (
    parse_instruments_page,
    symbol_instrument,
)
from tests.fixture_paths import local_fixture

PAGE1 = "exchanges/bybit/rest_instruments_linear.page1.json"
PAGE2 = "exchanges/bybit/rest_instruments_linear.page2.json"
SPOT = "exchanges/bybit_spot/rest_instruments_spot.json"
# the option example of docs/v5/market/instrument.mdx (bybit-exchange/docs)
DOCS_OPTION_ROW: dict[str, Any] = {
    "symbol": "BTC-27MAR26-70000-P-USDT", "status": "Trading", "baseCoin": "BTC",
    "quoteCoin": "USDT", "settleCoin": "USDT", "optionsType": "Put",
    "launchTime": "1743669649256", "deliveryTime": "1774598400000", "deliveryFeeRate": "0.00015",
    "priceFilter": {"minPrice": "5", "maxPrice": "1110000", "tickSize": "5"},
    "lotSizeFilter": {"maxOrderQty": "500", "minOrderQty": "0.01", "qtyStep": "0.01"},
    "displayName": "BTCUSDT-27MAR26-70000-P",
}  # fmt: skip


def load(name: str) -> Any:
    return orjson.loads(local_fixture(name).read_bytes())


def by_symbol(instruments: list[Instrument]) -> dict[str, Instrument]:
    return {inst.venue_symbol: inst for inst in instruments}


def test_linear_pages_follow_the_cursor() -> None:
    pages = {None: PAGE1, "first%3DBTCUSDT%26last%3DBTC-26DEC25": PAGE2}
    listing, cursor, fetched = ParsedListing(), None, 0
    while True:  # the fetch loop a caller writes: request with `cursor` until it is None
        page, cursor = parse_instruments_page(local_fixture(pages[cursor]).read_bytes(), "bybit")
        listing.extend(page)
        fetched += 1
        if cursor is None:
            break
    assert fetched == 2
    assert (listing.skipped, listing.flagged) == ({}, {})
    assert [i.venue_symbol for i in listing.instruments] == [
        "BTCUSDT", "1000PEPEUSDT", "BIOUSDT", "BTCPERP", "BTC-26DEC25",
        "ETHUSDT", "MATICUSDT", "ETHUSDT-27MAR26",
    ]  # fmt: skip


def test_linear_values() -> None:
    page, cursor = parse_instruments_page(load(PAGE1), "bybit")
    assert cursor == "first%3DBTCUSDT%26last%3DBTC-26DEC25"
    found = by_symbol(page.instruments)
    btc = found["BTCUSDT"]
    assert (btc.venue, btc.symbol, btc.base, btc.quote, btc.market) == (
        "bybit", "BTCUSDT", "BTC", "USDT", "perpetual",
    )  # fmt: skip
    assert (btc.tick_size, btc.lot_size, btc.funding_interval_h, btc.settle) == (
        0.1,
        0.001,
        8.0,
        "USDT",
    )
    assert (btc.status, btc.inverse, btc.expiry_ms) == ("trading", False, None)
    pepe = found["1000PEPEUSDT"]
    assert (pepe.base, pepe.price_multiplier, pepe.symbol, pepe.funding_interval_h) == (
        "PEPE",
        1000,
        "1000PEPEUSDT",
        4.0,
    )
    assert (pepe.tick_size, pepe.lot_size) == (0.0000001, 100.0)
    assert found["BIOUSDT"].status == "pending"  # PreLaunch
    usdc = found["BTCPERP"]
    assert (usdc.symbol, usdc.quote, usdc.settle) == ("BTCUSDC", "USDC", "USDC")
    future = found["BTC-26DEC25"]
    assert (future.market, future.symbol, future.expiry_ms, future.funding_interval_h) == (
        "future", "BTCUSDC-20251226", 1766736000000, None,
    )  # fmt: skip


def test_statuses_and_delisting_time() -> None:
    page, cursor = parse_instruments_page(load(PAGE2), "bybit")
    assert cursor is None  # "" on the last page
    found = by_symbol(page.instruments)
    matic = found["MATICUSDT"]
    assert (matic.symbol, matic.status, matic.expiry_ms) == ("POLUSDT", "delisted", 1726041600000)
    dated = found["ETHUSDT-27MAR26"]
    assert (dated.symbol, dated.status) == ("ETHUSDT-20260327", "halted")  # Delivering


def test_spot_page() -> None:
    page, cursor = parse_instruments_page(load(SPOT), "bybit_spot")
    assert (cursor, page.skipped) == (None, {})
    found = by_symbol(page.instruments)
    btc = found["BTCUSDT"]
    assert (btc.venue, btc.market, btc.tick_size, btc.lot_size) == (
        "bybit_spot",
        "spot",
        0.1,
        0.000001,
    )
    assert (btc.funding_interval_h, btc.settle) == (None, None)
    eth = found["ETHBTC"]
    assert (eth.base, eth.quote, eth.tick_size, eth.lot_size) == ("ETH", "BTC", 0.000001, 0.0001)
    assert found["USDCUSDT"].symbol == "USDCUSDT"


def test_option_and_inverse_rows() -> None:
    body = {
        "retCode": 0,
        "result": {"category": "option", "list": [DOCS_OPTION_ROW], "nextPageCursor": ""},
    }
    page, _ = parse_instruments_page(body, "bybit_option")
    (option,) = page.instruments
    assert (option.symbol, option.market, option.strike, option.put_call) == (
        "BTCUSDT-20260327-70000-P", "option", 70000.0, "P",
    )  # fmt: skip
    assert (option.tick_size, option.lot_size, option.expiry_ms) == (5.0, 0.01, 1774598400000)
    inverse_row = dict(load(PAGE1)["result"]["list"][0], symbol="BTCUSD", quoteCoin="USD",
                       settleCoin="BTC", contractType="InversePerpetual")  # fmt: skip
    body = {"retCode": 0, "result": {"category": "inverse", "list": [inverse_row]}}
    page, _ = parse_instruments_page(body, "bybit_inverse")
    (inverse,) = page.instruments
    assert (inverse.symbol, inverse.inverse, inverse.settle) == ("BTCUSD.INV", True, "BTC")


def good_row() -> dict[str, Any]:
    row: dict[str, Any] = load(PAGE1)["result"]["list"][0]
    return row


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda r: r.pop("baseCoin"), "malformed"),
        (lambda r: r.update(contractType="QuantoSwap"), "unknown_contract_type"),
        (lambda r: r["priceFilter"].update(tickSize="n/a"), "bad_number"),
        (lambda r: r["lotSizeFilter"].update(qtyStep="0x10"), "bad_number"),
        (lambda r: r.update(fundingInterval="480"), "malformed"),
        (lambda r: r.update(deliveryTime="later"), "malformed"),
        (lambda r: r.update(contractType="LinearFutures"), "no_expiry"),
        (lambda r: r.update(priceFilter=[1, 2]), "malformed"),
    ],
)
def test_bad_rows_are_skipped_and_counted(mutate: Any, reason: str) -> None:
    row = good_row()
    mutate(row)
    body = {
        "retCode": 0,
        "result": {"category": "linear", "list": [good_row(), row], "nextPageCursor": "c2"},
    }
    page, cursor = parse_instruments_page(body, "bybit")
    assert (page.skipped, cursor) == ({reason: 1}, "c2")
    assert [i.symbol for i in page.instruments] == ["BTCUSDT"]


@pytest.mark.parametrize(
    ("body", "skipped"),
    [
        (b"{oops", {"bad_json": 1}),
        (b"null", {"empty_body": 1}),
        ([1, 2], {"not_an_object": 1}),
        ({"retCode": 10001, "retMsg": "params error", "result": {}}, {"api_error": 1}),
        ({"retCode": 0, "result": None}, {"no_result": 1}),
        ({"retCode": 0, "result": {"category": "futures", "list": []}}, {"unknown_category": 1}),
        ({"retCode": 0, "result": {"category": "linear", "list": {}}}, {"not_a_list": 1}),
    ],
)
def test_bad_bodies(body: object, skipped: dict[str, int]) -> None:
    page, cursor = parse_instruments_page(body, "bybit")
    assert (page.instruments, page.skipped, cursor) == ([], skipped, None)


def test_category_override() -> None:
    body = load(SPOT)
    del body["result"]["category"]
    page, _ = parse_instruments_page(body, "bybit_spot", category="spot")
    assert len(page.instruments) == 4


@pytest.mark.parametrize(
    ("symbol", "venue", "expected"),
    [
        ("BTCUSDT", "bybit", ("BTCUSDT", "perpetual", "USDT")),
        ("BTCPERP", "bybit", ("BTCUSDC", "perpetual", "USDC")),
        ("1000PEPEUSDT", "bybit", ("1000PEPEUSDT", "perpetual", "USDT")),
        ("BTC-26DEC25", "bybit", ("BTCUSDC-20251226", "future", "USDC")),
        ("ETHUSDT-27MAR26", "bybit", ("ETHUSDT-20260327", "future", "USDT")),
        ("BTC-27MAR26-70000-P-USDT", "bybit", ("BTCUSDT-20260327-70000-P", "option", "USDT")),
        ("BTC-6JAN23-17500-C", "bybit", ("BTCUSDC-20230106-17500-C", "option", "USDC")),
        ("ETHBTC", "bybit_spot", ("ETHBTC", "spot", "BTC")),
        ("BTCUSDE", "bybit_spot", ("BTCUSDE", "spot", "USDE")),
        ("MATICUSDT", "bybit_spot", ("POLUSDT", "spot", "USDT")),
    ],
)
def test_naming_rule(symbol: str, venue: str, expected: tuple[str, str, str]) -> None:
    found = symbol_instrument(symbol, venue)
    assert found is not None
    assert (found.symbol, found.market, found.quote) == expected
    assert (found.tick_size, found.lot_size, found.venue, found.venue_symbol) == (
        None,
        None,
        venue,
        symbol,
    )


@pytest.mark.parametrize("symbol", ["XYZ", "BTC-31FEB25", "PERP", "", "BTC-27MAR26-X-P"])
def test_naming_rule_failures(symbol: str) -> None:
    assert symbol_instrument(symbol, "bybit") is None
