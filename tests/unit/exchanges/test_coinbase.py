"""Coinbase Exchange venue module: exact values parsed from real captures and docs examples
(../shared/fixtures) and from the repo's own frames (tests/fixtures/exchanges/coinbase),
candles built from matches, rejection reasons, fuzzing, the subscribe plan and REST candles."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from microservices.common.errors import BadMessage
from microservices.common.records import AnyRaw, Kline, Ticker, Trade
from microservices.common.schemas import RAW
from microservices.data_collector.exchanges.base import VenueParser
from microservices.data_collector.exchanges.coinbase.exchange import Coinbase
from microservices.exchange_simulator.naming import sample_symbols
from tests.fixture_paths import capture_frames, local_fixture, shared_fixture, tardis_frames

RECV_MS = 1_700_000_060_000
WS_URL = "wss://ws-feed.exchange.coinbase.com"
REST_URL = "https://api.exchange.coinbase.com"
ALL_SYMBOLS = tuple(sample_symbols(50))
# the cryptofeed capture's ten products, as followed symbols (SKL-USD joins the SKLUSDT group)
CAPTURE_SYMBOLS = ("SKLUSDT", "SKLBTC", "BANDGBP", "NMREUR", "BANDBTC", "YFIBTC", "DASHBTC",
                   "NUGBP", "CRVEUR", "SKLGBP")  # fmt: skip
CRYPTOFEED = "coinbase/ws/ws_feed_level2_ticker_matches.cryptofeed-2021.jsonl"
TARDIS = "coinbase/ws/tardis-node_mappers-test_samples.jsonl"


# ----------------------------------------------------------------------------- helpers


def make(symbols: Sequence[str] = ("BTCUSDT", "ETHUSDT")) -> Coinbase:
    return Coinbase(symbols, WS_URL, REST_URL)


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


def local(name: str) -> list[str]:
    return list(capture_frames(local_fixture(f"exchanges/coinbase/{name}")))


def local_json(name: str) -> Any:
    return orjson.loads(local_fixture(f"exchanges/coinbase/{name}").read_bytes())


def rekey(frame: str, old: str, new: str) -> str:
    """A real frame with its product renamed (to check one field mapping on another book)."""
    return frame.replace(f'"product_id":"{old}"', f'"product_id":"{new}"')


def types(records: Sequence[AnyRaw]) -> Counter[str]:
    return Counter(record.type for record in records)


@pytest.fixture
def parser() -> VenueParser:
    return make().new_parser()


# ------------------------------------------------------------------ real captures


@pytest.mark.real_fixtures
def test_cryptofeed_capture_every_frame_handled_and_counted() -> None:
    frames = list(capture_frames(shared_fixture(CRYPTOFEED)))
    kinds = Counter(orjson.loads(frame)["type"] for frame in frames)
    parser = make(ALL_SYMBOLS).new_parser()

    records = parse_all(parser, frames)

    # no product of this capture (SKL, NMR, BAND, YFI, DASH, NU, CRV) is followed: counted
    assert records == []
    used = kinds["ticker"] + kinds["match"] + kinds["last_match"]
    assert used == 62
    ignored = kinds["l2update"] + kinds["snapshot"] + kinds["subscriptions"]
    assert parser.stats.rejected == {"not_followed": used, "ignored": ignored}
    assert sum(parser.stats.rejected.values()) == len(frames) == 3000


@pytest.mark.real_fixtures
def test_cryptofeed_capture_products_followed_by_their_own_names() -> None:
    """Quotes USD, BTC, EUR and GBP: each product is its own instrument (SKL-USD -> SKLUSD in
    the SKLUSDT group; NMR-EUR -> NMREUR); every used frame gives a record."""
    frames = list(capture_frames(shared_fixture(CRYPTOFEED)))
    ex = make(CAPTURE_SYMBOLS)
    assert sorted(ex.to_venue(s) for s in ex.symbols) == [
        "BAND-BTC", "BAND-GBP", "CRV-EUR", "DASH-BTC", "NMR-EUR", "NU-GBP", "SKL-BTC",
        "SKL-GBP", "SKL-USD", "YFI-BTC",
    ]  # fmt: skip
    parser = ex.new_parser()

    records = parse_all(parser, frames)

    assert types(records) == {"ticker": 31, "trade": 31}
    assert set(parser.stats.rejected) == {"ignored"}
    nmr = next(r for r in records if isinstance(r, Trade) and r.venue_symbol == "NMR-EUR")
    assert (nmr.symbol, nmr.group, nmr.quote, nmr.trade_id) == ("NMREUR", "NMREUR", "EUR", "868598")
    assert (nmr.price, nmr.size, nmr.side, nmr.ts_ms) == (67.021, 0.175, "buy", 1618677815964)
    skl = [r for r in records if isinstance(r, Trade) and r.venue_symbol == "SKL-USD"]
    assert {(t.symbol, t.group, t.quote) for t in skl} == {("SKLUSD", "SKLUSDT", "USD")}
    assert [t.trade_id for t in skl] == [str(i) for i in range(1568267, 1568275)]
    assert (skl[0].price, skl[0].size, skl[0].side, skl[0].ts_ms) == (
        0.7904,
        1338.3,
        "buy",
        1618677817056,
    )
    ticker = next(r for r in records if isinstance(r, Ticker) and r.venue_symbol == "SKL-USD")
    assert (ticker.bid, ticker.ask, ticker.last, ticker.bid_size, ticker.ask_size) == (
        0.7901, 0.7911, 0.7904, 0.0, 0.0,
    )  # fmt: skip


@pytest.mark.real_fixtures
def test_cryptofeed_capture_values_with_products_renamed() -> None:
    renames = {"SKL-USD": "BTC-USD", "NMR-EUR": "ETH-USD"}
    frames = []
    for frame in capture_frames(shared_fixture(CRYPTOFEED)):
        for old, new in renames.items():
            frame = rekey(frame, old, new)
        frames.append(frame)
    expected: Counter[str] = Counter()
    for frame in frames:
        msg = orjson.loads(frame)
        if msg.get("product_id") in renames.values():
            kind = msg["type"]
            expected["ticker"] += kind == "ticker"
            expected["trade"] += kind in ("match", "last_match")
    parser = make().new_parser()

    records = parse_all(parser, frames)

    assert types(records) == expected == {"ticker": 16, "trade": 16}  # 10 s: no minute closed
    trades = [r for r in records if isinstance(r, Trade)]
    first = trades[0]  # NMR-EUR last_match 868598, maker side "sell"
    assert (first.symbol, first.venue_symbol, first.group, first.quote, first.trade_id) == (
        "ETHUSD",
        "ETH-USD",
        "ETHUSDT",
        "USD",
        "868598",
    )
    assert (first.price, first.size, first.side, first.ts_ms) == (
        67.021,
        0.175,
        "buy",
        1618677815964,
    )
    btc = [t for t in trades if t.symbol == "BTCUSD"]
    assert [t.trade_id for t in btc] == [str(i) for i in range(1568267, 1568275)]
    assert (btc[0].price, btc[0].size, btc[0].side, btc[0].ts_ms) == (
        0.7904,
        1338.3,
        "buy",
        1618677817056,
    )
    assert {t.side for t in trades} == {"buy"}  # every maker in this capture was a seller
    ticker = next(r for r in records if isinstance(r, Ticker) and r.symbol == "BTCUSD")
    assert (ticker.bid, ticker.ask, ticker.last, ticker.bid_size, ticker.ask_size) == (
        0.7901,
        0.7911,
        0.7904,
        0.0,  # 2021 ticker frames carry no best_bid_size / best_ask_size
        0.0,
    )
    assert (ticker.ts_ms, ticker.exchange, ticker.market) == (1618677817056, "coinbase", "spot")


@pytest.mark.real_fixtures
def test_tardis_samples() -> None:
    samples = [frame for frame, _meta in tardis_frames(shared_fixture(TARDIS))]
    parser = make().new_parser()

    records = parse_all(parser, samples)

    quotes = [
        (t.ts_ms, t.bid, t.bid_size, t.ask, t.ask_size, t.last)
        for t in records
        if isinstance(t, Ticker)
    ]
    assert quotes == [
        (1554076804540, 4094.99, 0.0, 4095.0, 0.0, 4095.0),
        (1617235201618, 58800.0, 0.0, 58800.01, 0.0, 58800.01),
        (1669852800122, 17165.15, 0.6154089, 17167.76, 0.18528568, 17165.16),
    ]
    assert all(t.symbol == "BTCUSD" and t.venue_symbol == "BTC-USD" for t in records)
    assert {(t.group, t.quote) for t in records} == {("BTCUSDT", "USD")}
    # ETC-GBP match: not followed; l2update x3 and snapshot x2: not used
    assert parser.stats.rejected == {"not_followed": 1, "ignored": 5}


@pytest.mark.real_fixtures
def test_tardis_match_maker_side_becomes_taker_side() -> None:
    frame = next(f for f, _ in tardis_frames(shared_fixture(TARDIS)) if '"type":"match"' in f)
    records = parse_all(make(["ETCGBP"]).new_parser(), [frame])
    assert len(records) == 1 and isinstance(records[0], Trade)
    trade = records[0]
    assert (trade.symbol, trade.venue_symbol, trade.group, trade.quote) == (
        "ETCGBP",
        "ETC-GBP",
        "ETCGBP",
        "GBP",
    )
    # the maker bought, so the taker sold
    assert (trade.side, trade.price, trade.size, trade.trade_id, trade.ts_ms) == (
        "sell",
        4.978,
        0.97133855,
        "216544",
        1564617603816,
    )


@pytest.mark.real_fixtures
@pytest.mark.parametrize(
    ("name", "rejected", "alive"),
    [
        ("ws_heartbeat.json", {}, True),  # no record, but it proves the feed alive
        ("ws_subscribe_heartbeat.request.json", {"ignored": 1}, False),
    ],
)
def test_docs_examples(name: str, rejected: dict[str, int], alive: bool) -> None:
    parser = make().new_parser()
    frame = shared_fixture(f"coinbase/docs-examples/{name}").read_bytes()
    assert parser.parse_with_liveness(frame, RECV_MS) == ([], alive)
    assert parser.stats.rejected == rejected


# ---------------------------------------------------------------- own fixtures (WS)


def test_tickers_values_sizes_and_rejections(parser: VenueParser) -> None:
    results = [parser.parse(f, RECV_MS) for f in local("ws_ticker.jsonl")]
    assert [len(r) for r in results] == [1, 1, 0, 0]
    btc, eth = results[0][0], results[1][0]
    assert isinstance(btc, Ticker) and isinstance(eth, Ticker)
    assert (btc.symbol, btc.venue_symbol, btc.exchange, btc.market) == (
        "BTCUSD",
        "BTC-USD",
        "coinbase",
        "spot",
    )
    assert (btc.bid, btc.bid_size, btc.ask, btc.ask_size, btc.last) == (
        36512.34,
        0.5,
        36512.35,
        1.25,
        36512.35,
    )
    assert (btc.ts_ms, btc.recv_ms) == (1700000000123, RECV_MS)
    assert (eth.bid, eth.bid_size, eth.ask, eth.ask_size, eth.last) == (
        2051.16,
        0.0,  # no best_bid_size in this (older style) frame
        2051.17,
        0.0,
        2051.17,
    )
    assert parser.stats.rejected == {"not_followed": 1, "no_quote": 1}  # SKL-USD


def test_matches_build_a_candle_across_the_minute_boundary(parser: VenueParser) -> None:
    results = [parser.parse(f, RECV_MS) for f in local("ws_matches.jsonl")]
    assert [[r.type for r in out] for out in results] == [
        ["trade"],  # last_match 22:12:59.5: only anchors the candle building
        ["trade"],  # 22:13:05 opens the 22:13 bar
        ["trade"],
        ["trade"],
        ["trade"],  # 22:13:59.999 still in the bar
        ["kline", "trade"],  # 22:14:00.010 finishes it
        [],  # duplicate of 570000503
        ["trade"],  # a late 22:13:50 trade: published, not folded into any bar
        ["trade"],  # ETH-USD
        [],  # SKL-USD
    ]
    kline = results[5][0]
    assert isinstance(kline, Kline)
    assert (kline.symbol, kline.venue_symbol, kline.interval, kline.closed) == (
        "BTCUSD",
        "BTC-USD",
        "1m",
        True,
    )
    assert (kline.open_time_ms, kline.ts_ms, kline.recv_ms) == (
        1699999980000,
        1700000039999,
        RECV_MS,
    )
    assert (kline.open, kline.high, kline.low, kline.close, kline.volume) == (
        36510.0,
        36530.0,
        36490.0,
        36520.0,
        1.875,  # 0.5 + 0.25 + 1.0 + 0.125
    )
    sides = [r.side for out in results for r in out if isinstance(r, Trade)]
    assert sides == ["sell", "buy", "sell", "buy", "sell", "buy", "sell", "sell"]  # maker inverted
    last_match = results[0][0]
    assert isinstance(last_match, Trade)
    assert (last_match.trade_id, last_match.price, last_match.size, last_match.ts_ms) == (
        "570000500",
        36500.0,
        0.25,
        1699999979500,
    )
    assert parser.stats.rejected == {"duplicate": 1, "late_trade": 1, "not_followed": 1}
    assert parser.stats.emitted == {"trade": 8, "kline": 1}
    for out in results:
        assert all(RAW.decode(RAW.encode(r)) == r for r in out)


def test_first_bar_without_last_match_is_partial(parser: VenueParser) -> None:
    frames = local("ws_matches.jsonl")[1:6]  # no last_match: joined during the 22:13 minute
    records = parse_all(parser, frames)
    assert types(records) == {"trade": 5}  # the 22:13 bar misses trades from before 22:13:05
    assert parser.stats.rejected == {"partial_bar": 1}


def test_gap_in_trade_ids_drops_the_bar(parser: VenueParser) -> None:
    frames = local("ws_matches.jsonl")
    records = parse_all(parser, [frames[0], frames[1], frames[3], frames[4], frames[5]])
    assert types(records) == {"trade": 5}  # 570000502 missing: the 22:13 bar is incomplete
    assert parser.stats.rejected == {"partial_bar": 1}


def test_last_match_in_the_same_minute_makes_the_bar_partial(parser: VenueParser) -> None:
    frames = local("ws_matches.jsonl")
    anchor = orjson.loads(frames[0])
    anchor["time"] = "2023-11-14T22:13:01.000000Z"  # earlier trades of 22:13 were not seen
    records = parse_all(parser, [orjson.dumps(anchor), *frames[1:6]])
    assert types(records) == {"trade": 6}
    assert parser.stats.rejected == {"partial_bar": 1}


def test_bars_continue_minute_after_minute(parser: VenueParser) -> None:
    frames = local("ws_matches.jsonl")
    later = orjson.loads(frames[5])
    later.update(trade_id=570000506, time="2023-11-14T22:15:30.000000Z", price="36540.00")
    records = parse_all(parser, [*frames[:6], orjson.dumps(later)])
    bars = [r for r in records if isinstance(r, Kline)]
    assert [(b.open_time_ms, b.open, b.close, b.volume) for b in bars] == [
        (1699999980000, 36510.0, 36520.0, 1.875),
        (1700000040000, 36525.0, 36525.0, 0.5),  # one trade; minute 22:15 has no bar yet
    ]


def test_control_frames(parser: VenueParser) -> None:
    assert parse_all(parser, local("ws_control.jsonl")) == []
    # the heartbeat is not rejected: it is handled (no record), see test_liveness
    assert parser.stats.rejected == {"ignored": 2, "venue_error": 1, "unknown_topic": 1}
    assert "FOO-USD is not a valid product" in parser.stats.samples["venue_error"]


def test_str_and_bytes_frames_parse_alike() -> None:
    frame = local("ws_ticker.jsonl")[0]
    assert make().new_parser().parse(frame.encode(), RECV_MS) == make().new_parser().parse(
        frame, RECV_MS
    )


# ----------------------------------------------------------------------- bad input

TICKER = orjson.loads(local("ws_ticker.jsonl")[0])
MATCH = orjson.loads(local("ws_matches.jsonl")[1])


def edit(template: dict[str, Any], key: str, value: Any) -> bytes:
    """A copy of `template` with `key` replaced (deleted for ...)."""
    frame = dict(template)
    if value is ...:
        del frame[key]
    else:
        frame[key] = value
    return orjson.dumps(frame)


BAD_FRAMES: list[tuple[str, str | bytes, str]] = [
    ("not json", "{oops", "malformed"),
    ("binary garbage", b"\x00\xff\xfe\x80", "malformed"),
    ("empty", "", "malformed"),
    ("json array", '[{"type": "ticker"}]', "malformed"),
    ("no type", '{"product_id": "BTC-USD"}', "malformed"),
    ("type is a list", '{"type": ["ticker"]}', "malformed"),
    ("unknown type", '{"type": "brand_new"}', "unknown_topic"),
    ("error message", '{"type": "error", "message": "bad", "reason": "x"}', "venue_error"),
    ("ticker bid NaN", edit(TICKER, "best_bid", "NaN"), "malformed"),
    ("ticker bid zero", edit(TICKER, "best_bid", "0"), "malformed"),
    ("ticker ask negative", edit(TICKER, "best_ask", "-36512.35"), "malformed"),
    ("ticker crossed", edit(TICKER, "best_bid", "36600.00"), "crossed_quote"),
    ("ticker bid size negative", edit(TICKER, "best_bid_size", "-0.5"), "malformed"),
    ("ticker without ask", edit(TICKER, "best_ask", ...), "no_quote"),
    ("ticker price zero", edit(TICKER, "price", "0"), "malformed"),
    ("ticker time missing", edit(TICKER, "time", ...), "malformed"),
    ("ticker time garbage", edit(TICKER, "time", "yesterday"), "malformed"),
    ("ticker time year 1", edit(TICKER, "time", "0001-01-01T00:00:00.000000Z"), "malformed"),
    ("ticker time far offset", edit(TICKER, "time", "0001-01-01T00:00:00+14:00"), "malformed"),
    ("ticker time a number", edit(TICKER, "time", 1700000000), "malformed"),
    ("ticker product not followed", edit(TICKER, "product_id", "FOO-USD"), "not_followed"),
    ("ticker product unknown", edit(TICKER, "product_id", "FOOUSD"), "unknown_symbol"),
    ("ticker product a number", edit(TICKER, "product_id", 5), "malformed"),
    ("match side unknown", edit(MATCH, "side", "long"), "malformed"),
    ("match size infinite", edit(MATCH, "size", "inf"), "malformed"),
    ("match price missing", edit(MATCH, "price", ...), "malformed"),
    ("match trade id null", edit(MATCH, "trade_id", None), "malformed"),
    ("match trade id empty", edit(MATCH, "trade_id", ""), "malformed"),
    ("match trade id bool", edit(MATCH, "trade_id", True), "malformed"),
    ("match trade id a float", edit(MATCH, "trade_id", 1.5), "malformed"),
]


@pytest.mark.parametrize(
    ("frame", "reason"), [c[1:] for c in BAD_FRAMES], ids=[c[0] for c in BAD_FRAMES]
)
def test_bad_frames_rejected_with_reason(frame: str | bytes, reason: str) -> None:
    parser = make().new_parser()
    assert parser.parse(frame, RECV_MS) == []
    assert parser.stats.rejected == {reason: 1}
    assert parser.stats.emitted == {}


def test_invalid_match_claims_no_trade_id(parser: VenueParser) -> None:
    assert parser.parse(edit(MATCH, "price", "NaN"), RECV_MS) == []
    assert len(parser.parse(orjson.dumps(MATCH), RECV_MS)) == 1


# --------------------------------------------------------------------------- fuzzing


def json_value() -> st.SearchStrategy[Any]:
    """JSON values a fuzzed field may take, biased toward near-valid numbers, times, sides."""
    int64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
    return st.one_of(
        st.none(),
        st.booleans(),
        int64,
        st.floats(allow_nan=False, allow_infinity=False),
        st.floats(min_value=0.0, max_value=1e9).map(repr),
        st.sampled_from(
            [
                "0",
                "-1",
                "NaN",
                "inf",
                "",
                "buy",
                "sell",
                "BTC-USD",
                "ETH-USD",
                "btc-usd",
                "2023-11-14T22:13:20Z",
                "2023-11-14T22:13:20.123+05:00",
                "9999-12-31T23:59:59Z",
            ]
        ),
        st.datetimes().map(lambda d: d.isoformat() + "Z"),
        st.text(max_size=6),
        st.lists(st.text(max_size=4), max_size=2),
    )


TEMPLATES: list[dict[str, Any]] = [
    orjson.loads(f)
    for name in ("ws_ticker.jsonl", "ws_matches.jsonl", "ws_control.jsonl")
    for f in local(name)
]


@st.composite
def mutated_frame(draw: st.DrawFn) -> bytes:
    frame = dict(draw(st.sampled_from(TEMPLATES)))
    for _ in range(draw(st.integers(min_value=0, max_value=4))):
        key = draw(st.sampled_from(sorted(frame)))
        if draw(st.booleans()):
            del frame[key]
        else:
            frame[key] = draw(json_value())
        if not frame:
            break
    return orjson.dumps(frame)


@given(st.one_of(st.text(), st.binary()))
def test_fuzz_arbitrary_input_never_raises(frame: str | bytes) -> None:
    assert make().new_parser().parse(frame, RECV_MS) == []


@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=300)
@given(st.lists(mutated_frame(), max_size=8))
def test_fuzz_mutated_frames_never_raise_and_round_trip(frames: list[bytes]) -> None:
    parser = make(("BTCUSDT", "ETHUSDT")).new_parser()
    records = parse_all(parser, frames)  # round-trips every record through schemas.RAW
    assert sum(parser.stats.emitted.values()) == len(records)


MINUTE0_MS = 1_700_000_040_000  # 2023-11-14T22:14:00Z


def iso(ts_ms: int) -> str:
    seconds, millis = divmod(ts_ms, 1000)
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{millis:03d}Z"


@settings(max_examples=200)
@given(
    st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=239_999),  # ms after MINUTE0_MS: 4 minutes
            st.integers(min_value=1, max_value=10**7),  # price in cents
            st.integers(min_value=1, max_value=800),  # size in 1/8 units (exact sums)
        ),
        min_size=1,
        max_size=40,
    )
)
def test_property_candles_equal_independent_aggregation(trades: list[tuple[int, int, int]]) -> None:
    """Contiguous trade ids after a last_match from the previous minute: every minute but the
    still-open last one becomes a bar equal to the OHLCV of its trades."""
    trades.sort(key=lambda t: t[0])
    anchor = orjson.loads(local("ws_matches.jsonl")[0])
    anchor.update(trade_id=1000, time=iso(MINUTE0_MS - 30_000))
    frames = [orjson.dumps(anchor)]
    for n, (offset, cents, eighths) in enumerate(trades, start=1001):
        frames.append(
            orjson.dumps(
                {
                    **anchor,
                    "type": "match",
                    "trade_id": n,
                    "time": iso(MINUTE0_MS + offset),
                    "price": f"{cents / 100}",
                    "size": f"{eighths / 8}",
                }
            )
        )
    by_minute: dict[int, list[tuple[float, float]]] = {}
    for offset, cents, eighths in trades:
        minute = MINUTE0_MS + offset - offset % 60_000
        by_minute.setdefault(minute, []).append((float(f"{cents / 100}"), eighths / 8))
    expected = [
        (
            minute,
            rows[0][0],
            max(p for p, _ in rows),
            min(p for p, _ in rows),
            rows[-1][0],
            sum(s for _, s in rows),
        )
        for minute, rows in sorted(by_minute.items())[:-1]
    ]

    records = parse_all(make().new_parser(), frames)

    bars = [r for r in records if isinstance(r, Kline)]
    assert [(b.open_time_ms, b.open, b.high, b.low, b.close, b.volume) for b in bars] == expected
    assert types(records)["trade"] == len(trades) + 1


# ------------------------------------------------------------ subscriptions and REST


def test_class_settings() -> None:
    assert (Coinbase.name, Coinbase.market) == ("coinbase", "spot")
    assert Coinbase.ping_interval_s is None and make().ping_message() is None
    assert (Coinbase.kline_page_limit, Coinbase.rest_weight_per_minute) == (300, 600)


def test_ws_connections_three_symbols() -> None:
    (plan,) = make(("BTCUSDT", "ETHUSDT", "SOLUSDT")).ws_connections()
    assert (plan.label, plan.url, plan.symbols) == (
        "coinbase#0",
        WS_URL,
        ("BTCUSDT", "ETHUSDT", "SOLUSDT"),
    )
    (frame,) = plan.subscribe
    assert orjson.loads(frame) == {
        "type": "subscribe",
        "product_ids": ["BTC-USD", "ETH-USD", "SOL-USD"],
        "channels": ["ticker", "matches", "heartbeat"],
    }


def test_ws_connections_fifty_symbols_and_simulator_url() -> None:
    listed = make(ALL_SYMBOLS).catalog  # a catalog without NOPE: the venue does not list it
    ex = Coinbase([*ALL_SYMBOLS, "NOPEUSDT"], "ws://127.0.0.1:9999/coinbase/", REST_URL, listed)
    (plan,) = ex.ws_connections()
    assert plan.url == "ws://127.0.0.1:9999/coinbase"
    products = orjson.loads(plan.subscribe[0])["product_ids"]
    assert len(products) == 50 and products[:2] == ["BTC-USD", "ETH-USD"]
    assert make(()).ws_connections() == []


def test_rest_requests() -> None:
    ex = make()
    request = ex.klines_request("ETHUSDT", 1_700_000_000_000, 1_700_017_940_000)
    assert request.path == "/products/ETH-USD/candles"
    assert request.params == {
        "granularity": "60",
        "start": "2023-11-14T22:13:20Z",
        "end": "2023-11-15T03:12:20Z",
    }
    assert ex.funding_history_request("BTCUSDT", 1, 2) is None
    assert ex.open_interest_history_request("BTCUSDT", 1, 2) is None
    assert ex.current_funding_request("BTCUSDT") is None
    assert ex.current_open_interest_request("BTCUSDT") is None


def test_rest_candles_from_fixture() -> None:
    ex = make()
    payload = local_json("rest_candles.json")
    ex.check_rest_payload(payload)
    klines = ex.parse_klines("BTCUSDT", payload, RECV_MS)
    assert [(k.open_time_ms, k.closed) for k in klines] == [
        (1699999920000, True),
        (1699999980000, True),
        (1700000040000, False),
    ]  # the row with high below low is skipped
    k = klines[1]
    # rows are [time, low, high, open, close, volume]
    assert (k.open, k.high, k.low, k.close, k.volume) == (36500.0, 36520.0, 36495.5, 36518.0, 20.5)
    assert (k.symbol, k.venue_symbol, k.group, k.quote) == ("BTCUSD", "BTC-USD", "BTCUSDT", "USD")
    assert (k.symbol, k.venue_symbol, k.ts_ms, k.recv_ms, k.interval) == (
        "BTCUSD",
        "BTC-USD",
        1699999980000,
        RECV_MS,
        "1m",
    )
    assert all(RAW.decode(RAW.encode(r)) == r for r in klines)


@pytest.mark.parametrize("payload", [local_json("rest_error.json"), {"message": ""}])
def test_check_rest_payload_rejects_error_bodies(payload: Any) -> None:
    with pytest.raises(BadMessage):
        make().check_rest_payload(payload)


@pytest.mark.parametrize("payload", [None, {"candles": []}, "x"])
def test_parse_klines_rejects_wrong_shape(payload: Any) -> None:
    with pytest.raises(BadMessage):
        make().parse_klines("BTCUSDT", payload, RECV_MS)


def test_ws_connections_split_products_across_connections() -> None:
    ex = make(ALL_SYMBOLS)
    ex.max_streams_per_connection = 20
    plans = ex.ws_connections()
    assert [p.label for p in plans] == ["coinbase#0", "coinbase#1", "coinbase#2"]
    assert [len(orjson.loads(p.subscribe[0])["product_ids"]) for p in plans] == [20, 20, 10]
    assert [s for p in plans for s in p.symbols] == list(ALL_SYMBOLS)
