"""The SYMBOLS setting: parsing, top:N ranking, perp:/spot: selectors, resolution against
instruments (groups, aliases) and close matches for unknown symbols."""

from __future__ import annotations

import math
from typing import Any

import pytest

from microservices.common.instruments import Instrument, make_instrument
from microservices.common.symbol_selection import (
    Resolution,
    Selector,
    SymbolSelection,
    SymbolSelectionError,
    close_matches,
    instruments_to_follow,
    parse_symbols,
    rank_top,
    resolve_symbols,
    usd_volume_by_symbol,
)

DEC_26_2025_MS = 1_766_736_000_000


def inst(
    venue: str, symbol: str, base: str, quote: str, market: Any = "spot", **kw: Any
) -> Instrument:
    return make_instrument(
        venue=venue, venue_symbol=symbol, base=base, quote=quote, market=market, **kw
    )


INSTRUMENTS = [
    inst("binance", "BTCUSDT", "BTC", "USDT"),
    inst("binance", "ETHBTC", "ETH", "BTC"),
    inst("binance", "SOLUSDT", "SOL", "USDT"),
    inst("binance", "POLUSDT", "POL", "USDT"),
    inst("binance", "DOGEUSDT", "DOGE", "USDT", status="halted"),
    inst("binance_futures", "BTCUSDT", "BTC", "USDT", "perpetual"),
    inst("binance_futures", "ETHUSDT", "ETH", "USDT", "perpetual"),
    inst("binance_futures", "BTCUSDC", "BTC", "USDC", "perpetual"),
    inst("binance_futures", "XRPUSDC", "XRP", "USDC", "perpetual"),
    inst("binance_futures", "BTCUSDT_251226", "BTC", "USDT", "future", expiry_ms=DEC_26_2025_MS),
    inst("coinbase", "BTC-USD", "BTC", "USD"),
    inst("coinbase", "LTC-USD", "LTC", "USD", status="delisted"),
]


def test_parse_string_and_list() -> None:
    selection = parse_symbols("btcusdt, ETH/USDT  top:3,perp:usdc BTCUSDT")
    assert selection == SymbolSelection(
        explicit=("BTCUSDT", "ETHUSDT"),
        selectors=(Selector("top", n=3), Selector("perp", quote="USDC")),
    )
    assert parse_symbols(["SOLUSDT", "spot:xbt"]).selectors == (Selector("spot", quote="BTC"),)
    assert [str(s) for s in parse_symbols("top:5 perp:USDT").selectors] == ["top:5", "perp:USDT"]


@pytest.mark.parametrize(
    "bad", ["top:0", "top:x", "top:", "best:3", "perp:", "spot:US-D", "", " , "]
)
def test_bad_settings_fail(bad: str) -> None:
    with pytest.raises(SymbolSelectionError):
        parse_symbols(bad)


def test_rank_top_from_a_volume_map() -> None:
    volumes = {"BTCUSDT": 9e9, "ETHUSDT": 5e9, "SOLUSDT": 2e9, "XRPUSDT": 2e9, "DOGEUSDT": 1e9,
               "BAD": math.nan, "NEG": -1.0, "INF": math.inf}  # fmt: skip
    assert rank_top(volumes, 3) == ["BTCUSDT", "ETHUSDT", "SOLUSDT"]  # SOL before XRP: tie by name
    assert rank_top(volumes, 3, candidates={"ETHUSDT", "DOGEUSDT"}) == ["ETHUSDT", "DOGEUSDT"]
    assert rank_top({}, 3) == []


def test_usd_volume_is_summed_per_followed_symbol() -> None:
    volumes = usd_volume_by_symbol([(INSTRUMENTS[0], 100.0), (INSTRUMENTS[5], 250.0), (INSTRUMENTS[10], 50.0),
                                    (INSTRUMENTS[1], 7.0), (INSTRUMENTS[9], None), (INSTRUMENTS[2], math.nan)])  # fmt: skip
    assert volumes == {"BTCUSDT": 400.0, "ETHBTC": 7.0, "BTCUSDT-20251226": 0.0, "SOLUSDT": 0.0}


def test_resolve_top_3_and_selectors() -> None:
    volumes = {
        "BTCUSDT": 9e9,
        "ETHUSDT": 5e9,
        "DOGEUSDT": 4e9,
        "SOLUSDT": 2e9,
        "XRPUSDT": 1e9,
        "LTCUSDT": 8e9,
    }
    resolution = resolve_symbols(parse_symbols("top:3"), INSTRUMENTS, volumes)
    # DOGE is halted and LTC delisted: selectors take trading instruments only
    assert resolution == Resolution(symbols=("BTCUSDT", "ETHUSDT", "SOLUSDT"))
    assert resolve_symbols(parse_symbols("top:3"), INSTRUMENTS).symbols == ()  # no volumes yet
    perp_usdc = resolve_symbols(parse_symbols("perp:USDC"), INSTRUMENTS)
    assert perp_usdc.symbols == ("BTCUSDT", "XRPUSDT")  # their groups
    spot_btc = resolve_symbols(parse_symbols("spot:BTC"), INSTRUMENTS)
    assert spot_btc.symbols == ("ETHBTC",)


def test_resolve_explicit_names_groups_and_aliases() -> None:
    setting = "BTCUSD, MATICUSDT ETHBTC BTCUSDT-20251226 BTCUSDT btc-usdc SOL/USDT"
    resolution = resolve_symbols(parse_symbols(setting), INSTRUMENTS)
    assert resolution.unknown == {}
    # BTCUSD (Coinbase's canonical name) and BTC-USDC follow their group; MATIC is POL now
    assert resolution.symbols == ("BTCUSDT", "POLUSDT", "ETHBTC", "BTCUSDT-20251226", "SOLUSDT")


def test_unknown_symbols_get_close_matches() -> None:
    resolution = resolve_symbols(parse_symbols("BTCUSTD, SOLUSD, QQQQQ"), INSTRUMENTS)
    assert resolution.symbols == ()
    assert resolution.unknown["BTCUSTD"][0] == "BTCUSDT"
    assert "SOLUSDT" in resolution.unknown["SOLUSD"]
    assert resolution.unknown["QQQQQ"] == ()
    message = resolution.error_message()
    assert message is not None
    assert message.startswith("unknown symbols in SYMBOLS: BTCUSTD (did you mean BTCUSDT")
    assert message.endswith("; QQQQQ")
    assert Resolution(symbols=("BTCUSDT",)).error_message() is None


def test_delisted_instruments_are_not_known() -> None:
    resolution = resolve_symbols(parse_symbols("LTCUSD"), INSTRUMENTS)
    assert "LTCUSD" in resolution.unknown


def test_close_matches() -> None:
    assert close_matches("ETHUSTD", ["ETHUSDT", "ETHBTC", "BTCUSDT", "ETHUSDT"]) == (
        "ETHUSDT",
        "ETHBTC",
    )
    assert close_matches("ZZZ", ["ETHUSDT"]) == ()


def test_instruments_to_follow() -> None:
    followed = instruments_to_follow({"BTCUSDT"}, INSTRUMENTS)
    assert [(i.venue, i.venue_symbol) for i in followed] == [
        ("binance", "BTCUSDT"), ("binance_futures", "BTCUSDT"), ("binance_futures", "BTCUSDC"),
        ("coinbase", "BTC-USD"),
    ]  # fmt: skip
    assert instruments_to_follow({"LTCUSDT"}, INSTRUMENTS) == []  # delisted
