"""Binance USDⓈ-M futures venue module: exact values from real captures and docs examples
(../shared/fixtures) and from the repo's own frames (tests/fixtures/exchanges/binance_futures),
rejection reasons, fuzzing, stream plans, and the funding / open-interest REST endpoints."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from microservices.common.errors import BadMessage
from microservices.common.records import Funding, Kline, Liquidation, OpenInterest, Ticker, Trade
from microservices.data_collector.exchanges.base import VenueParser
from microservices.data_collector.exchanges.binance.futures import (
    BinanceFutures,
    BinanceFuturesParser,
)
from tests.fixture_paths import capture_frames, local_fixture, shared_fixture, tardis_frames
from tests.unit.exchanges.test_binance import (
    ALL_SYMBOLS,
    FUZZ,
    RECV_MS,
    any_symbol,
    assert_round_trip,
    count_types,
    mutated_frame,
    parse_all,
)

WS_URL = "wss://fstream.binance.com"
REST_URL = "https://fapi.binance.com"
TARDIS = "binance-futures/ws/tardis-node_mappers-test_samples.jsonl"
HEADER: dict[str, Any] = {"exchange": "binance_futures", "market": "perp", "recv_ms": RECV_MS}


def make(
    symbols: tuple[str, ...] | list[str] = ("BTCUSDT", "ETHUSDT", "SOLUSDT"),
) -> BinanceFutures:
    return BinanceFutures(symbols, WS_URL, REST_URL)


def local_frames(name: str) -> list[str]:
    return list(capture_frames(local_fixture(f"exchanges/binance_futures/{name}")))


def local_json(name: str) -> Any:
    return orjson.loads(local_fixture(f"exchanges/binance_futures/{name}").read_bytes())


def docs_json(name: str) -> Any:
    return orjson.loads(shared_fixture(f"binance-futures/docs-examples/{name}").read_bytes())


@pytest.fixture
def parser() -> VenueParser:
    return make().new_parser()


FUTURES_TEMPLATES: list[dict[str, Any]] = [
    orjson.loads(frame)
    for name in (
        "ws_aggTrade.jsonl",
        "ws_bookTicker.jsonl",
        "ws_kline.jsonl",
        "ws_markPrice.jsonl",
        "ws_forceOrder.jsonl",
        "ws_trade.jsonl",
    )
    for frame in local_frames(name)[:2]
]


# ------------------------------------------------------------------ real captures


def _tardis_expected(frames: list[str]) -> tuple[Counter[str], Counter[str]]:
    """Records and rejections expected from the tardis sample, counted from stream names."""
    emitted: Counter[str] = Counter()
    rejected: Counter[str] = Counter()
    for frame in frames:
        msg = orjson.loads(frame)
        symbol, _, stream = msg["stream"].partition("@")
        data = msg["data"]
        if stream == "aggTrade":
            # 2019 futures aggTrade payloads had no aggregate id `a`
            emitted["trade"] += "a" in data
            rejected["malformed"] += "a" not in data
        elif stream == "trade":
            market = data.get("X", "MARKET") == "MARKET"
            emitted["trade"] += market
            rejected["ignored"] += not market
        elif stream.startswith("markPrice"):
            known = symbol.upper() in ALL_SYMBOLS
            emitted["funding"] += known
            rejected["not_followed"] += not known  # BTCBUSD_210129: named, not followed
        elif stream == "forceOrder":
            emitted["liquidation"] += 1
        elif stream == "bookTicker":
            emitted["ticker"] += 1
        elif stream == "openInterest":  # tardis-generated, not a venue payload
            rejected["unknown_event"] += 1
        else:  # 24hrTicker, depth updates and snapshots
            rejected["ignored"] += 1
    return +emitted, +rejected


@pytest.mark.real_fixtures
def test_tardis_futures_samples_counts() -> None:
    frames = [frame for frame, _ in tardis_frames(shared_fixture(TARDIS))]
    parser = make(ALL_SYMBOLS).new_parser()

    records = parse_all(parser, frames)

    emitted, rejected = _tardis_expected(frames)
    assert count_types(records) == emitted
    assert emitted == {"trade": 2, "funding": 2, "liquidation": 1, "ticker": 1}
    assert parser.stats.rejected == rejected
    assert sum(rejected.values()) + len(records) == len(frames) == 15


@pytest.mark.real_fixtures
def test_tardis_futures_sample_values() -> None:
    frames = [frame for frame, _ in tardis_frames(shared_fixture(TARDIS))]
    records = parse_all(make(ALL_SYMBOLS).new_parser(), frames)
    btc: dict[str, Any] = {**HEADER, "symbol": "BTCUSDT", "venue_symbol": "BTCUSDT",
                           "group": "BTCUSDT", "quote": "USDT"}  # fmt: skip

    assert [r for r in records if isinstance(r, Trade)] == [
        Trade(
            **btc, ts_ms=1574381164086, price=7627.6, size=0.044, side="buy", trade_id="10934580"
        ),
        Trade(
            **btc,
            ts_ms=1596240000519,
            price=11343.67,
            size=0.467,
            side="sell",
            trade_id="173525189",
        ),
    ]
    assert [r for r in records if isinstance(r, Funding)] == [
        Funding(  # 2019 markPrice: no index price yet
            **btc,
            ts_ms=1569888003001,
            funding_rate=0.0001,
            funding_interval_h=8.0,
            next_funding_time_ms=1569916800000,
            mark_price=8291.34697815,
            index_price=None,
        ),
        Funding(
            **btc,
            ts_ms=1597536008000,
            funding_rate=0.0001564,
            funding_interval_h=8.0,
            next_funding_time_ms=1597564800000,
            mark_price=11857.56,
            index_price=11851.86949091,
        ),
    ]
    assert [r for r in records if isinstance(r, Liquidation)] == [
        Liquidation(**btc, ts_ms=1584059031421, price=4706.04, size=0.014, side="buy")
    ]
    assert [r for r in records if isinstance(r, Ticker)] == [
        Ticker(
            **btc,
            ts_ms=1612137603571,  # futures bookTicker carries its event time E
            bid=33134.42,
            bid_size=0.17,
            ask=33139.39,
            ask_size=0.38,
        )
    ]


@pytest.mark.real_fixtures
def test_docs_mark_price_update() -> None:
    parser = make().new_parser()
    [funding] = parse_all(parser, [orjson.dumps(docs_json("ws_markPriceUpdate.json"))])
    assert funding == Funding(
        **HEADER,
        symbol="BTCUSDT",
        venue_symbol="BTCUSDT",
        group="BTCUSDT",
        quote="USDT",
        ts_ms=1562305380000,
        funding_rate=0.00038167,
        funding_interval_h=8.0,
        next_funding_time_ms=1562306400000,
        mark_price=11794.15,
        index_price=11784.62659091,
    )


@pytest.mark.real_fixtures
def test_docs_force_orders() -> None:
    frames = [orjson.dumps(docs_json("ws_forceOrder.json"))]
    frames += [orjson.dumps(item) for item in docs_json("ws_forceOrder.forum-2022-real.json")]
    records = parse_all(make().new_parser(), frames)
    assert [(r.price, r.size, r.side, r.ts_ms, r.symbol) for r in records] == [  # type: ignore[union-attr]
        (9910.0, 0.014, "sell", 1568014460893, "BTCUSDT"),
        # real 2022 payloads: the average fill price `ap`, not the order price `p`
        (39021.0, 0.288, "sell", 1650898329196, "BTCUSDT"),
        (38986.5, 0.004, "sell", 1650898336320, "BTCUSDT"),
    ]
    assert count_types(records) == {"liquidation": 3}


@pytest.mark.real_fixtures
def test_docs_premium_index() -> None:
    payload = docs_json("rest_fapi_v1_premiumIndex.symbol.json")
    [funding] = make().parse_current_funding("BTCUSDT", payload, RECV_MS)
    assert_round_trip([funding])
    assert funding == Funding(
        **HEADER,
        symbol="BTCUSDT",
        venue_symbol="BTCUSDT",
        group="BTCUSDT",
        quote="USDT",
        ts_ms=1597370495002,
        funding_rate=0.00038246,
        funding_interval_h=8.0,
        next_funding_time_ms=1597392000000,
        mark_price=11793.63104562,
        index_price=11781.8049597,
    )


@pytest.mark.real_fixtures
def test_docs_open_interest_history() -> None:
    payload = docs_json("rest_futures_data_openInterestHist.json")
    [oi] = make().parse_open_interest_history("BTCUSDT", payload, RECV_MS)
    assert_round_trip([oi])
    assert oi == OpenInterest(
        **HEADER,
        symbol="BTCUSDT",
        venue_symbol="BTCUSDT",
        group="BTCUSDT",
        quote="USDT",
        ts_ms=1616438700000,
        open_interest=34085.0,
        open_interest_usd=1927265695.27131325,
    )


@pytest.mark.real_fixtures
def test_docs_rest_klines_row_layout_is_shared_with_spot() -> None:
    payload = orjson.loads(
        shared_fixture("binance/docs-examples/rest_api_v3_klines.0.json").read_bytes()
    )
    [kline] = make().parse_klines("ETHUSDT", payload, RECV_MS)
    assert (kline.exchange, kline.market, kline.symbol) == ("binance_futures", "perp", "ETHUSDT")
    assert (kline.open_time_ms, kline.high, kline.volume, kline.closed) == (
        1499040000000,
        0.8,
        148976.11427815,
        True,
    )


# ------------------------------------------------------------------ own frames


def test_agg_trades(parser: VenueParser) -> None:
    records = parse_all(parser, local_frames("ws_aggTrade.jsonl"))
    assert [(r.symbol, r.trade_id, r.price, r.size, r.side, r.ts_ms) for r in records] == [  # type: ignore[union-attr]
        ("BTCUSDT", "1900123456", 36530.1, 0.25, "buy", 1700000000121),
        ("ETHUSDT", "900111222", 2052.48, 3.117, "sell", 1700000000240),
    ]
    assert {(r.exchange, r.market) for r in records} == {("binance_futures", "perp")}
    assert parser.stats.rejected == {"duplicate": 1, "not_followed": 1}  # 1000PEPEUSDT


def test_book_tickers_use_event_time(parser: VenueParser) -> None:
    records = parse_all(parser, local_frames("ws_bookTicker.jsonl"))
    assert records == [
        Ticker(
            **HEADER,
            symbol="BTCUSDT",
            venue_symbol="BTCUSDT",
            group="BTCUSDT",
            quote="USDT",
            ts_ms=1700000000494,
            bid=36530.0,
            bid_size=7.123,
            ask=36530.1,
            ask_size=0.004,
        ),
        Ticker(
            **HEADER,
            symbol="SOLUSDT",
            venue_symbol="SOLUSDT",
            group="SOLUSDT",
            quote="USDT",
            ts_ms=1700000000505,
            bid=56.14,
            bid_size=812.0,
            ask=56.15,
            ask_size=95.0,
        ),
    ]


def test_klines(parser: VenueParser) -> None:
    first, last = parse_all(parser, local_frames("ws_kline.jsonl"))
    assert first == Kline(
        **HEADER,
        symbol="ETHUSDT",
        venue_symbol="ETHUSDT",
        group="ETHUSDT",
        quote="USDT",
        ts_ms=1700000000695,
        open_time_ms=1699999980000,
        interval="1m",
        open=2050.0,
        high=2053.1,
        low=2049.55,
        close=2052.48,
        volume=1834.12,
        closed=False,
    )
    assert isinstance(last, Kline)
    assert (last.closed, last.close, last.volume, last.ts_ms) == (
        True,
        2051.9,
        2500.0,
        1700000040001,
    )


def test_mark_price_funding(parser: VenueParser) -> None:
    records = parse_all(parser, local_frames("ws_markPrice.jsonl"))
    assert records == [
        Funding(
            **HEADER,
            symbol="BTCUSDT",
            venue_symbol="BTCUSDT",
            group="BTCUSDT",
            quote="USDT",
            ts_ms=1700000001000,
            funding_rate=0.00012831,
            funding_interval_h=8.0,
            next_funding_time_ms=1700006400000,
            mark_price=36531.2,
            index_price=36515.4326087,
        ),
        Funding(
            **HEADER,
            symbol="ETHUSDT",
            venue_symbol="ETHUSDT",
            group="ETHUSDT",
            quote="USDT",
            ts_ms=1700000001000,
            funding_rate=-0.000025,
            funding_interval_h=8.0,
            next_funding_time_ms=1700006400000,
            mark_price=2052.61,
            index_price=None,
        ),
    ]
    assert parser.stats.rejected == {"ignored": 1}  # delivery contract: r == ""


def test_mark_price_without_next_funding_time(parser: VenueParser) -> None:
    frame = {"e": "markPriceUpdate", "E": RECV_MS, "s": "BTCUSDT", "p": "1.5", "r": "0", "T": 0}
    [funding] = parse_all(parser, [orjson.dumps(frame)])
    assert isinstance(funding, Funding)
    assert (funding.next_funding_time_ms, funding.funding_rate, funding.index_price) == (
        None,
        0.0,
        None,
    )


def test_force_orders_fall_back_to_order_price_and_qty(parser: VenueParser) -> None:
    records = parse_all(parser, local_frames("ws_forceOrder.jsonl"))
    assert records == [
        Liquidation(
            **HEADER,
            symbol="BTCUSDT",
            venue_symbol="BTCUSDT",
            group="BTCUSDT",
            quote="USDT",
            ts_ms=1700000002001,
            price=36410.5,  # average fill price
            size=0.15,
            side="sell",  # a long was liquidated
        ),
        Liquidation(
            **HEADER,
            symbol="ETHUSDT",
            venue_symbol="ETHUSDT",
            group="ETHUSDT",
            quote="USDT",
            ts_ms=1700000003002,
            price=2071.0,  # ap == "0": nothing filled yet, the order price
            size=4.0,  # z == "0": the order quantity
            side="buy",
        ),
    ]


def test_trades_keep_market_fills_only(parser: VenueParser) -> None:
    records = parse_all(parser, local_frames("ws_trade.jsonl"))
    assert [(r.symbol, r.trade_id, r.price, r.side) for r in records] == [  # type: ignore[union-attr]
        ("BTCUSDT", "4100000004", 36530.2, "buy"),
        ("ETHUSDT", "2200000014", 2052.01, "sell"),  # no X: older payloads, kept
    ]
    assert parser.stats.rejected == {"ignored": 1}  # INSURANCE_FUND


def test_control_frames_ignored(parser: VenueParser) -> None:
    assert parse_all(parser, local_frames("ws_control.jsonl")) == []
    assert parser.stats.rejected == {"ignored": 3}


# ------------------------------------------------------------------ malformed input

MARK = {
    "e": "markPriceUpdate",
    "E": RECV_MS,
    "s": "BTCUSDT",
    "p": "10",
    "i": "10",
    "r": "0.0001",
    "T": RECV_MS,
}
ORDER = {"s": "BTCUSDT", "S": "SELL", "q": "1", "p": "10", "ap": "10", "z": "1", "T": RECV_MS}
BOOK = {"e": "bookTicker", "E": RECV_MS, "s": "BTCUSDT", "b": "10", "B": "1", "a": "11", "A": "1"}


def frame_of(payload: dict[str, Any], **changes: Any) -> str:
    data = {k: v for k, v in {**payload, **changes}.items() if v is not None}
    return orjson.dumps({"stream": "btcusdt@x", "data": data}).decode()


def force_order(**changes: Any) -> str:
    order = {k: v for k, v in {**ORDER, **changes}.items() if v is not None}
    return frame_of({"e": "forceOrder", "E": RECV_MS, "o": order})


BAD_FRAMES: list[tuple[str, str | bytes, str]] = [
    ("invalid_json", '{"e": "markPriceUpdate", ', "malformed"),
    ("bytes_garbage", b"\xff\xd8\xff\xe0\x00\x10JFIF", "malformed"),
    ("rate_nan", frame_of(MARK, r="NaN"), "malformed"),
    ("rate_out_of_range", frame_of(MARK, r="1.5"), "malformed"),
    ("rate_wrong_type", frame_of(MARK, r=[0.0001]), "malformed"),
    ("mark_zero", frame_of(MARK, p="0"), "malformed"),
    ("mark_inf", frame_of(MARK, p="inf"), "malformed"),
    ("index_negative", frame_of(MARK, i="-10"), "malformed"),
    ("mark_missing_time", frame_of(MARK, E=None), "malformed"),
    ("mark_bad_next_time", frame_of(MARK, T="soon"), "malformed"),
    ("delivery_contract", frame_of(MARK, r=""), "ignored"),
    ("mark_not_followed", frame_of(MARK, s="NKNUSDT"), "not_followed"),
    ("mark_unknown_symbol", frame_of(MARK, s="NKNXYZ"), "unknown_symbol"),
    ("liq_bad_side", force_order(S="SIDEWAYS"), "malformed"),
    ("liq_lowercase_side", force_order(S="sell"), "malformed"),
    ("liq_negative_fill_price", force_order(ap="-1"), "malformed"),
    ("liq_nan_fill_qty", force_order(z="NaN"), "malformed"),
    ("liq_zero_price_no_fill", force_order(ap="0", p="0"), "malformed"),
    ("liq_missing_order", frame_of({"e": "forceOrder", "E": RECV_MS}), "malformed"),
    ("liq_missing_time", force_order(T=None), "malformed"),
    ("liq_not_followed", force_order(s="ETHBTC"), "not_followed"),
    ("book_missing_event_time", frame_of(BOOK, E=None), "malformed"),
    ("book_crossed", frame_of(BOOK, b="11.5"), "malformed"),
    ("book_without_e_needs_time", frame_of(BOOK, e=None, E=None, u=5), "malformed"),
    ("trade_adl", frame_of({"e": "trade", "s": "BTCUSDT", "X": "ADL"}), "ignored"),
    ("unknown_event", frame_of(MARK, e="newEventType"), "unknown_event"),
    ("contract_info", frame_of({"e": "contractInfo", "E": RECV_MS, "s": "BTCUSDT"}), "ignored"),
]


@pytest.mark.parametrize(
    ("frame", "reason"), [c[1:] for c in BAD_FRAMES], ids=[c[0] for c in BAD_FRAMES]
)
def test_bad_frames_rejected_with_reason(
    parser: VenueParser, frame: str | bytes, reason: str
) -> None:
    assert parser.parse(frame, RECV_MS) == []
    assert parser.stats.rejected == {reason: 1}
    assert parser.stats.emitted == {}


def test_good_variants_of_the_bad_frames_parse(parser: VenueParser) -> None:
    records = parse_all(parser, [frame_of(MARK), force_order(), frame_of(BOOK)])
    assert count_types(records) == {"funding": 1, "liquidation": 1, "ticker": 1}
    assert parser.stats.rejected == {}


# ------------------------------------------------------------------ fuzzing


@FUZZ
@given(st.one_of(st.text(), st.binary()))
def test_fuzz_arbitrary_input_never_raises(frame: str | bytes) -> None:
    assert_round_trip(make().new_parser().parse(frame, RECV_MS))


@FUZZ
@given(st.lists(mutated_frame(FUTURES_TEMPLATES), min_size=1, max_size=5))
def test_fuzz_mutated_frames_never_raise_and_round_trip(frames: list[bytes]) -> None:
    parser = make(ALL_SYMBOLS).new_parser()
    records = parse_all(parser, frames)
    assert sum(parser.stats.emitted.values()) == len(records)
    assert sum(parser.stats.rejected.values()) + len(records) == len(frames)


@FUZZ
@given(st.lists(mutated_frame(FUTURES_TEMPLATES), min_size=1, max_size=3))
def test_fuzz_any_symbol_parser_round_trips(frames: list[bytes]) -> None:
    """Without the symbol check more mutated frames reach record construction."""
    parser = any_symbol(BinanceFuturesParser)(make())
    for frame in frames:
        for record in parser.parse(frame, RECV_MS):
            if re.fullmatch("[A-Z0-9]{2,30}", record.symbol):  # the schema's symbol rule
                assert_round_trip([record])


# ------------------------------------------------------------------ settings and plans


def test_class_settings() -> None:
    assert (BinanceFutures.name, BinanceFutures.market) == ("binance_futures", "perp")
    assert BinanceFutures.max_connection_age_s == 23.5 * 3600
    assert BinanceFutures.ping_interval_s is None
    assert BinanceFutures.rest_weight_per_minute == 2400
    assert (BinanceFutures.kline_page_limit, BinanceFutures.funding_page_limit) == (1500, 1000)
    assert (BinanceFutures.oi_page_limit, BinanceFutures.oi_period_ms) == (500, 300_000)


def test_ws_connections_three_symbols() -> None:
    [plan] = make().ws_connections()
    assert plan.label == "binance_futures#0"
    streams = plan.url.removeprefix("wss://fstream.binance.com/stream?streams=").split("/")
    assert streams[:5] == [
        "btcusdt@aggTrade",
        "btcusdt@bookTicker",
        "btcusdt@kline_1m",
        "btcusdt@markPrice@1s",
        "btcusdt@forceOrder",
    ]
    assert len(streams) == 15
    assert streams[-1] == "solusdt@forceOrder"
    assert (plan.subscribe, plan.symbols) == ((), ("BTCUSDT", "ETHUSDT", "SOLUSDT"))


def test_ws_url_may_carry_a_routed_prefix() -> None:
    """Binance's newer routed paths (/market, /public) go in BINANCE_FUTURES_WS_URL."""
    exchange = BinanceFutures(["BTCUSDT"], "wss://fstream.binance.com/market/", REST_URL)
    [plan] = exchange.ws_connections()
    assert plan.url.startswith("wss://fstream.binance.com/market/stream?streams=btcusdt@aggTrade/")


def test_ws_connections_fifty_symbols_chunked() -> None:
    plans = BinanceFutures(
        ALL_SYMBOLS, "ws://127.0.0.1:9000/binance_futures", REST_URL
    ).ws_connections()
    assert [p.label for p in plans] == ["binance_futures#0", "binance_futures#1"]
    counts = [len(p.url.split("?streams=", 1)[1].split("/")) for p in plans]
    assert counts == [200, 50]  # 5 streams per symbol: 40 symbols, then 10
    assert [len(p.symbols) for p in plans] == [40, 10]
    assert plans[0].symbols + plans[1].symbols == ALL_SYMBOLS
    assert plans[1].url.startswith("ws://127.0.0.1:9000/binance_futures/stream?streams=")


# ------------------------------------------------------------------ REST


def test_klines_request_weight_follows_limit() -> None:
    request = make().klines_request("BTCUSDT", 1699999920000, 1700000039999)
    assert request.path == "/fapi/v1/klines"
    assert request.params == {
        "symbol": "BTCUSDT",
        "interval": "1m",
        "startTime": "1699999920000",
        "endTime": "1700000039999",
        "limit": "1500",
    }
    assert request.weight == 10  # limit > 1000

    class Smaller(BinanceFutures):
        kline_page_limit = 1000

    assert Smaller(["BTCUSDT"], WS_URL, REST_URL).klines_request("BTCUSDT", 0, 1).weight == 5


def test_parse_klines_from_fixture() -> None:
    klines = make().parse_klines("ETHUSDT", local_json("rest_klines.json"), RECV_MS)
    assert_round_trip(klines)
    assert [(k.open_time_ms, k.open, k.close, k.volume, k.closed) for k in klines] == [
        (1699999920000, 2049.1, 2050.0, 1500.25, True),
        (1699999980000, 2050.0, 2052.48, 1834.12, False),
    ]


def test_funding_history_request_and_parse() -> None:
    exchange = make()
    request = exchange.funding_history_request("BTCUSDT", 1699920000000, 1700006400000)
    assert request.path == "/fapi/v1/fundingRate"
    assert request.params == {
        "symbol": "BTCUSDT",
        "startTime": "1699920000000",
        "endTime": "1700006400000",
        "limit": "1000",
    }
    rows = exchange.parse_funding_history("BTCUSDT", local_json("rest_fundingRate.json"), RECV_MS)
    assert_round_trip(rows)
    assert [(f.ts_ms, f.funding_rate, f.mark_price, f.funding_interval_h) for f in rows] == [
        (1699948800000, 0.0001, None, 8.0),  # markPrice "" on old rows
        (1699977600000, 0.00007934, 36712.4, 8.0),
        (1700006400000, -0.00001205, 36530.81, 8.0),
    ]
    assert {(f.next_funding_time_ms, f.index_price, f.symbol) for f in rows} == {
        (None, None, "BTCUSDT")
    }


def test_funding_history_skips_bad_and_foreign_rows() -> None:
    good = {"symbol": "BTCUSDT", "fundingTime": 1699948800000, "fundingRate": "0.0001"}
    rows = [
        good,
        dict(good, symbol="ETHUSDT"),
        dict(good, fundingRate="NaN"),
        dict(good, fundingRate="2"),
        dict(good, fundingTime="yesterday"),
        {"symbol": "BTCUSDT"},
        [1, 2],
        None,
    ]
    parsed = make().parse_funding_history("BTCUSDT", rows, RECV_MS)
    assert [(f.ts_ms, f.funding_rate) for f in parsed] == [(1699948800000, 0.0001)]


def test_open_interest_history_request_and_parse() -> None:
    exchange = make()
    request = exchange.open_interest_history_request("BTCUSDT", 1699999500000, 1699999800000)
    assert request.path == "/futures/data/openInterestHist"
    assert request.params == {
        "symbol": "BTCUSDT",
        "period": "5m",
        "startTime": "1699999500000",
        "endTime": "1699999800000",
        "limit": "500",
    }
    rows = exchange.parse_open_interest_history(
        "BTCUSDT", local_json("rest_openInterestHist.json"), RECV_MS
    )
    assert_round_trip(rows)
    assert [(o.ts_ms, o.open_interest, o.open_interest_usd) for o in rows] == [
        (1699999500000, 76543.21, 2794512345.67),
        (1699999800000, 76610.004, 2797101000.12),
    ]


def test_current_funding_request_and_parse() -> None:
    exchange = make()
    request = exchange.current_funding_request("SOLUSDT")
    assert (request.path, request.params, request.weight) == (
        "/fapi/v1/premiumIndex",
        {"symbol": "SOLUSDT"},
        1,
    )
    [funding] = exchange.parse_current_funding(
        "BTCUSDT", local_json("rest_premiumIndex.json"), RECV_MS
    )
    assert funding == Funding(
        **HEADER,
        symbol="BTCUSDT",
        venue_symbol="BTCUSDT",
        group="BTCUSDT",
        quote="USDT",
        ts_ms=1700000001000,
        funding_rate=0.00012831,
        funding_interval_h=8.0,
        next_funding_time_ms=1700006400000,
        mark_price=36531.2,
        index_price=36515.4326087,
    )


def test_current_funding_edge_cases() -> None:
    exchange = make()
    body = local_json("rest_premiumIndex.json")
    assert exchange.parse_current_funding("BTCUSDT", dict(body, lastFundingRate=""), RECV_MS) == []
    [funding] = exchange.parse_current_funding(
        "BTCUSDT", dict(body, nextFundingTime=0, indexPrice=""), RECV_MS
    )
    assert (funding.next_funding_time_ms, funding.index_price) == (None, None)
    for bad in (dict(body, markPrice="0"), dict(body, symbol="ETHUSDT"), [body], None):
        with pytest.raises(BadMessage):
            exchange.parse_current_funding("BTCUSDT", bad, RECV_MS)


def test_current_open_interest_request_and_parse() -> None:
    exchange = make()
    request = exchange.current_open_interest_request("ETHUSDT")
    assert (request.path, request.params) == ("/fapi/v1/openInterest", {"symbol": "ETHUSDT"})
    [oi] = exchange.parse_current_open_interest(
        "BTCUSDT", local_json("rest_openInterest.json"), RECV_MS
    )
    assert oi == OpenInterest(
        **HEADER,
        symbol="BTCUSDT",
        venue_symbol="BTCUSDT",
        group="BTCUSDT",
        quote="USDT",
        ts_ms=1700000001234,
        open_interest=76620.118,
        open_interest_usd=None,
    )
    with pytest.raises(BadMessage):
        exchange.parse_current_open_interest(
            "BTCUSDT", {"openInterest": "-5", "time": RECV_MS}, RECV_MS
        )


@pytest.mark.parametrize(
    "method",
    ["parse_klines", "parse_funding_history", "parse_open_interest_history"],
)
def test_history_parsers_reject_wrong_shape(method: str) -> None:
    error = local_json("rest_error.json")
    for payload in (error, None, "[]", 7):
        with pytest.raises(BadMessage):
            getattr(make(), method)("BTCUSDT", payload, RECV_MS)


def test_check_rest_payload() -> None:
    exchange = make()
    with pytest.raises(BadMessage, match="-1130"):
        exchange.check_rest_payload(local_json("rest_error.json"))
    exchange.check_rest_payload(local_json("rest_premiumIndex.json"))
    exchange.check_rest_payload(local_json("rest_fundingRate.json"))


def test_funding_info_sets_per_symbol_intervals() -> None:
    """/fapi/v1/fundingInfo lists only adjusted symbols (here ETHUSDT at 4 h, SOLUSDT's cap
    adjusted at 8 h, BLZUSDT not followed); every symbol it omits settles every 8 h."""
    exchange = make()
    request = exchange.funding_info_request()
    assert (request.path, request.params, request.weight) == ("/fapi/v1/fundingInfo", {}, 1)
    adjusted = exchange.apply_funding_info(local_json("rest_fundingInfo.json"))
    assert adjusted == {"ETHUSDT": 4.0}
    assert exchange.funding_intervals == {"ETHUSDT": 4.0, "SOLUSDT": 8.0}
    assert [exchange.funding_interval_h(s) for s in ("BTCUSDT", "ETHUSDT", "SOLUSDT")] == [
        8.0, 4.0, 8.0,
    ]  # fmt: skip
    # a later answer without ETHUSDT puts it back on 8 h
    assert exchange.apply_funding_info([]) == {}
    assert exchange.funding_interval_h("ETHUSDT") == 8.0


def test_funding_info_flows_into_every_funding_record() -> None:
    exchange = make()
    exchange.apply_funding_info(local_json("rest_fundingInfo.json"))
    parser = exchange.new_parser()
    ws = parse_all(parser, local_frames("ws_markPrice.jsonl"))
    assert [(f.symbol, f.funding_interval_h) for f in ws] == [("BTCUSDT", 8.0), ("ETHUSDT", 4.0)]
    body = local_json("rest_premiumIndex.json")
    [current] = exchange.parse_current_funding("ETHUSDT", dict(body, symbol="ETHUSDT"), RECV_MS)
    assert (current.funding_rate, current.funding_interval_h) == (0.00012831, 4.0)
    history = [dict(row, symbol="ETHUSDT") for row in local_json("rest_fundingRate.json")]
    rows = exchange.parse_funding_history("ETHUSDT", history, RECV_MS)
    assert {f.funding_interval_h for f in rows} == {4.0}
    assert_round_trip([*ws, current, *rows])


@pytest.mark.parametrize(
    "row",
    [
        {"symbol": "ETHUSDT", "fundingIntervalHours": "4"},  # a string, not a JSON integer
        {"symbol": "ETHUSDT", "fundingIntervalHours": 0},
        {"symbol": "ETHUSDT", "fundingIntervalHours": 25},
        {"symbol": "ETHUSDT", "fundingIntervalHours": 4.5},
        {"symbol": "ETHUSDT", "fundingIntervalHours": True},
        {"symbol": "ETHUSDT"},
        {"fundingIntervalHours": 4},
        ["ETHUSDT", 4],
        None,
    ],
)
def test_funding_info_skips_bad_rows(row: Any) -> None:
    exchange = make()
    good = {"symbol": "SOLUSDT", "fundingIntervalHours": 4}
    assert exchange.apply_funding_info([row, good]) == {"SOLUSDT": 4.0}
    assert exchange.funding_interval_h("ETHUSDT") == 8.0


@pytest.mark.parametrize("body", [{"code": -1003, "msg": "Too many requests"}, "[]", 4, None])
def test_funding_info_rejects_a_body_that_is_not_a_list(body: Any) -> None:
    exchange = make()
    exchange.apply_funding_info([{"symbol": "ETHUSDT", "fundingIntervalHours": 4}])
    with pytest.raises(BadMessage):
        exchange.apply_funding_info(body)
    assert exchange.funding_interval_h("ETHUSDT") == 4.0  # kept: the collector logs and retries
