"""The Instrument record: canonical names, the alias table, multiplier prefixes, group keys,
the suffix split and the row loop shared by listing parsers."""

from __future__ import annotations

from typing import Any

import pytest

from microservices.common.instruments import (
    ASSET_ALIASES,
    Instrument,
    ParsedListing,
    SkipRow,
    canonical_asset,
    canonical_name,
    decode_body,
    group_key,
    make_instrument,
    optional_step,
    parse_rows,
    positive_number,
    split_by_quote_suffix,
    split_multiplier,
)

DEC_25_2026_MS = 1_798_185_600_000  # 2026-12-25 08:00 UTC


def inst(
    venue: str, symbol: str, base: str, quote: str, market: Any = "spot", **kw: Any
) -> Instrument:
    return make_instrument(
        venue=venue, venue_symbol=symbol, base=base, quote=quote, market=market, **kw
    )


def test_spot_and_linear_perpetual_are_base_plus_quote() -> None:
    assert inst("binance", "ETHBTC", "ETH", "BTC").symbol == "ETHBTC"
    assert inst("coinbase", "BTC-USD", "BTC", "USD").symbol == "BTCUSD"
    assert inst("bybit", "BTCPERP", "BTC", "USDC", "perpetual").symbol == "BTCUSDC"
    assert inst("binance_futures", "BTCUSDT", "btc", "usdt", "perpetual").symbol == "BTCUSDT"


def test_inverse_perpetual_dated_future_and_option_names() -> None:
    inverse = inst(
        "bybit_inverse", "BTCUSD", "BTC", "USD", "perpetual", inverse=True, contract_size=1
    )
    assert inverse.symbol == "BTCUSD.INV"
    assert (inverse.inverse, inverse.contract_size) == (True, 1.0)
    future = inst(
        "binance_futures", "BTCUSDT_261225", "BTC", "USDT", "future", expiry_ms=DEC_25_2026_MS
    )
    assert future.symbol == "BTCUSDT-20261225"
    inv_future = inst(
        "bybit_inverse", "BTCUSDZ26", "BTC", "USD", "future", inverse=True, expiry_ms=DEC_25_2026_MS
    )
    assert inv_future.symbol == "BTCUSD.INV-20261225"
    option = inst("bybit", "BTC-25DEC26-60000-C-USDT", "BTC", "USDT", "option",
                  expiry_ms=DEC_25_2026_MS, strike="60000", put_call="C")  # fmt: skip
    assert option.symbol == "BTCUSDT-20261225-60000-C"
    assert (option.strike, option.put_call) == (60000.0, "C")
    assert canonical_name(base="ETH", quote="USDC", market="option", expiry_ms=DEC_25_2026_MS,
                          strike=2.5, put_call="P") == "ETHUSDC-20261225-2.5-P"  # fmt: skip


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"market": "future"}, "no expiry"),
        ({"market": "option", "expiry_ms": DEC_25_2026_MS}, "strike"),
        ({"market": "spot", "inverse": True}, "cannot be inverse"),
    ],
)
def test_incomplete_names_are_rejected(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        canonical_name(base="BTC", quote="USDT", **kwargs)


def test_alias_table_applies_to_base_quote_and_settle() -> None:
    assert ASSET_ALIASES["MATIC"] == "POL"
    assert canonical_asset(" matic ") == "POL"
    assert canonical_asset("XBT") == "BTC"
    polygon = inst("coinbase", "MATIC-USD", "MATIC", "USD")
    assert (polygon.symbol, polygon.base, polygon.venue_symbol) == ("POLUSD", "POL", "MATIC-USD")
    kraken = inst("kraken", "XBT/USD", "XBT", "USD")
    assert kraken.symbol == "BTCUSD"
    assert inst("x", "ETHXBT", "ETH", "XBT", "perpetual", settle="XBT").settle == "BTC"


@pytest.mark.parametrize("bad", ["", "  ", "BTC-USD", "BTC/USD", "A.B", "A_B"])
def test_asset_codes_with_separators_are_rejected(bad: str) -> None:
    with pytest.raises(ValueError):
        canonical_asset(bad)


def test_multiplier_prefix_is_split_on_derivatives_only() -> None:
    assert split_multiplier("1000PEPE") == ("PEPE", 1000)
    assert split_multiplier("1MBABYDOGE") == ("BABYDOGE", 1_000_000)
    assert split_multiplier("1000000MOG") == ("MOG", 1_000_000)
    assert split_multiplier("1INCH") == ("1INCH", 1)
    perp = inst("binance_futures", "1000PEPEUSDT", "1000PEPE", "USDT", "perpetual")
    assert (perp.base, perp.price_multiplier, perp.symbol) == ("PEPE", 1000, "1000PEPEUSDT")
    assert group_key(perp) == "1000PEPEUSDT"
    spot = inst("binance", "1000SATSUSDT", "1000SATS", "USDT")
    assert (spot.base, spot.price_multiplier, spot.symbol) == ("1000SATS", 1, "1000SATSUSDT")
    assert group_key(spot) == group_key(
        inst("binance_futures", "1000SATSUSDT", "1000SATS", "USDT", "perpetual")
    )


def test_group_keys() -> None:
    coinbase = inst("coinbase", "BTC-USD", "BTC", "USD")
    binance_spot = inst("binance", "BTCUSDT", "BTC", "USDT")
    binance_perp = inst("binance_futures", "BTCUSDT", "BTC", "USDT", "perpetual")
    usdc_perp = inst("binance_futures", "BTCUSDC", "BTC", "USDC", "perpetual")
    inverse = inst("bybit_inverse", "BTCUSD", "BTC", "USD", "perpetual", inverse=True)
    for member in (coinbase, binance_spot, binance_perp, usdc_perp, inverse):
        assert group_key(member) == "BTCUSDT", member
    assert coinbase.quote == "USD" and usdc_perp.quote == "USDC"  # members keep their real quote
    assert group_key(inst("binance", "ETHBTC", "ETH", "BTC")) == "ETHBTC"
    assert group_key(inst("coinbase", "BTC-EUR", "BTC", "EUR")) == "BTCEUR"
    future = inst(
        "binance_futures", "BTCUSDT_261225", "BTC", "USDT", "future", expiry_ms=DEC_25_2026_MS
    )
    assert group_key(future) is None
    option = inst("bybit", "BTC-25DEC26-60000-C", "BTC", "USDC", "option",
                  expiry_ms=DEC_25_2026_MS, strike=60000, put_call="C")  # fmt: skip
    assert group_key(option) is None
    # a stablecoin's own price is a depeg monitor, never merged into a USDT group
    assert group_key(inst("coinbase", "USDT-USD", "USDT", "USD")) == "USDTUSD"
    # the USD-equivalent set is a parameter
    assert group_key(usdc_perp, usd_quotes={"USD", "USDT"}) == "BTCUSDC"


@pytest.mark.parametrize(
    ("symbol", "expected"),
    [("LRCBTC", ("LRC", "BTC")), ("BTCFDUSD", ("BTC", "FDUSD")), ("NKNUSDT", ("NKN", "USDT")),
     ("USDT", None), ("XYZ", None)],
)  # fmt: skip
def test_split_by_quote_suffix_longest_first(symbol: str, expected: tuple[str, str] | None) -> None:
    assert split_by_quote_suffix(symbol, ["USD", "USDT", "FDUSD", "BTC"]) == expected


def test_numbers() -> None:
    assert positive_number("0.00000100") == 1e-6
    assert positive_number(100) == 100.0
    assert optional_step("0.00000000") is None
    assert optional_step(None) is None
    assert optional_step("") is None
    bad_values: tuple[object, ...] = ("abc", "-1", "nan", "inf", True, [], None)
    for bad in bad_values:
        with pytest.raises(SkipRow, match="bad_number"):
            positive_number(bad)
    with pytest.raises(SkipRow):
        optional_step("1e")


def test_make_instrument_rejects_bad_values() -> None:
    with pytest.raises(ValueError):
        inst("binance", "X", "BTC", "USDT", tick_size="zero")
    with pytest.raises(ValueError):
        inst("binance", "X", "BTC", "USDT", "future", expiry_ms="1766736000000")
    with pytest.raises(ValueError):
        inst("binance", "X", "", "USDT")


def test_parse_rows_counts_and_never_raises() -> None:
    def parse(row: Any, result: ParsedListing) -> Instrument:
        if row == "skip":
            raise SkipRow("on_purpose")
        return inst("binance", row["s"], row["b"], row["q"])

    rows = [{"s": "BTCUSDT", "b": "BTC", "q": "USDT"}, "skip", {"s": "X"}, None, 5]
    result = parse_rows(rows, parse, ParsedListing())
    assert [i.symbol for i in result.instruments] == ["BTCUSDT"]
    assert result.skipped == {"on_purpose": 1, "malformed": 3}
    assert parse_rows({"not": "a list"}, parse, ParsedListing()).skipped == {"not_a_list": 1}


def test_decode_body() -> None:
    result = ParsedListing()
    assert decode_body(b'{"a": 1}', result) == {"a": 1}
    assert decode_body(b"{not json", result) is None
    assert decode_body("null", result) is None
    assert result.skipped == {"bad_json": 1, "empty_body": 1}


def test_extend_merges_pages() -> None:
    first, second = ParsedListing(), ParsedListing()
    first.skip("malformed")
    second.skip("malformed")
    second.flag("unknown_status")
    second.instruments.append(inst("bybit", "BTCUSDT", "BTC", "USDT", "perpetual"))
    first.extend(second)
    assert (len(first.instruments), first.skipped, first.flagged) == (
        1, {"malformed": 2}, {"unknown_status": 1},
    )  # fmt: skip


def test_instrument_is_frozen_and_hashable() -> None:
    btc = inst("binance", "BTCUSDT", "BTC", "USDT")
    with pytest.raises(AttributeError):
        btc.symbol = "X"  # type: ignore[misc]
    assert len({btc, inst("binance", "BTCUSDT", "BTC", "USDT")}) == 1
