"""Bybit v5 venue module (linear `Bybit`, spot `BybitSpot`): exact values parsed from real
captures and docs examples (../shared/fixtures), from the repo's own frames
(tests/fixtures/exchanges/bybit*), rejection reasons, fuzzing, subscribe plans and REST."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from microservices.common.errors import BadMessage
from microservices.common.records import (
    AnyRaw,
    Funding,
    Kline,
    Liquidation,
    OpenInterest,
    Ticker,
    Trade,
)
from microservices.common.schemas import RAW
from microservices.data_collector.exchanges.base import VenueParser
from microservices.data_collector.exchanges.bybit.exchange import Bybit, BybitSpot
from microservices.exchange_simulator.naming import sample_symbols
from tests.fixture_paths import capture_frames, local_fixture, shared_fixture, tardis_frames

RECV_MS = 1_700_000_060_000
WS_URL = "wss://stream.bybit.com"
REST_URL = "https://api.bybit.com"
ALL_SYMBOLS = tuple(sample_symbols(50))
TARDIS = "bybit/ws/tardis-node_mappers-test_samples.jsonl"
V5_SOURCES = ("messagesV5", "messagesAllLiquidation")  # tardis test names of v5 frames


# ----------------------------------------------------------------------------- helpers


def make(cls: type[Bybit] = Bybit, symbols: Sequence[str] = ("BTCUSDT", "ETHUSDT")) -> Bybit:
    return cls(symbols, WS_URL, REST_URL)


def parse_all(parser: VenueParser, frames: Iterable[str | bytes]) -> list[AnyRaw]:
    """Parse every frame (each must give a list) and check every record round-trips."""
    out: list[AnyRaw] = []
    for frame in frames:
        result = parser.parse(frame, RECV_MS)
        assert isinstance(result, list)
        out.extend(result)
    for record in out:
        assert RAW.decode(RAW.encode(record)) == record
    return out


def local(venue: str, name: str) -> list[str]:
    return list(capture_frames(local_fixture(f"exchanges/{venue}/{name}")))


def local_json(venue: str, name: str) -> Any:
    return orjson.loads(local_fixture(f"exchanges/{venue}/{name}").read_bytes())


def docs(name: str) -> Any:
    return orjson.loads(shared_fixture(f"bybit/docs-examples/{name}").read_bytes())


def rekey(frame: str | dict[str, Any], old: str, new: str) -> str:
    """A real frame with its instrument renamed: checks the values of frames whose
    instruments (PIPPINUSDT, ROSEUSDT, ...) are outside the symbol table."""
    text = frame if isinstance(frame, str) else orjson.dumps(frame).decode()
    return text.replace(old, new)


def types(records: Sequence[AnyRaw]) -> Counter[str]:
    return Counter(record.type for record in records)


def known(symbol: str) -> bool:
    return symbol in ALL_SYMBOLS


def tardis_v5() -> list[tuple[str, dict[str, Any]]]:
    return list(tardis_frames(shared_fixture(TARDIS)))


# ------------------------------------------------------------------ real captures


@pytest.mark.real_fixtures
@pytest.mark.parametrize("cls", [Bybit, BybitSpot])
def test_tardis_samples_every_frame_handled_and_counted(cls: type[Bybit]) -> None:
    samples = [frame for frame, _meta in tardis_v5()]
    expected: Counter[str] = Counter()
    trade_ids: set[tuple[str, str]] = set()
    booked: set[str] = set()
    for frame in samples:
        msg = orjson.loads(frame)
        topic = str(msg.get("topic", ""))
        symbol = topic.rsplit(".", 1)[-1]
        if not known(symbol) or not isinstance(msg.get("data"), (list, dict)):
            continue
        if topic.startswith("publicTrade."):
            new = {(symbol, item["i"]) for item in msg["data"]} - trade_ids
            expected["trade"] += len(new)
            trade_ids |= new
        elif topic.startswith("tickers.") and cls is Bybit:
            assert msg["type"] == "snapshot"  # no known-symbol deltas in this capture
            data = msg["data"]
            expected["ticker"] += "bid1Price" in data
            expected["funding"] += bool(data.get("fundingRate"))
            expected["open_interest"] += "openInterest" in data
        elif topic.startswith("orderbook.1.") and cls is BybitSpot:
            if msg["type"] == "snapshot":
                booked.add(symbol)
            expected["ticker"] += symbol in booked

    parser = make(cls, ALL_SYMBOLS).new_parser()
    records: list[AnyRaw] = []
    for frame in samples:
        rejected_before = sum(parser.stats.rejected.values())
        result = parser.parse(frame, RECV_MS)
        assert isinstance(result, list)
        # every frame either yields records or is counted under a reason
        assert result or sum(parser.stats.rejected.values()) == rejected_before + 1
        records.extend(result)

    assert types(records) == expected
    assert expected["trade"] == 5
    assert expected["ticker"] == (1 if cls is Bybit else 5)
    assert all(RAW.decode(RAW.encode(r)) == r for r in records)


@pytest.mark.real_fixtures
def test_tardis_legacy_v2_frames_come_out_empty() -> None:
    legacy = [f for f, meta in tardis_v5() if not meta["src"].endswith(V5_SOURCES)]
    assert len(legacy) == 38
    for cls in (Bybit, BybitSpot):
        parser = make(cls, ALL_SYMBOLS).new_parser()
        assert all(parser.parse(frame, RECV_MS) == [] for frame in legacy)
        assert "subscribe_failed" not in parser.stats.rejected


@pytest.mark.real_fixtures
def test_tardis_linear_ticker_snapshot_values() -> None:
    frame = next(f for f, _ in tardis_v5() if '"topic":"tickers.BTCUSDT"' in f)
    records = parse_all(make().new_parser(), [frame])
    assert [type(r) for r in records] == [Ticker, Funding, OpenInterest]
    ticker, funding, oi = records
    assert isinstance(ticker, Ticker)
    assert isinstance(funding, Funding)
    assert isinstance(oi, OpenInterest)
    assert (ticker.exchange, ticker.market, ticker.symbol, ticker.venue_symbol) == (
        "bybit",
        "perp",
        "BTCUSDT",
        "BTCUSDT",
    )
    assert (ticker.bid, ticker.bid_size, ticker.ask, ticker.ask_size, ticker.last) == (
        28550.7,
        2.049,
        28550.8,
        15.328,
        28550.7,
    )
    assert ticker.ts_ms == funding.ts_ms == oi.ts_ms == 1680673821770
    assert (funding.funding_rate, funding.funding_interval_h) == (0.0001, 8.0)
    assert (funding.next_funding_time_ms, funding.mark_price, funding.index_price) == (
        1680681600000,
        28552.81,
        28562.25,
    )
    assert (oi.open_interest, oi.open_interest_usd) == (52774.528, 1506861070.82)


@pytest.mark.real_fixtures
def test_tardis_trade_values_and_taker_side() -> None:
    samples = tardis_v5()
    parser = make(Bybit, ("BTCUSDT", "LTCUSDT")).new_parser()
    btc = parse_all(parser, [f for f, _ in samples if '"topic":"publicTrade.BTCUSDT"' in f])
    assert len(btc) == 4
    first = btc[0]
    assert isinstance(first, Trade)
    assert (first.symbol, first.price, first.size, first.side) == (
        "BTCUSDT",
        28165.38,
        0.041732,
        "sell",
    )
    assert (first.trade_id, first.ts_ms) == ("2290000000050703789", 1680652847524)
    assert [t.trade_id for t in btc if isinstance(t, Trade)][-1] == "2290000000050703792"
    ltc = parse_all(parser, [f for f, _ in samples if "publicTrade.LTCUSDT" in f])
    assert len(ltc) == 1 and isinstance(ltc[0], Trade)
    assert (ltc[0].price, ltc[0].size, ltc[0].side, ltc[0].trade_id) == (
        94.53,
        0.4,
        "buy",
        "4c7b6bdc-b4a3-5716-9c7b-bbe01dc7072f",
    )


@pytest.mark.real_fixtures
def test_tardis_spot_level1_snapshots_and_old_deltas() -> None:
    frames = [f for f, _ in tardis_v5() if '"topic":"orderbook.1.BTCUSDT"' in f]
    assert len(frames) == 5
    tickers = parse_all(make(BybitSpot).new_parser(), frames)
    quotes = [
        (t.ts_ms, t.bid, t.bid_size, t.ask, t.ask_size) for t in tickers if isinstance(t, Ticker)
    ]
    assert quotes == [
        (1680673820717, 28552.0, 0.047, 28552.1, 25.433),
        (1680673821137, 28552.0, 0.012, 28552.1, 25.433),  # delta with an empty ask side
        (1682092584425, 27991.7, 0.777, 27994.4, 0.058),  # size-0 levels delete
        (1680652806504, 28165.07, 0.175231, 28165.08, 0.996816),
        (1680652806615, 28165.07, 0.166754, 28165.08, 0.996816),
    ]
    assert all(t.market == "spot" and t.exchange == "bybit_spot" for t in tickers)


@pytest.mark.real_fixtures
def test_tardis_liquidations_invert_position_side() -> None:
    samples = tardis_v5()
    parser = make(Bybit, ALL_SYMBOLS).new_parser()
    all_liq = next(f for f, _ in samples if "allLiquidation.PIPPINUSDT" in f)
    old_liq = next(f for f, _ in samples if "liquidation.GALAUSDT" in f)
    assert parser.parse(all_liq, RECV_MS) == []
    assert parser.parse(old_liq, RECV_MS) == []
    assert parser.stats.rejected == {"not_followed": 2}

    records = parse_all(parser, [rekey(all_liq, "PIPPINUSDT", "SOLUSDT")])
    assert len(records) == 1 and isinstance(records[0], Liquidation)
    liq = records[0]
    # S "Sell": a short position was liquidated, so the forced order bought
    assert (liq.symbol, liq.side, liq.price, liq.size, liq.ts_ms) == (
        "SOLUSDT",
        "buy",
        0.02456,
        2846.0,
        1740480207110,
    )
    legacy = parse_all(parser, [rekey(old_liq, "GALAUSDT", "ETHUSDT")])
    assert len(legacy) == 1 and isinstance(legacy[0], Liquidation)
    assert (legacy[0].side, legacy[0].price, legacy[0].size, legacy[0].ts_ms) == (
        "sell",
        0.03803,
        1637.0,
        1673251091822,
    )


@pytest.mark.real_fixtures
def test_tardis_other_instruments_are_not_followed() -> None:
    """Inverse contracts (BTCUSD perpetual, BTCUSDU23 future) and the BTCUSDC spot pair: the
    naming rule knows them, nobody follows them; with a linear listing they are unknown."""
    samples = tardis_v5()
    ex = make(Bybit, ALL_SYMBOLS)
    parser = ex.new_parser()
    topics = ("publicTrade.BTCUSD", "tickers.BTCUSD", "tickers.BTCUSDU23")
    frames = [f for f, _ in samples for t in topics if f'"topic":"{t}"' in f]
    assert len(frames) == 5
    assert all(parser.parse(f, RECV_MS) == [] for f in frames)
    assert parser.stats.rejected == {"not_followed": 5}
    usdt = [i for i in ex.catalog.instruments("bybit") if i.quote == "USDT"]  # a linear listing
    listed = Bybit(ALL_SYMBOLS, WS_URL, REST_URL, ex.catalog.with_venue("bybit", usdt))
    strict = listed.new_parser()
    assert all(strict.parse(f, RECV_MS) == [] for f in frames)
    assert strict.stats.rejected == {"unknown_symbol": 5}
    spot = make(BybitSpot, ALL_SYMBOLS).new_parser()
    usdc = next(f for f, _ in samples if "publicTrade.BTCUSDC" in f)
    assert spot.parse(usdc, RECV_MS) == []
    assert spot.stats.rejected == {"not_followed": 1}


# -------------------------------------------------------------------- docs examples


@pytest.mark.real_fixtures
def test_docs_ws_examples() -> None:
    parser = make(Bybit, ("BTCUSDT", "DOGEUSDT")).new_parser()
    trade = parse_all(parser, [orjson.dumps(docs("ws_publicTrade.0.0.json"))])
    assert len(trade) == 1 and isinstance(trade[0], Trade)
    assert (trade[0].price, trade[0].size, trade[0].side, trade[0].ts_ms) == (
        16578.5,
        0.001,
        "buy",
        1672304486865,
    )
    assert trade[0].trade_id == "20f43950-d8dd-5b31-9112-a178eb6023af"

    ticker, funding, oi = parse_all(
        parser, [orjson.dumps(docs("ws_tickers.0.LinearPerpetual.json"))]
    )
    assert isinstance(ticker, Ticker) and isinstance(funding, Funding)
    assert isinstance(oi, OpenInterest)
    assert (ticker.bid, ticker.bid_size, ticker.ask, ticker.ask_size, ticker.last) == (
        66666.6,
        23789.165,
        66666.7,
        23775.469,
        66666.6,
    )
    assert (funding.funding_rate, funding.funding_interval_h, funding.next_funding_time_ms) == (
        -0.005,
        8.0,
        1760342400000,
    )
    assert (funding.mark_price, funding.index_price, funding.ts_ms) == (
        66666.6,
        115418.19,
        1760325052630,
    )
    assert (oi.open_interest, oi.open_interest_usd) == (492373.72, 32824881841.75)

    kline = parse_all(parser, [rekey(docs("ws_kline.0.0.json"), "kline.5.", "kline.1.")])
    assert len(kline) == 1 and isinstance(kline[0], Kline)
    k = kline[0]
    assert (k.open_time_ms, k.ts_ms, k.interval, k.closed) == (
        1672324800000,
        1672324988882,
        "1m",
        False,
    )
    assert (k.open, k.high, k.low, k.close, k.volume) == (16649.5, 16677.0, 16608.0, 16677.0, 2.081)

    liq = parse_all(parser, [rekey(docs("ws_allLiquidation.0.0.json"), "ROSEUSDT", "DOGEUSDT")])
    assert len(liq) == 1 and isinstance(liq[0], Liquidation)
    assert (liq[0].symbol, liq[0].side, liq[0].price, liq[0].size, liq[0].ts_ms) == (
        "DOGEUSDT",
        "buy",
        0.04499,
        20000.0,
        1739502302929,
    )


@pytest.mark.real_fixtures
@pytest.mark.parametrize(
    ("cls", "name", "reason"),
    [
        (Bybit, "ws_kline.0.0.json", "ignored"),  # kline.5: only 1m bars are used
        (Bybit, "ws_orderbook.0.Snapshot.json", "ignored"),
        (BybitSpot, "ws_orderbook.1.Delta.json", "ignored"),  # orderbook.50
        (Bybit, "ws_tickers.0.LinearFutures.json", "not_followed"),  # BTC-26DEC25
        (Bybit, "ws_tickers.1.Option.json", "not_followed"),
        (Bybit, "ws_allLiquidation.0.0.json", "not_followed"),  # ROSEUSDT
        (BybitSpot, "ws_tickers.2.Spot.json", "ignored"),  # spot tickers carry no bid/ask
        (Bybit, "ws_connect.10.Public_Spot.json", "ignored"),
        (Bybit, "ws_connect.11.Linear-Inverse.json", "ignored"),
        (Bybit, "ws_connect.12.Option-Spread.json", "ignored"),
        (Bybit, "ws_connect.2.Spot.json", "ignored"),
        (Bybit, "ws_connect.3.Linear-Inverse.json", "ignored"),
        (Bybit, "ws_connect.4.Option-Spread.json", "ignored"),
        (Bybit, "ws_connect.5.Option-Spread.json", "ignored"),
        (Bybit, "ws_connect.9.Private.json", "ignored"),
        (Bybit, "ws_connect.6.6.json", "ignored"),  # client requests echoed back
        (Bybit, "ws_connect.7.7.json", "ignored"),
        (Bybit, "ws_connect.8.8.json", "ignored"),
    ],
)
def test_docs_ws_examples_rejected_with_reason(cls: type[Bybit], name: str, reason: str) -> None:
    parser = make(cls, ALL_SYMBOLS).new_parser()
    assert parser.parse(orjson.dumps(docs(name)), RECV_MS) == []
    assert parser.stats.rejected == {reason: 1}


@pytest.mark.real_fixtures
def test_docs_every_example_handled_without_raising() -> None:
    folder = shared_fixture("bybit/docs-examples")
    ws_examples = sorted(folder.glob("ws_*.json"))
    rest_examples = sorted(folder.glob("rest_*.json"))
    assert len(ws_examples) == 20 and len(rest_examples) == 7
    for cls in (Bybit, BybitSpot):
        ex = make(cls, ALL_SYMBOLS)
        parser = ex.new_parser()
        for path in ws_examples:
            rejected_before = sum(parser.stats.rejected.values())
            records = parse_all(parser, [path.read_bytes()])
            accounted = records or sum(parser.stats.rejected.values()) == rejected_before + 1
            # a linear tickers snapshot without bid/ask/funding/OI fields has nothing to emit
            assert accounted or (cls is Bybit and path.name == "ws_tickers.2.Spot.json")
        assert "malformed" not in parser.stats.rejected
        for path in rest_examples:
            payload = orjson.loads(path.read_bytes())
            ex.check_rest_payload(payload)  # every example is a success envelope
            for parse in (
                ex.parse_klines,
                ex.parse_funding_history,
                ex.parse_open_interest_history,
                ex.parse_current_funding,
                ex.parse_current_open_interest,
            ):
                try:
                    records = parse("BTCUSDT", payload, RECV_MS)
                except BadMessage:  # the order book result has no `list` of rows
                    assert path.name == "rest_v5_market_orderbook.0.json"
                    continue
                assert all(RAW.decode(RAW.encode(r)) == r for r in records)


@pytest.mark.real_fixtures
def test_docs_spot_tickers_on_linear_parser_emit_nothing() -> None:
    parser = make().new_parser()
    assert parser.parse(orjson.dumps(docs("ws_tickers.2.Spot.json")), RECV_MS) == []
    assert parser.stats.rejected == {}  # a snapshot without bid/ask/funding: nothing to say


@pytest.mark.real_fixtures
def test_docs_spot_orderbook_snapshot_as_level1() -> None:
    frame = rekey(docs("ws_orderbook.0.Snapshot.json"), "orderbook.50.", "orderbook.1.")
    records = parse_all(make(BybitSpot).new_parser(), [frame])
    assert len(records) == 1 and isinstance(records[0], Ticker)
    t = records[0]
    assert (t.bid, t.bid_size, t.ask, t.ask_size, t.ts_ms) == (
        16493.5,
        0.006,
        16611.0,
        0.029,
        1672304484978,
    )


@pytest.mark.real_fixtures
def test_docs_rest_examples() -> None:
    ex = make()
    klines = ex.parse_klines("BTCUSDT", docs("rest_v5_market_kline.0.0.json"), RECV_MS)
    assert [k.open_time_ms for k in klines] == [1670601600000, 1670605200000, 1670608800000]
    k = klines[0]
    assert (k.open, k.high, k.low, k.close, k.volume, k.closed) == (
        17086.5,
        17088.0,
        16978.0,
        17071.5,
        6356.0,
        True,
    )
    funding = ex.parse_funding_history(
        "ETHUSDT", docs("rest_v5_market_funding_history.0.0.json"), RECV_MS
    )
    assert [(f.symbol, f.ts_ms, f.funding_rate, f.funding_interval_h) for f in funding] == [
        ("ETHUSDT", 1672041600000, 0.0001, 8.0)
    ]
    oi = ex.parse_open_interest_history(
        "BTCUSDT", docs("rest_v5_market_open-interest.0.0.json"), RECV_MS
    )
    assert [(r.ts_ms, r.open_interest) for r in oi] == [
        (1780617600000, 63942311.0),
        (1780704000000, 63942311.0),
        (1780790400000, 63910691.0),
        (1780876800000, 63910691.0),
        (1780963200000, 63910691.0),
    ]
    tickers = docs("rest_v5_market_tickers.0.Inverse.json")
    (current,) = ex.parse_current_funding("BTCUSDT", tickers, RECV_MS)
    assert (current.funding_rate, current.funding_interval_h, current.next_funding_time_ms) == (
        0.0001,
        8.0,
        1760371200000,
    )
    assert (current.mark_price, current.index_price, current.ts_ms) == (
        114898.43,
        114890.92,
        1760352369814,
    )
    (current_oi,) = ex.parse_current_open_interest("BTCUSDT", tickers, RECV_MS)
    assert (current_oi.open_interest, current_oi.open_interest_usd) == (240113967.0, 2089.79)
    spot_tickers = docs("rest_v5_market_tickers.2.Spot.json")
    assert ex.parse_current_funding("BTCUSDT", spot_tickers, RECV_MS) == []
    assert ex.parse_current_open_interest("BTCUSDT", spot_tickers, RECV_MS) == []
    for records in (klines, funding, oi, [current, current_oi]):
        assert all(RAW.decode(RAW.encode(r)) == r for r in records)


# ---------------------------------------------------------------- own fixtures (WS)


@pytest.fixture
def parser() -> VenueParser:
    return make(Bybit, ("BTCUSDT", "ETHUSDT", "SOLUSDT")).new_parser()


def test_trades_values_dedupe_and_unknown_symbol(parser: VenueParser) -> None:
    frames = local("bybit", "ws_publicTrade.jsonl")
    results = [parser.parse(f, RECV_MS) for f in frames]
    assert [len(r) for r in results] == [2, 1, 0, 0]
    buy, sell = results[0]
    assert isinstance(buy, Trade) and isinstance(sell, Trade)
    assert (buy.price, buy.size, buy.side, buy.ts_ms, buy.recv_ms) == (
        36512.3,
        0.015,
        "buy",
        1700000000123,
        RECV_MS,
    )
    assert buy.trade_id == "6d1b6a2e-0c71-5f04-9d2e-4f3b8f1c0001"
    assert (sell.price, sell.size, sell.side) == (36512.2, 0.5, "sell")
    (eth,) = results[1]
    assert isinstance(eth, Trade)
    assert (eth.symbol, eth.price, eth.size, eth.side) == ("ETHUSDT", 2051.17, 1.25, "sell")
    assert parser.stats.rejected == {"duplicate": 1, "not_followed": 1}
    assert parser.stats.emitted == {"trade": 3}


def test_ticker_snapshot_then_deltas_are_merged_and_throttled(parser: VenueParser) -> None:
    frames = local("bybit", "ws_tickers.jsonl")
    out = [parser.parse(f, RECV_MS) for f in frames]
    assert [[r.type for r in records] for records in out] == [
        ["ticker", "funding", "open_interest"],  # snapshot
        ["ticker"],  # bid size changed; the mark moved only 100 ms after the last funding
        [],  # mark moved again, still throttled
        ["funding"],  # >= 1 s since the last funding: the pending mark goes out
        ["funding"],  # a new funding rate is published at once
        ["open_interest"],  # >= 1 s since the last open interest
        [],  # open interest moved 100 ms later: pending
        ["ticker", "open_interest"],  # ask changed; the pending open interest goes out
        [],  # ETHUSDT delta before any snapshot
    ]
    snap_ticker, snap_funding, snap_oi = out[0]
    assert isinstance(snap_ticker, Ticker)
    assert (snap_ticker.bid, snap_ticker.bid_size, snap_ticker.ask, snap_ticker.ask_size) == (
        36512.2,
        3.5,
        36512.3,
        0.75,
    )
    assert isinstance(snap_funding, Funding)
    assert (snap_funding.funding_rate, snap_funding.funding_interval_h) == (0.0001, 8.0)
    assert (snap_funding.next_funding_time_ms, snap_funding.mark_price) == (1700006400000, 36510.5)
    assert isinstance(snap_oi, OpenInterest)
    assert (snap_oi.open_interest, snap_oi.open_interest_usd) == (52774.528, 1926835040.37)

    merged = out[1][0]
    assert isinstance(merged, Ticker)
    assert (merged.bid, merged.bid_size, merged.ask, merged.ask_size, merged.last) == (
        36512.2,
        2.25,
        36512.3,
        0.75,
        36512.3,
    )
    assert merged.ts_ms == 1700000000200
    mark_funding = out[3][0]
    assert isinstance(mark_funding, Funding)
    assert (mark_funding.ts_ms, mark_funding.mark_price, mark_funding.funding_rate) == (
        1700000001150,
        36510.7,
        0.0001,
    )
    new_rate = out[4][0]
    assert isinstance(new_rate, Funding)
    assert (new_rate.funding_rate, new_rate.mark_price, new_rate.index_price) == (
        0.00012,
        36510.7,
        36508.1,
    )
    oi = out[5][0]
    assert isinstance(oi, OpenInterest)
    assert (oi.open_interest, oi.open_interest_usd) == (52780.0, 1927047000.0)
    last_ticker, pending_oi = out[7]
    assert isinstance(last_ticker, Ticker) and isinstance(pending_oi, OpenInterest)
    assert (last_ticker.bid, last_ticker.bid_size, last_ticker.ask, last_ticker.ask_size) == (
        36512.2,
        2.25,
        36512.5,
        1.1,
    )
    assert last_ticker.last == 36512.4
    assert (pending_oi.open_interest, pending_oi.open_interest_usd, pending_oi.ts_ms) == (
        52781.5,
        1927047000.0,
        1700000002400,
    )
    assert parser.stats.rejected == {"no_snapshot": 1}
    for records in out:
        assert all(RAW.decode(RAW.encode(r)) == r for r in records)


def test_ticker_snapshot_resets_state(parser: VenueParser) -> None:
    frames = local("bybit", "ws_tickers.jsonl")
    parse_all(parser, frames[:3])
    again = parse_all(parser, [frames[0]])  # Bybit re-sends a snapshot after a hiccup
    assert [r.type for r in again] == ["ticker", "funding", "open_interest"]
    assert isinstance(again[0], Ticker) and again[0].bid_size == 3.5


def test_bad_ticker_delta_leaves_state_untouched(parser: VenueParser) -> None:
    frames = local("bybit", "ws_tickers.jsonl")
    parser.parse(frames[0], RECV_MS)
    bad = orjson.loads(frames[1])
    bad["data"]["bid1Price"] = "NaN"
    assert parser.parse(orjson.dumps(bad), RECV_MS) == []
    assert parser.stats.rejected == {"malformed": 1}
    (ticker,) = parser.parse(frames[1], RECV_MS)
    assert isinstance(ticker, Ticker) and ticker.bid == 36512.2


def test_crossed_ticker_is_dropped_but_funding_kept(parser: VenueParser) -> None:
    frames = local("bybit", "ws_tickers.jsonl")
    parser.parse(frames[0], RECV_MS)
    crossed = orjson.loads(frames[4])
    crossed["data"]["bid1Price"] = "36600.00"
    records = parser.parse(orjson.dumps(crossed), RECV_MS)
    assert [r.type for r in records] == ["funding"]
    assert parser.stats.rejected == {"crossed_quote": 1}


def test_klines_open_closed_and_other_intervals(parser: VenueParser) -> None:
    frames = local("bybit", "ws_kline.jsonl")
    records = parse_all(parser, frames)
    assert len(records) == 2
    open_bar, closed_bar = records
    assert isinstance(open_bar, Kline) and isinstance(closed_bar, Kline)
    assert (open_bar.open_time_ms, open_bar.ts_ms, open_bar.interval, open_bar.closed) == (
        1699999980000,
        1700000000500,
        "1m",
        False,
    )
    assert (open_bar.open, open_bar.high, open_bar.low, open_bar.close, open_bar.volume) == (
        36500.0,
        36520.0,
        36495.5,
        36512.3,
        12.345,
    )
    assert (closed_bar.closed, closed_bar.close, closed_bar.high, closed_bar.volume) == (
        True,
        36518.0,
        36525.0,
        20.5,
    )
    assert parser.stats.rejected == {"ignored": 1}


def test_liquidations_forced_order_side_is_opposite_of_position(parser: VenueParser) -> None:
    records = parse_all(parser, local("bybit", "ws_allLiquidation.jsonl"))
    got = [
        (r.symbol, r.side, r.price, r.size, r.ts_ms) for r in records if isinstance(r, Liquidation)
    ]
    assert got == [
        ("BTCUSDT", "sell", 36400.5, 0.012, 1700000000400),  # S=Buy: a long was liquidated
        ("BTCUSDT", "buy", 36620.0, 0.5, 1700000000410),  # S=Sell: a short was liquidated
        ("ETHUSDT", "buy", 2060.25, 3.2, 1700000000900),
        ("SOLUSDT", "sell", 56.12, 12.3, 1700000001200),  # deprecated liquidation.S topic
    ]
    assert parser.stats.rejected == {"not_followed": 1}


def test_control_frames(parser: VenueParser) -> None:
    assert parse_all(parser, local("bybit", "ws_control.jsonl")) == []
    assert parser.stats.rejected == {
        "ignored": 3,
        "subscribe_failed": 1,
        "unknown_topic": 1,
    }
    assert "handler not found" in parser.stats.samples["subscribe_failed"]


def test_spot_level1_book(parser: VenueParser) -> None:
    spot = make(BybitSpot, ("BTCUSDT", "ETHUSDT", "SOLUSDT")).new_parser()
    results = [spot.parse(f, RECV_MS) for f in local("bybit_spot", "ws_orderbook.jsonl")]
    assert [len(r) for r in results] == [1, 0, 1, 0, 0]
    first, merged = results[0][0], results[2][0]
    assert isinstance(first, Ticker) and isinstance(merged, Ticker)
    assert (first.exchange, first.market, first.symbol, first.ts_ms) == (
        "bybit_spot",
        "spot",
        "BTCUSDT",
        1700000000010,
    )
    assert (first.bid, first.bid_size, first.ask, first.ask_size, first.last) == (
        36512.2,
        1.5,
        36512.3,
        0.25,
        None,
    )
    assert (merged.bid, merged.bid_size, merged.ask, merged.ask_size) == (
        36512.1,
        2.0,
        36512.3,
        0.25,
    )
    assert spot.stats.rejected == {"empty_book": 1, "ignored": 1, "no_snapshot": 1}
    # the linear parser does not use order books at all
    assert parse_all(parser, local("bybit_spot", "ws_orderbook.jsonl")) == []
    assert parser.stats.rejected == {"ignored": 5}


def test_spot_trades_and_control() -> None:
    spot = make(BybitSpot).new_parser()
    records = parse_all(spot, local("bybit_spot", "ws_publicTrade.jsonl"))
    assert len(records) == 1 and isinstance(records[0], Trade)
    t = records[0]
    assert (t.exchange, t.market, t.price, t.size, t.side, t.trade_id) == (
        "bybit_spot",
        "spot",
        36512.38,
        0.041732,
        "sell",
        "2290000000050703789",
    )
    assert parse_all(spot, local("bybit_spot", "ws_control.jsonl")) == []
    assert spot.stats.rejected == {"not_followed": 1, "ignored": 3}  # BTCUSDC; ack, pong, tickers


def test_spot_parses_klines_like_linear() -> None:
    records = parse_all(make(BybitSpot).new_parser(), local("bybit", "ws_kline.jsonl"))
    assert [(r.exchange, r.market, r.type) for r in records] == [
        ("bybit_spot", "spot", "kline")
    ] * 2


def test_str_and_bytes_frames_parse_alike(parser: VenueParser) -> None:
    frame = local("bybit", "ws_publicTrade.jsonl")[1]
    as_text = parser.parse(frame, RECV_MS)
    other = make().new_parser()
    assert other.parse(frame.encode(), RECV_MS) == as_text != []


# ----------------------------------------------------------------------- bad input

TRADE = orjson.loads(local("bybit", "ws_publicTrade.jsonl")[1])
SNAPSHOT = orjson.loads(local("bybit", "ws_tickers.jsonl")[0])
KLINE = orjson.loads(local("bybit", "ws_kline.jsonl")[0])
LIQ = orjson.loads(local("bybit", "ws_allLiquidation.jsonl")[0])


def edit(template: dict[str, Any], path: Sequence[Any], value: Any) -> bytes:
    """A copy of `template` with the value at `path` replaced (or deleted for ...)."""
    frame = orjson.loads(orjson.dumps(template))
    target = frame
    for key in path[:-1]:
        target = target[key]
    if value is ...:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return orjson.dumps(frame)


BAD_FRAMES: list[tuple[str, str | bytes, str]] = [
    ("not json", "{oops", "malformed"),
    ("binary garbage", b"\x00\xff\xfe\x80", "malformed"),
    ("empty", "", "malformed"),
    ("json array", "[1, 2]", "malformed"),
    ("json null", "null", "malformed"),
    ("no topic", '{"data": []}', "malformed"),
    ("topic not a string", '{"topic": 5, "data": []}', "malformed"),
    ("unknown topic", '{"topic": "somethingNew.BTCUSDT", "data": []}', "unknown_topic"),
    ("trade price NaN", edit(TRADE, ["data", 0, "p"], "NaN"), "malformed"),
    ("trade price zero", edit(TRADE, ["data", 0, "p"], "0"), "malformed"),
    ("trade price negative", edit(TRADE, ["data", 0, "p"], "-2051.17"), "malformed"),
    ("trade size negative", edit(TRADE, ["data", 0, "v"], "-1"), "malformed"),
    ("trade size infinite", edit(TRADE, ["data", 0, "v"], "inf"), "malformed"),
    ("trade side unknown", edit(TRADE, ["data", 0, "S"], "Hold"), "malformed"),
    ("trade id missing", edit(TRADE, ["data", 0, "i"], ...), "malformed"),
    ("trade id empty", edit(TRADE, ["data", 0, "i"], ""), "malformed"),
    ("trade id null", edit(TRADE, ["data", 0, "i"], None), "malformed"),
    ("trade time missing", edit(TRADE, ["data", 0, "T"], ...), "malformed"),
    ("trade time in seconds", edit(TRADE, ["data", 0, "T"], 1700000000), "malformed"),
    ("trade time infinite", edit(TRADE, ["data", 0, "T"], 1e400), "malformed"),
    ("trade data not a list", edit(TRADE, ["data"], {"p": "1"}), "malformed"),
    ("trade item not a dict", edit(TRADE, ["data", 0], "x"), "malformed"),
    ("trade symbol not followed", edit(TRADE, ["topic"], "publicTrade.FOOUSDT"), "not_followed"),
    ("trade unknown symbol", edit(TRADE, ["topic"], "publicTrade.FOO"), "unknown_symbol"),
    ("ticker type unknown", edit(SNAPSHOT, ["type"], "update"), "malformed"),
    ("ticker ts missing", edit(SNAPSHOT, ["ts"], ...), "malformed"),
    ("ticker bid negative", edit(SNAPSHOT, ["data", "bid1Price"], "-1"), "malformed"),
    ("ticker rate out of range", edit(SNAPSHOT, ["data", "fundingRate"], "1.5"), "malformed"),
    (
        "ticker next funding garbage",
        edit(SNAPSHOT, ["data", "nextFundingTime"], "soon"),
        "malformed",
    ),
    ("ticker data a list", edit(SNAPSHOT, ["data"], []), "malformed"),
    ("kline high below low", edit(KLINE, ["data", 0, "high"], "1.0"), "malformed"),
    ("kline confirm a string", edit(KLINE, ["data", 0, "confirm"], "true"), "malformed"),
    ("kline start missing", edit(KLINE, ["data", 0, "start"], ...), "malformed"),
    ("liquidation side unknown", edit(LIQ, ["data", 0, "S"], "Long"), "malformed"),
    ("liquidation price zero", edit(LIQ, ["data", 1, "p"], "0.0"), "malformed"),
    (
        "failed subscribe",
        '{"success": false, "ret_msg": "bad", "op": "subscribe"}',
        "subscribe_failed",
    ),
]


@pytest.mark.parametrize(
    ("frame", "reason"), [c[1:] for c in BAD_FRAMES], ids=[c[0] for c in BAD_FRAMES]
)
def test_bad_frames_rejected_with_reason(frame: str | bytes, reason: str) -> None:
    parser = make().new_parser()
    assert parser.parse(frame, RECV_MS) == []
    assert parser.stats.rejected == {reason: 1}
    assert parser.stats.emitted == {}
    assert reason in parser.stats.samples


def test_invalid_trade_frame_claims_no_ids(parser: VenueParser) -> None:
    frame = orjson.loads(local("bybit", "ws_publicTrade.jsonl")[0])
    frame["data"][1]["p"] = "NaN"
    assert parser.parse(orjson.dumps(frame), RECV_MS) == []
    assert len(parser.parse(local("bybit", "ws_publicTrade.jsonl")[0], RECV_MS)) == 2


# --------------------------------------------------------------------------- fuzzing


def json_value() -> st.SearchStrategy[Any]:
    """JSON values a fuzzed field may take, biased toward near-valid numbers and strings."""
    int64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
    return st.one_of(
        st.none(),
        st.booleans(),
        int64,
        st.integers(min_value=1_230_000_000_000, max_value=4_200_000_000_000),
        st.floats(allow_nan=False, allow_infinity=False),
        st.floats(min_value=0.0, max_value=1e9).map(repr),
        st.sampled_from(["0", "-1", "NaN", "inf", "1e400", "", "Buy", "Sell", "snapshot", "delta"]),
        st.text(max_size=6),
        st.lists(st.text(max_size=6), max_size=2),
        st.dictionaries(st.text(max_size=2), int64, max_size=2),
    )


def templates(*names: tuple[str, str]) -> list[dict[str, Any]]:
    return [orjson.loads(f) for venue, name in names for f in local(venue, name)]


LINEAR_TEMPLATES = templates(
    ("bybit", "ws_publicTrade.jsonl"),
    ("bybit", "ws_tickers.jsonl"),
    ("bybit", "ws_kline.jsonl"),
    ("bybit", "ws_allLiquidation.jsonl"),
    ("bybit", "ws_control.jsonl"),
)
SPOT_TEMPLATES = templates(
    ("bybit_spot", "ws_orderbook.jsonl"),
    ("bybit_spot", "ws_publicTrade.jsonl"),
    ("bybit", "ws_kline.jsonl"),
)


@st.composite
def mutated_frame(draw: st.DrawFn, pool: Sequence[dict[str, Any]]) -> bytes:
    """A valid frame with random deletions and replacements, at the top level, in `data` and
    in its first item or book level."""
    frame = orjson.loads(orjson.dumps(draw(st.sampled_from(pool))))
    targets: list[Any] = [frame]
    data = frame.get("data")
    if isinstance(data, dict):
        targets += [data] + [v for v in data.values() if isinstance(v, list) and v]
    elif isinstance(data, list) and data:
        targets += [data[0]]
    for _ in range(draw(st.integers(min_value=0, max_value=4))):
        target = draw(st.sampled_from(targets))
        keys = list(range(len(target))) if isinstance(target, list) else sorted(target)
        if not keys:
            continue
        key = draw(st.sampled_from(keys))
        if isinstance(target, dict) and draw(st.booleans()):
            del target[key]
        else:
            target[key] = draw(json_value())
    return orjson.dumps(frame)


@given(st.one_of(st.text(), st.binary()))
def test_fuzz_arbitrary_input_never_raises(frame: str | bytes) -> None:
    for cls in (Bybit, BybitSpot):
        parser = make(cls).new_parser()
        assert parser.parse(frame, RECV_MS) == []


@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=300)
@given(
    st.sampled_from([(Bybit, LINEAR_TEMPLATES), (BybitSpot, SPOT_TEMPLATES)]).flatmap(
        lambda pair: st.tuples(st.just(pair[0]), st.lists(mutated_frame(pair[1]), max_size=6))
    )
)
def test_fuzz_mutated_frames_never_raise_and_round_trip(
    case: tuple[type[Bybit], list[bytes]],
) -> None:
    cls, frames = case
    parser = make(cls, ("BTCUSDT", "ETHUSDT", "SOLUSDT")).new_parser()
    records = parse_all(parser, frames)  # round-trips every record through schemas.RAW
    assert sum(parser.stats.emitted.values()) == len(records)


# ------------------------------------------------------------ subscriptions and REST


def subscribed(plan_frames: Sequence[str]) -> list[list[str]]:
    return [orjson.loads(frame)["args"] for frame in plan_frames]


def test_class_settings() -> None:
    assert (Bybit.name, Bybit.market, BybitSpot.name, BybitSpot.market) == (
        "bybit",
        "perp",
        "bybit_spot",
        "spot",
    )
    assert Bybit.ping_interval_s == 20.0 and BybitSpot.ping_interval_s == 20.0
    assert Bybit.max_streams_per_connection == 200
    assert (Bybit.kline_page_limit, Bybit.funding_page_limit, Bybit.oi_page_limit) == (
        1000,
        200,
        200,
    )
    assert (Bybit.oi_period_ms, Bybit.rest_weight_per_minute) == (300_000, 6000)
    ping = orjson.loads(make().ping_message() or "")
    assert ping["op"] == "ping" and ping["req_id"]


def test_ws_connections_three_symbols() -> None:
    (plan,) = make(Bybit, ("BTCUSDT", "ETHUSDT", "SOLUSDT")).ws_connections()
    assert (plan.label, plan.url) == ("bybit#0", "wss://stream.bybit.com/v5/public/linear")
    assert plan.symbols == ("BTCUSDT", "ETHUSDT", "SOLUSDT")
    (frame,) = plan.subscribe
    msg = orjson.loads(frame)
    assert (msg["op"], msg["req_id"]) == ("subscribe", "sub-0")
    assert msg["args"] == [
        f"{topic}.{s}"
        for s in ("BTCUSDT", "ETHUSDT", "SOLUSDT")
        for topic in ("publicTrade", "tickers", "kline.1", "allLiquidation")
    ]
    (spot,) = make(BybitSpot, ("BTCUSDT", "ETHUSDT", "SOLUSDT")).ws_connections()
    assert (spot.label, spot.url) == ("bybit_spot#0", "wss://stream.bybit.com/v5/public/spot")
    args = subscribed(spot.subscribe)
    assert [len(a) for a in args] == [9]
    assert args[0][:3] == ["publicTrade.BTCUSDT", "orderbook.1.BTCUSDT", "kline.1.BTCUSDT"]


def test_ws_connections_fifty_symbols() -> None:
    symbols = ALL_SYMBOLS[:50]
    (plan,) = make(Bybit, symbols).ws_connections()  # 200 topics: exactly one connection
    args = subscribed(plan.subscribe)
    assert [len(a) for a in args] == [100, 100]
    assert all(len(",".join(a)) < 21_000 for a in args)
    assert len({orjson.loads(f)["req_id"] for f in plan.subscribe}) == 2
    (spot,) = make(BybitSpot, symbols).ws_connections()
    spot_args = subscribed(spot.subscribe)
    assert [len(a) for a in spot_args] == [10] * 15  # spot: at most 10 args per request
    assert [arg for args in spot_args for arg in args] == [
        f"{topic}.{s}" for s in symbols for topic in ("publicTrade", "orderbook.1", "kline.1")
    ]


def test_ws_connections_split_at_200_topics_and_simulator_url() -> None:
    listed = make(Bybit, ALL_SYMBOLS).catalog  # NOPEUSDT is not listed
    plans = Bybit([*ALL_SYMBOLS, "NOPEUSDT"], "ws://127.0.0.1:9999/bybit/", REST_URL, listed)
    first, *rest = plans.ws_connections()
    assert rest == []  # 50 table symbols fit; the unknown one is not served
    assert first.url == "ws://127.0.0.1:9999/bybit/v5/public/linear"

    class SmallConnections(Bybit):
        max_streams_per_connection = 12

    plans_small = SmallConnections(ALL_SYMBOLS, WS_URL, REST_URL).ws_connections()
    assert [p.label for p in plans_small[:2]] == ["bybit#0", "bybit#1"]
    assert [len(p.symbols) for p in plans_small] == [3] * 16 + [2]
    assert make(Bybit, ()).ws_connections() == []


def test_rest_requests() -> None:
    ex = make()
    kl = ex.klines_request("BTCUSDT", 1_700_000_000_000, 1_700_059_940_000)
    assert (kl.path, kl.weight) == ("/v5/market/kline", 1)
    assert kl.params == {
        "category": "linear",
        "symbol": "BTCUSDT",
        "interval": "1",
        "start": "1700000000000",
        "end": "1700059940000",
        "limit": "1000",
    }
    fh = ex.funding_history_request("ETHUSDT", 1, 2)
    assert fh is not None and fh.path == "/v5/market/funding/history"
    assert fh.params == {
        "category": "linear",
        "symbol": "ETHUSDT",
        "startTime": "1",
        "endTime": "2",
        "limit": "200",
    }
    oi = ex.open_interest_history_request("BTCUSDT", 3, 4)
    assert oi is not None and oi.path == "/v5/market/open-interest"
    assert oi.params == {
        "category": "linear",
        "symbol": "BTCUSDT",
        "intervalTime": "5min",
        "startTime": "3",
        "endTime": "4",
        "limit": "200",
    }
    for request in (
        ex.current_funding_request("BTCUSDT"),
        ex.current_open_interest_request("BTCUSDT"),
    ):
        assert request is not None
        assert (request.path, request.params) == (
            "/v5/market/tickers",
            {"category": "linear", "symbol": "BTCUSDT"},
        )
    spot = make(BybitSpot)
    assert spot.klines_request("BTCUSDT", 1, 2).params["category"] == "spot"
    assert spot.funding_history_request("BTCUSDT", 1, 2) is None
    assert spot.open_interest_history_request("BTCUSDT", 1, 2) is None
    assert spot.current_funding_request("BTCUSDT") is None
    assert spot.current_open_interest_request("BTCUSDT") is None


def test_rest_klines_from_fixture() -> None:
    payload = local_json("bybit", "rest_kline.json")
    make().check_rest_payload(payload)
    klines = make().parse_klines("BTCUSDT", payload, RECV_MS)
    assert [(k.open_time_ms, k.closed) for k in klines] == [
        (1699999920000, True),
        (1699999980000, True),
        (1700000040000, False),  # start + 60 s is after RECV_MS: still open
    ]  # the row with open price 0 is skipped
    k = klines[1]
    assert (k.open, k.high, k.low, k.close, k.volume, k.ts_ms, k.recv_ms) == (
        36500.0,
        36520.0,
        36495.5,
        36518.0,
        20.5,
        1699999980000,
        RECV_MS,
    )
    spot = make(BybitSpot).parse_klines(
        "BTCUSDT", local_json("bybit_spot", "rest_kline.json"), RECV_MS
    )
    assert [(k.exchange, k.market, k.open) for k in spot] == [
        ("bybit_spot", "spot", 36500.01),
        ("bybit_spot", "spot", 36518.01),
    ]
    assert all(RAW.decode(RAW.encode(r)) == r for r in klines + spot)


def test_rest_funding_and_open_interest_from_fixtures() -> None:
    ex = make()
    history = ex.parse_funding_history(
        "BTCUSDT", local_json("bybit", "rest_funding_history.json"), RECV_MS
    )
    assert [(f.ts_ms, f.funding_rate, f.funding_interval_h) for f in history] == [
        (1699948800000, -0.00005, 8.0),
        (1699977600000, 0.0001, 8.0),
    ]
    oi = ex.parse_open_interest_history(
        "BTCUSDT", local_json("bybit", "rest_open_interest.json"), RECV_MS
    )
    assert [(r.ts_ms, r.open_interest, r.open_interest_usd) for r in oi] == [
        (1699999800000, 52700.0, None),
        (1700000100000, 52774.528, None),
    ]
    tickers = local_json("bybit", "rest_tickers.json")
    (funding,) = ex.parse_current_funding("BTCUSDT", tickers, RECV_MS)
    assert (funding.ts_ms, funding.funding_rate, funding.next_funding_time_ms) == (
        1700000000321,
        0.0001,
        1700006400000,
    )
    assert (funding.mark_price, funding.index_price, funding.funding_interval_h) == (
        36510.5,
        36508.1,
        8.0,
    )
    (current_oi,) = ex.parse_current_open_interest("BTCUSDT", tickers, RECV_MS)
    assert (current_oi.open_interest, current_oi.open_interest_usd) == (52774.528, 1926835040.37)
    assert all(RAW.decode(RAW.encode(r)) == r for r in [*history, *oi, funding, current_oi])


def test_rest_funding_interval_learned_from_tickers() -> None:
    ex = make()
    tickers = local_json("bybit", "rest_tickers.json")
    tickers["result"]["list"][0]["fundingIntervalHour"] = "4"
    (funding,) = ex.parse_current_funding("BTCUSDT", tickers, RECV_MS)
    assert funding.funding_interval_h == 4.0
    history = ex.parse_funding_history(
        "BTCUSDT", local_json("bybit", "rest_funding_history.json"), RECV_MS
    )
    assert {f.funding_interval_h for f in history} == {4.0}
    other = ex.parse_funding_history(
        "ETHUSDT", local_json("bybit", "rest_funding_history.json"), RECV_MS
    )
    assert {f.funding_interval_h for f in other} == {8.0}


@pytest.mark.parametrize(
    "payload",
    [
        local_json("bybit", "rest_error.json"),
        {"retCode": "0", "result": {"list": []}},
        {"retMsg": "OK"},
        [],
        None,
        "Forbidden",
    ],
)
def test_check_rest_payload_rejects_errors(payload: Any) -> None:
    with pytest.raises(BadMessage):
        make().check_rest_payload(payload)


@pytest.mark.parametrize(
    "payload",
    [None, [], {"retCode": 0}, {"result": None}, {"result": []}, {"result": {"list": {}}}],
)
def test_rest_parsers_reject_malformed_envelopes(payload: Any) -> None:
    ex = make()
    with pytest.raises(BadMessage):
        ex.parse_klines("BTCUSDT", payload, RECV_MS)
    with pytest.raises(BadMessage):
        ex.parse_open_interest_history("BTCUSDT", payload, RECV_MS)
