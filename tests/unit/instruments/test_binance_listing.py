"""Binance spot and USDⓈ-M listings: exact values from the real 2021 exchangeInfo captures
(../shared/fixtures), the repo's own frames (tests/fixtures/exchanges/binance*), the naming
rule, and bad input (counted, never raised)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from microservices.common.instruments import Instrument
from microservices.data_collector.exchanges.binance.listing import (
    parse_futures_listing,
    parse_spot_listing,
    symbol_instrument,
)
from tests.fixture_paths import local_fixture, shared_fixture

SPOT_REAL = "binance/rest/api_v3_exchangeInfo.TRIMMED.cryptofeed-2021.json"
FUTURES_REAL = "binance-futures/rest/fapi_v1_exchangeInfo.TRIMMED.cryptofeed-2021.json"


def by_symbol(instruments: list[Instrument]) -> dict[str, Instrument]:
    return {inst.venue_symbol: inst for inst in instruments}


@pytest.mark.real_fixtures
def test_real_spot_exchange_info() -> None:
    result = parse_spot_listing(shared_fixture(SPOT_REAL).read_bytes())
    assert (result.skipped, result.flagged) == ({}, {})
    found = by_symbol(result.instruments)
    assert list(found) == ["ETHBTC", "LTCBTC", "BNBBTC", "NEOBTC", "QTUMETH", "EOSETH"]
    eth = found["ETHBTC"]
    assert (eth.venue, eth.symbol, eth.base, eth.quote) == ("binance", "ETHBTC", "ETH", "BTC")
    assert (eth.market, eth.status, eth.inverse) == ("spot", "trading", False)
    assert (eth.tick_size, eth.lot_size) == (0.000001, 0.0001)  # "0.00000100", "0.00010000"
    neo = found["NEOBTC"]
    assert (neo.tick_size, neo.lot_size) == (0.000001, 0.01)
    qtum = found["QTUMETH"]
    assert (qtum.base, qtum.quote, qtum.tick_size, qtum.lot_size) == ("QTUM", "ETH", 0.000001, 0.1)


@pytest.mark.real_fixtures
def test_real_futures_exchange_info() -> None:
    result = parse_futures_listing(shared_fixture(FUTURES_REAL).read_bytes())
    assert (result.skipped, result.flagged) == ({}, {})
    found = by_symbol(result.instruments)
    assert list(found) == ["BTCUSDT", "ETHUSDT", "BCHUSDT", "XRPUSDT", "EOSUSDT", "LTCUSDT"]
    btc = found["BTCUSDT"]
    assert (btc.venue, btc.symbol, btc.base, btc.quote) == (
        "binance_futures",
        "BTCUSDT",
        "BTC",
        "USDT",
    )
    assert (btc.market, btc.status, btc.inverse, btc.settle) == (
        "perpetual",
        "trading",
        False,
        "USDT",
    )
    assert (btc.tick_size, btc.lot_size) == (0.01, 0.001)
    # perpetuals carry deliveryDate 4133404800000 (year 2100): no expiry
    assert btc.expiry_ms is None
    assert btc.funding_interval_h is None  # not in exchangeInfo; /fapi/v1/fundingInfo has it
    xrp = found["XRPUSDT"]
    assert (xrp.tick_size, xrp.lot_size) == (0.0001, 0.1)
    eos = found["EOSUSDT"]
    assert (eos.tick_size, eos.lot_size) == (0.001, 0.1)


def test_own_spot_listing() -> None:
    result = parse_spot_listing(
        local_fixture("exchanges/binance/rest_exchangeInfo.json").read_bytes()
    )
    assert (result.skipped, result.flagged) == ({}, {})
    found = by_symbol(result.instruments)
    fdusd = found["BTCFDUSD"]
    assert (fdusd.symbol, fdusd.base, fdusd.quote, fdusd.tick_size, fdusd.lot_size) == (
        "BTCFDUSD", "BTC", "FDUSD", 0.01, 0.00001,
    )  # fmt: skip
    assert (found["LRCBTC"].symbol, found["LRCBTC"].status) == ("LRCBTC", "halted")  # BREAK
    assert (found["RUNEEUR"].base, found["RUNEEUR"].quote) == ("RUNE", "EUR")
    matic = found["MATICUSDT"]
    assert (matic.symbol, matic.base, matic.status) == ("POLUSDT", "POL", "halted")
    sats = found["1000SATSUSDT"]  # a spot token named 1000SATS: no multiplier split
    assert (sats.base, sats.price_multiplier) == ("1000SATS", 1)
    assert found["NEWUSDT"].status == "pending"


def test_own_futures_listing() -> None:
    body = local_fixture("exchanges/binance_futures/rest_exchangeInfo.json").read_bytes()
    result = parse_futures_listing(body)
    assert result.skipped == {"unknown_contract_type": 1}  # GONEUSDT: contractType "" (settling)
    found = by_symbol(result.instruments)
    pepe = found["1000PEPEUSDT"]
    assert (pepe.symbol, pepe.base, pepe.price_multiplier, pepe.tick_size, pepe.lot_size) == (
        "1000PEPEUSDT", "PEPE", 1000, 0.0000001, 1.0,
    )  # fmt: skip
    quarter = found["BTCUSDT_251226"]
    assert (quarter.symbol, quarter.market, quarter.expiry_ms) == (
        "BTCUSDT-20251226", "future", 1766736000000,
    )  # fmt: skip
    assert (found["ETHUSDT_260327"].symbol, found["ETHUSDT_260327"].status) == (
        "ETHUSDT-20260327",
        "pending",
    )
    assert (found["ETHBTC"].quote, found["ETHBTC"].settle) == ("BTC", "BTC")
    assert found["BTCUSDC"].symbol == "BTCUSDC"
    old = found["OLDUSDT"]  # a perpetual with an announced delisting date
    assert (old.market, old.symbol, old.expiry_ms) == ("perpetual", "OLDUSDT", 1736150400000)


@pytest.mark.parametrize(
    ("symbol", "base", "quote"),
    [("LRCBTC", "LRC", "BTC"), ("RUNEEUR", "RUNE", "EUR"), ("BLZETH", "BLZ", "ETH"),
     ("NKNUSDT", "NKN", "USDT"), ("BTCFDUSD", "BTC", "FDUSD"), ("ETHBTC", "ETH", "BTC"),
     ("ADAEUR", "ADA", "EUR"), ("USDTTRY", "USDT", "TRY"), ("BTCTUSD", "BTC", "TUSD"),
     ("WBTCBTC", "WBTC", "BTC"), ("BNBBRL", "BNB", "BRL")],
)  # fmt: skip
def test_spot_naming_rule(symbol: str, base: str, quote: str) -> None:
    found = symbol_instrument(symbol)
    assert found is not None
    assert (found.base, found.quote, found.symbol, found.market) == (
        base,
        quote,
        base + quote,
        "spot",
    )
    assert (found.tick_size, found.lot_size, found.venue_symbol) == (None, None, symbol)


def test_naming_rule_alias_futures_and_failures() -> None:
    matic = symbol_instrument("MATICUSDT")
    assert matic is not None and matic.symbol == "POLUSDT"
    perp = symbol_instrument("1000PEPEUSDT", "binance_futures")
    assert perp is not None
    assert (perp.market, perp.base, perp.price_multiplier, perp.symbol) == (
        "perpetual",
        "PEPE",
        1000,
        "1000PEPEUSDT",
    )
    dated = symbol_instrument("BTCUSDT_250328", "binance_futures")
    assert dated is not None
    assert (dated.market, dated.symbol, dated.expiry_ms) == (
        "future",
        "BTCUSDT-20250328",
        1743148800000,
    )
    for bad in ("XYZ", "USDT", "", "BTCUSDT_991399"):
        assert symbol_instrument(bad, "binance_futures") is None
    assert symbol_instrument("BTCXYZ") is None


def good_spot_row() -> dict[str, Any]:
    body = orjson.loads(local_fixture("exchanges/binance/rest_exchangeInfo.json").read_bytes())
    row: dict[str, Any] = body["symbols"][0]
    return row


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda r: r.pop("baseAsset"), "malformed"),
        (lambda r: r.update(quoteAsset=None), "malformed"),
        (lambda r: r["filters"][0].update(tickSize="abc"), "bad_number"),
        (lambda r: r["filters"][1].update(stepSize="-1"), "bad_number"),
        (lambda r: r.update(filters="nope"), "malformed"),
        (lambda r: r.update(baseAsset="BTC/X"), "malformed"),
    ],
)
def test_bad_spot_rows_are_skipped_and_counted(mutate: Any, reason: str) -> None:
    row = good_spot_row()
    mutate(row)
    result = parse_spot_listing({"symbols": [row, good_spot_row()]})
    assert result.skipped == {reason: 1}
    assert [i.symbol for i in result.instruments] == ["BTCUSDT"]


def test_missing_filters_give_unknown_steps_and_unknown_status_is_flagged() -> None:
    row = good_spot_row()
    row["filters"] = []
    row["status"] = "SOMETHING_NEW"
    result = parse_spot_listing({"symbols": [row]})
    (found,) = result.instruments
    assert (found.tick_size, found.lot_size, found.status) == (None, None, "halted")
    assert result.flagged == {"unknown_status": 1}


@pytest.mark.parametrize(
    ("body", "skipped"),
    [(b"[1, 2", {"bad_json": 1}), (b"null", {"empty_body": 1}), ([], {"not_an_object": 1}),
     ({"symbols": {}}, {"not_a_list": 1}), ({}, {"not_a_list": 1}), ("[]", {"not_an_object": 1})],
)  # fmt: skip
def test_bad_bodies(body: object, skipped: dict[str, int]) -> None:
    for parse in (parse_spot_listing, parse_futures_listing):
        result = parse(body)
        assert (result.instruments, result.skipped) == ([], skipped)


def test_bad_futures_rows() -> None:
    body = orjson.loads(
        local_fixture("exchanges/binance_futures/rest_exchangeInfo.json").read_bytes()
    )
    rows = body["symbols"][:1]
    rows.append(dict(rows[0], contractType="SOMETHING_NEW"))
    rows.append(dict(rows[0], contractType="CURRENT_QUARTER", deliveryDate=0))
    rows.append(dict(rows[0], deliveryDate="soon"))
    result = parse_futures_listing({"symbols": rows})
    assert result.skipped == {"unknown_contract_type": 1, "no_expiry": 1, "malformed": 1}
    assert len(result.instruments) == 1
