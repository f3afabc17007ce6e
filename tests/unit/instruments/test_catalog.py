"""The instrument catalog (indexes, groups, the primary-instrument rule) and the Exchange's
symbol seams through it (record headers, not_followed vs unknown_symbol, follow/follow_any)."""

from __future__ import annotations

from typing import Any

import pytest

from microservices.common.catalog import Catalog, primary_rank
from microservices.common.instruments import Instrument, make_instrument
from microservices.data_collector.exchanges import EXCHANGES

DEC_26_2025_MS = 1_766_736_000_000


def inst(
    venue: str, vsym: str, base: str, quote: str, market: Any = "spot", **kw: Any
) -> Instrument:
    return make_instrument(
        venue=venue, venue_symbol=vsym, base=base, quote=quote, market=market, **kw
    )


LISTED = [
    inst("binance", "BTCUSDT", "BTC", "USDT", tick_size=0.01, lot_size=1e-05),
    inst("binance", "BTCUSDC", "BTC", "USDC"),
    inst("binance", "ETHBTC", "ETH", "BTC"),
    inst("binance", "BTCEUR", "BTC", "EUR"),
    inst("binance_futures", "BTCUSDT", "BTC", "USDT", "perpetual", status="halted"),
    inst("binance_futures", "BTCUSDC", "BTC", "USDC", "perpetual"),
    inst("binance_futures", "BTCUSDT_251226", "BTC", "USDT", "future", expiry_ms=DEC_26_2025_MS),
    inst("bybit", "BTCUSD", "BTC", "USD", "perpetual", inverse=True),
    inst("bybit", "BTCPERP", "BTC", "USDC", "perpetual"),
    inst("bybit", "1000PEPEUSDT", "1000PEPE", "USDT", "perpetual"),
    inst("coinbase", "BTC-USD", "BTC", "USD", tick_size=0.01, lot_size=1e-08),
    inst("coinbase", "BTC-USDT", "BTC", "USDT"),
    inst("coinbase", "LTC-USD", "LTC", "USD", status="delisted"),
    inst("coinbase", "USDT-USD", "USDT", "USD"),
]  # fmt: skip
ORDERS = {v: cls.quote_order for v, cls in EXCHANGES.items()}
CATALOG = Catalog(LISTED, quote_order=ORDERS, listed=["binance", "coinbase"])


def test_indexes() -> None:
    assert CATALOG.venues() == ("binance", "binance_futures", "bybit", "coinbase")
    assert len(CATALOG) == len(LISTED)
    coinbase = CATALOG.by_venue_symbol("coinbase", "BTC-USD")
    assert coinbase is not None and (coinbase.symbol, coinbase.quote) == ("BTCUSD", "USD")
    assert CATALOG.by_venue_symbol("binance", "btcusdt") is CATALOG.by_venue_symbol(
        "binance", "BTCUSDT"
    )
    assert CATALOG.by_venue_symbol("binance", "NKNUSDT") is None
    dated = CATALOG.by_symbol("binance_futures", "BTCUSDT-20251226")
    assert dated is not None and dated.venue_symbol == "BTCUSDT_251226"
    assert CATALOG.follow_key(dated) == "BTCUSDT-20251226"  # futures never group
    pepe = CATALOG.by_venue_symbol("bybit", "1000PEPEUSDT")
    assert pepe is not None and CATALOG.follow_key(pepe) == "1000PEPEUSDT"


def test_groups_collect_every_usd_class_spot_and_perpetual() -> None:
    members = {(i.venue, i.venue_symbol) for i in CATALOG.members("BTCUSDT")}
    assert members == {
        ("binance", "BTCUSDT"), ("binance", "BTCUSDC"), ("binance_futures", "BTCUSDT"),
        ("binance_futures", "BTCUSDC"), ("bybit", "BTCUSD"), ("bybit", "BTCPERP"),
        ("coinbase", "BTC-USD"), ("coinbase", "BTC-USDT"),
    }  # fmt: skip
    assert [i.venue_symbol for i in CATALOG.members("BTCEUR")] == ["BTCEUR"]
    assert [i.venue_symbol for i in CATALOG.members("USDTUSD")] == ["USDT-USD"]
    known = CATALOG.known()
    assert known["BTCUSD"] == known["BTCUSD.INV"] == known["BTCUSDT"] == "BTCUSDT"
    assert "LTCUSD" not in known  # delisted


@pytest.mark.parametrize(
    ("venue", "expected"),
    [
        ("binance", "BTCUSDT"),  # USDT before USDC
        ("binance_futures", "BTCUSDC"),  # trading before halted, whatever the quote
        ("bybit", "BTCPERP"),  # linear before inverse
        ("coinbase", "BTC-USD"),  # Coinbase orders USD first: its deep books
    ],
)
def test_primary_instrument_rule(venue: str, expected: str) -> None:
    primary = CATALOG.primary(venue, "BTCUSDT")
    assert primary is not None and primary.venue_symbol == expected
    assert CATALOG.primaries("BTCUSDT")[venue] is primary


def test_primary_rule_ranks_and_never_picks_a_delisted_instrument() -> None:
    usdt, usdc = LISTED[0], LISTED[1]
    assert primary_rank(usdt) < primary_rank(usdc)
    assert primary_rank(usdc, ("USDC", "USDT")) < primary_rank(usdt, ("USDC", "USDT"))
    assert CATALOG.primary("coinbase", "LTCUSDT") is None
    assert CATALOG.primary("coinbase", "ETHBTC") is None  # not listed there


def test_with_venue_replaces_one_venue_and_marks_it_listed() -> None:
    refreshed = CATALOG.with_venue("bybit", [inst("bybit", "BTCUSDT", "BTC", "USDT", "perpetual")])
    assert [i.venue_symbol for i in refreshed.instruments("bybit")] == ["BTCUSDT"]
    assert refreshed.instruments("binance") == CATALOG.instruments("binance")
    assert refreshed.listed == {"binance", "coinbase", "bybit"}
    assert refreshed.quote_order == CATALOG.quote_order


# ------------------------------------------------------------------ the Exchange's seams


def test_record_heads_come_from_the_catalog() -> None:
    coinbase = EXCHANGES["coinbase"](["BTCUSDT", "ETHBTC"], "wss://x", "https://x", CATALOG)
    assert coinbase.symbols == ("BTCUSDT",)  # ETHBTC is not listed on Coinbase
    assert coinbase.to_venue("BTCUSDT") == "BTC-USD"
    assert coinbase.record_head("BTC-USD") == {
        "exchange": "coinbase", "market": "spot", "symbol": "BTCUSD",
        "venue_symbol": "BTC-USD", "group": "BTCUSDT", "quote": "USD",
    }  # fmt: skip
    assert coinbase.symbol_head("BTCUSDT") == coinbase.record_head("BTC-USD")
    assert coinbase.to_canonical("BTC-USD") == "BTCUSD"
    assert coinbase.record_head("BTC-USDT") is None  # listed, not the primary: not subscribed
    assert coinbase.unfollowed_reason("BTC-USDT") == "not_followed"
    assert coinbase.unfollowed_reason("DOGE-USD") == "unknown_symbol"  # the listing lacks it
    with pytest.raises(KeyError):
        coinbase.to_venue("ETHBTC")


def test_without_a_listing_the_naming_rule_decides() -> None:
    bybit = EXCHANGES["bybit"](["BTCUSDT"], "wss://x", "https://x", CATALOG)  # bybit not listed
    assert bybit.to_venue("BTCUSDT") == "BTCPERP"
    assert bybit.unfollowed_reason("SOLUSDT") == "not_followed"  # the rule names it
    assert bybit.unfollowed_reason("FOO") == "unknown_symbol"
    assert bybit.unfollowed_reason(5) == "unknown_symbol"


def test_follow_changes_and_follow_any() -> None:
    binance = EXCHANGES["binance"](["BTCUSDT"], "wss://x", "https://x", CATALOG)
    assert binance.record_head("ETHBTC") is None
    binance.follow(["BTCUSDT", "ETHBTC", "NOPEUSDT"])
    assert binance.symbols == ("BTCUSDT", "ETHBTC")
    head = binance.record_head("ETHBTC")
    assert head is not None and (head["group"], head["quote"]) == ("ETHBTC", "BTC")
    binance.follow_any()  # normalize: every listed instrument, the BTCUSDC one too
    assert binance.record_head("BTCUSDC") is not None
    assert binance.record_head("NKNUSDT") is None  # binance is listed: the rule is not asked
    rule_only = EXCHANGES["binance"]([], "wss://x", "https://x")
    rule_only.follow_any()
    nkn = rule_only.record_head("NKNUSDT")
    assert nkn is not None and (nkn["symbol"], nkn["quote"]) == ("NKNUSDT", "USDT")


def test_guessed_instruments_of_a_followed_symbol() -> None:
    coinbase = EXCHANGES["coinbase"]([], "wss://x", "https://x")
    assert [i.venue_symbol for i in coinbase.guess_instruments("BTCUSDT")] == [
        "BTC-USD", "BTC-USDT", "BTC-USDC",
    ]  # fmt: skip
    assert [i.venue_symbol for i in coinbase.guess_instruments("ETHBTC")] == ["ETH-BTC"]
    assert coinbase.guess_instruments("top:10") == []
