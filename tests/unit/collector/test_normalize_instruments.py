"""`normalize` on any capture: records for every instrument the venue lists in it, from the
listing answers recorded in the capture, an `--instruments FILE`, or the venue's naming rule.
Exact values of frames of instruments outside any fixed symbol table (NKNUSDT, LRCBTC,
NMR-EUR, PIPPINUSDT, ...); a listed instrument is never an `unknown_symbol`."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import orjson
import pytest

from microservices.common.errors import FatalError
from microservices.common.schemas import RAW
from microservices.data_collector import normalize
from microservices.data_collector.exchanges import EXCHANGES
from microservices.data_collector.listing_cache import save_listing
from microservices.data_collector.normalize_instruments import capture_listing, is_listing_url
from tests.fixture_paths import local_fixture, shared_fixture

Key = tuple[str, str, str, str]  # venue_symbol, symbol, group, quote


def run(venue: str, path: Path | str, instruments: str | None = None) -> tuple[list[Any], Any]:
    out, stats = io.StringIO(), io.StringIO()
    normalize.normalize_file(venue, str(path), out, stats_to=stats, instruments=instruments)
    records = [RAW.decode(orjson.loads(line)) for line in out.getvalue().splitlines()]
    return records, orjson.loads(stats.getvalue())


def keys(records: list[Any]) -> set[Key]:
    return {(r.venue_symbol, r.symbol, r.group, r.quote) for r in records}


def first(records: list[Any], venue_symbol: str, kind: str) -> Any:
    return next(r for r in records if r.venue_symbol == venue_symbol and r.type == kind)


# ------------------------------------------------------------------ the repo's own frames


def test_listing_recorded_in_the_capture_decides_what_is_known() -> None:
    """The exchangeInfo answer comes after the first frame: read first all the same. Listed
    (RUNEEUR, LRCBTC in BREAK, 1000SATSUSDT) give records; NKNUSDT, which the naming rule
    could split but the listing lacks, is unknown."""
    records, summary = run("binance", local_fixture("exchanges/binance/capture_with_listing.jsonl"))
    assert summary["instruments"] == {"source": "capture", "listed": 7}
    assert summary["rejected"] == {"unknown_symbol": 1}
    assert keys(records) == {
        ("RUNEEUR", "RUNEEUR", "RUNEEUR", "EUR"),
        ("LRCBTC", "LRCBTC", "LRCBTC", "BTC"),
        ("1000SATSUSDT", "1000SATSUSDT", "1000SATSUSDT", "USDT"),
    }
    rune = first(records, "RUNEEUR", "ticker")
    assert (rune.bid, rune.bid_size, rune.ask, rune.ask_size, rune.ts_ms) == (
        5.123, 12.5, 5.13, 7.25, 1_700_000_000_100,
    )  # fmt: skip
    lrc = first(records, "LRCBTC", "trade")
    assert (lrc.price, lrc.size, lrc.side, lrc.trade_id, lrc.ts_ms) == (
        6.38e-06, 177.0, "buy", "9213679", 1_700_000_000_300,
    )  # fmt: skip
    sats = first(records, "1000SATSUSDT", "kline")
    assert (sats.open, sats.high, sats.low, sats.close, sats.volume) == (
        0.00031, 0.000313, 0.000309, 0.000312, 150000.0,
    )  # fmt: skip


def test_listing_url_matches_path_and_category() -> None:
    bybit, spot = EXCHANGES["bybit"]([], "", ""), EXCHANGES["bybit_spot"]([], "", "")
    url = "https://api.bybit.com/v5/market/instruments-info?category=linear&limit=1000&cursor=x"
    assert is_listing_url(bybit, url) and not is_listing_url(spot, url)
    assert not is_listing_url(bybit, "https://api.bybit.com/v5/market/tickers?category=linear")
    assert not is_listing_url(bybit, None)
    page1 = local_fixture("exchanges/bybit/rest_instruments_linear.page1.json").read_text()
    page2 = local_fixture("exchanges/bybit/rest_instruments_linear.page2.json").read_text()
    lines = [
        orjson.dumps({"ts": 1.0, "dir": "http", "url": url, "frame": page1}),
        orjson.dumps({"ts": 2.0, "dir": "http", "url": url + "2", "frame": page2}),
        orjson.dumps({"ts": 3.0, "dir": "recv", "frame": page1}),  # not an http answer
    ]
    listing = capture_listing(bybit, lines)
    assert listing is not None
    assert len(listing.instruments) > 2
    assert capture_listing(spot, lines) is None


def test_instruments_file_as_the_venue_serves_it(tmp_path: Path) -> None:
    """Coinbase's /products JSON: BTC-USD (group BTCUSDT) is listed; SKL-USD is not."""
    capture = local_fixture("exchanges/coinbase/ws_ticker.jsonl")
    products = str(local_fixture("exchanges/coinbase/rest_products.json"))
    records, summary = run("coinbase", capture, instruments=products)
    assert summary["instruments"] == {"source": "file", "listed": 6}
    assert keys(records) == {("BTC-USD", "BTCUSD", "BTCUSDT", "USD")}
    assert summary["rejected"]["unknown_symbol"] == 2  # ETH-USD and SKL-USD: not listed
    btc = records[0]
    assert (btc.bid, btc.bid_size, btc.ask, btc.ask_size, btc.last) == (
        36512.34, 0.5, 36512.35, 1.25, 36512.35,
    )  # fmt: skip


def test_instruments_file_in_the_cache_format(tmp_path: Path) -> None:
    coinbase = EXCHANGES["coinbase"]([], "", "")
    instruments = [coinbase.symbol_instrument(p) for p in ("ETH-USD", "SKL-USD")]
    cache = tmp_path / "coinbase.listing.json"
    save_listing(cache, "coinbase", [i for i in instruments if i is not None], 1_700_000_000_000)
    records, summary = run("coinbase", local_fixture("exchanges/coinbase/ws_ticker.jsonl"),
                           instruments=str(cache))  # fmt: skip
    assert summary["instruments"] == {"source": "file", "listed": 2}
    assert keys(records) == {("ETH-USD", "ETHUSD", "ETHUSDT", "USD"),
                             ("SKL-USD", "SKLUSD", "SKLUSDT", "USD")}  # fmt: skip
    skl = first(records, "SKL-USD", "ticker")
    assert (skl.bid, skl.ask, skl.last) == (0.0399, 0.04, 0.04)


def test_instruments_file_errors(tmp_path: Path) -> None:
    capture = local_fixture("exchanges/coinbase/ws_ticker.jsonl")
    with pytest.raises(FatalError, match="no such instruments file"):
        run("coinbase", capture, instruments=str(tmp_path / "missing.json"))
    other = tmp_path / "binance.listing.json"
    save_listing(other, "binance", [], 1_700_000_000_000)
    with pytest.raises(FatalError, match="lists no instrument of coinbase"):
        run("coinbase", capture, instruments=str(other))


def test_naming_rule_without_any_listing() -> None:
    """No listing: every symbol the venue's rule names gives records (NKNUSDT and SOLUSDT
    among them); nothing is `not_followed`."""
    records, summary = run("binance", local_fixture("exchanges/binance/ws_bookTicker.jsonl"))
    assert summary["instruments"] == {"source": "rule", "listed": 0}
    assert {r.venue_symbol for r in records} >= {"BTCUSDT", "SOLUSDT", "NKNUSDT"}
    assert "not_followed" not in summary["rejected"]
    nkn = first(records, "NKNUSDT", "ticker")
    assert (nkn.bid, nkn.bid_size, nkn.ask, nkn.ask_size) == (0.098, 672.0, 0.0981, 3199.0)


# ------------------------------------------------------------------ real captures

REAL: dict[tuple[str, str], set[Key]] = {
    ("binance", "binance/ws/spot_combined_depth_bookticker_kline_aggtrade.cryptofeed-2021.jsonl"): {
        ("NKNUSDT", "NKNUSDT", "NKNUSDT", "USDT"), ("LRCBTC", "LRCBTC", "LRCBTC", "BTC"),
        ("BLZETH", "BLZETH", "BLZETH", "ETH"),
    },
    ("binance", "binance/ws/spot_depth_with_rest_snapshots.cryptofeed-2021.jsonl"): {
        ("NKNUSDT", "NKNUSDT", "NKNUSDT", "USDT"), ("LRCBTC", "LRCBTC", "LRCBTC", "BTC"),
        ("BLZETH", "BLZETH", "BLZETH", "ETH"),
    },
    ("binance", "binance/ws/tardis-node_mappers-test_samples.jsonl"): {
        ("BNBBTC", "BNBBTC", "BNBBTC", "BTC"), ("BTCUSDT", "BTCUSDT", "BTCUSDT", "USDT"),
    },
    ("binance_futures", "binance-futures/ws/tardis-node_mappers-test_samples.jsonl"): {
        ("BTCUSDT", "BTCUSDT", "BTCUSDT", "USDT"),
        ("BTCBUSD_210129", "BTCBUSD-20210129", "BTCBUSD-20210129", "BUSD"),
    },
    ("bybit", "bybit/ws/tardis-node_mappers-test_samples.jsonl"): {
        ("BTCUSDT", "BTCUSDT", "BTCUSDT", "USDT"), ("LTCUSDT", "LTCUSDT", "LTCUSDT", "USDT"),
        ("BTCUSD", "BTCUSD.INV", "BTCUSDT", "USD"), ("XRPUSD", "XRPUSD.INV", "XRPUSDT", "USD"),
        ("BTCUSDU23", "BTCUSD.INV-20230929", "BTCUSD.INV-20230929", "USD"),
        ("GALAUSDT", "GALAUSDT", "GALAUSDT", "USDT"),
        ("PIPPINUSDT", "PIPPINUSDT", "PIPPINUSDT", "USDT"),
        ("BTCUSDC", "BTCUSDC", "BTCUSDT", "USDC"),  # a spot frame among the v5 samples
    },
    ("coinbase", "coinbase/ws/ws_feed_level2_ticker_matches.cryptofeed-2021.jsonl"): {
        ("SKL-USD", "SKLUSD", "SKLUSDT", "USD"), ("SKL-BTC", "SKLBTC", "SKLBTC", "BTC"),
        ("SKL-GBP", "SKLGBP", "SKLGBP", "GBP"), ("BAND-GBP", "BANDGBP", "BANDGBP", "GBP"),
        ("BAND-BTC", "BANDBTC", "BANDBTC", "BTC"), ("NMR-EUR", "NMREUR", "NMREUR", "EUR"),
        ("YFI-BTC", "YFIBTC", "YFIBTC", "BTC"), ("DASH-BTC", "DASHBTC", "DASHBTC", "BTC"),
        ("NU-GBP", "NUGBP", "NUGBP", "GBP"), ("CRV-EUR", "CRVEUR", "CRVEUR", "EUR"),
    },
    ("coinbase", "coinbase/ws/tardis-node_mappers-test_samples.jsonl"): {
        ("BTC-USD", "BTCUSD", "BTCUSDT", "USD"), ("ETC-GBP", "ETCGBP", "ETCGBP", "GBP"),
    },
}  # fmt: skip


@pytest.mark.real_fixtures
@pytest.mark.parametrize(("venue", "relative"), sorted(REAL), ids=lambda v: str(v)[:40])
def test_every_instrument_of_a_real_capture_gives_records(venue: str, relative: str) -> None:
    records, summary = run(venue, shared_fixture(relative))
    assert keys(records) == REAL[venue, relative]
    assert summary["instruments"] == {"source": "rule", "listed": 0}
    assert "unknown_symbol" not in summary["rejected"]
    assert "not_followed" not in summary["rejected"]


@pytest.mark.real_fixtures
def test_binance_spot_capture_values_and_its_fourth_instrument() -> None:
    """NKNUSDT, LRCBTC, BLZETH give records; RUNEEUR (quote EUR) is in the capture only as
    depth updates, which exchange.raw does not carry (counted `ignored`, never unknown)."""
    path = shared_fixture(
        "binance/ws/spot_combined_depth_bookticker_kline_aggtrade.cryptofeed-2021.jsonl"
    )
    records, summary = run("binance", path)
    assert summary["rejected"] == {"ignored": 177}  # 177 depth@100ms frames, RUNEEUR's too
    lrc = first(records, "LRCBTC", "ticker")
    assert (lrc.bid, lrc.bid_size, lrc.ask, lrc.ask_size, lrc.ts_ms) == (
        6.37e-06, 6500.0, 6.38e-06, 27122.0, 1_633_998_519_510,
    )  # fmt: skip
    trade = first(records, "LRCBTC", "trade")
    assert (trade.price, trade.size, trade.side, trade.trade_id, trade.ts_ms) == (
        6.38e-06, 177.0, "buy", "9213679", 1_633_998_534_486,
    )  # fmt: skip
    blz = first(records, "BLZETH", "ticker")
    assert (blz.bid, blz.bid_size, blz.ask, blz.ask_size) == (6.547e-05, 100.0, 6.56e-05, 1528.0)
    rune = EXCHANGES["binance"]([], "", "").symbol_instrument("RUNEEUR")
    assert rune is not None and (rune.base, rune.quote, rune.symbol) == ("RUNE", "EUR", "RUNEEUR")


@pytest.mark.real_fixtures
def test_coinbase_capture_values() -> None:
    path = shared_fixture("coinbase/ws/ws_feed_level2_ticker_matches.cryptofeed-2021.jsonl")
    records, _ = run("coinbase", path)
    nmr = first(records, "NMR-EUR", "trade")
    assert (nmr.price, nmr.size, nmr.side, nmr.trade_id, nmr.ts_ms) == (
        67.021, 0.175, "buy", "868598", 1_618_677_815_964,
    )  # fmt: skip
    crv = first(records, "CRV-EUR", "ticker")
    assert (crv.bid, crv.ask, crv.last, crv.ts_ms) == (3.2943, 3.3029, 3.2981, 1_618_677_709_984)
    yfi = first(records, "YFI-BTC", "trade")
    assert (yfi.price, yfi.size, yfi.side, yfi.trade_id) == (0.82601, 7e-06, "sell", "889760")


@pytest.mark.real_fixtures
def test_bybit_and_binance_futures_capture_values() -> None:
    bybit, _ = run("bybit", shared_fixture("bybit/ws/tardis-node_mappers-test_samples.jsonl"))
    pippin = first(bybit, "PIPPINUSDT", "liquidation")
    assert (pippin.price, pippin.size, pippin.side, pippin.ts_ms) == (
        0.02456, 2846.0, "buy", 1_740_480_207_110,
    )  # fmt: skip
    inverse = first(bybit, "BTCUSD", "funding")
    assert (inverse.funding_rate, inverse.mark_price, inverse.index_price) == (
        0.0001, 28560.0, 28566.94,
    )  # fmt: skip
    usdc = first(bybit, "BTCUSDC", "trade")
    assert (usdc.price, usdc.size, usdc.side, usdc.ts_ms) == (
        28528.98, 0.00433, "buy", 1_680_688_979_998,
    )  # fmt: skip
    futures, _ = run(
        "binance_futures",
        shared_fixture("binance-futures/ws/tardis-node_mappers-test_samples.jsonl"),
    )
    dated = first(futures, "BTCBUSD_210129", "funding")
    assert (dated.mark_price, dated.index_price, dated.ts_ms) == (
        31799.2773, 31307.034, 1_609_830_121_004,
    )  # fmt: skip
