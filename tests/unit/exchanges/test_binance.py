"""Binance spot venue module: exact values parsed from real captures (../shared/fixtures) and
from the repo's own frames (tests/fixtures/exchanges/binance), rejection reasons for bad input,
fuzzing, combined-stream plans and REST requests."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from microservices.common.catalog import Catalog
from microservices.common.errors import BadMessage
from microservices.common.records import AnyRaw, Kline, Ticker, Trade
from microservices.common.schemas import RAW
from microservices.data_collector.exchanges.base import Exchange, VenueParser
from microservices.data_collector.exchanges.binance.parser import BinanceParser
from microservices.data_collector.exchanges.binance.spot import Binance
from microservices.exchange_simulator.naming import sample_symbols
from tests.fixture_paths import capture_frames, local_fixture, shared_fixture, tardis_frames

RECV_MS = 1_700_000_000_999
WS_URL = "wss://stream.binance.com:9443"
REST_URL = "https://api.binance.com"
ALL_SYMBOLS = tuple(sample_symbols(50))
CAPTURE = "binance/ws/spot_combined_depth_bookticker_kline_aggtrade.cryptofeed-2021.jsonl"


# ----------------------------------------------------------------------------- helpers
# (test_binance_futures imports these)


def assert_round_trip(records: Iterable[AnyRaw]) -> None:
    """Every record survives the exchange.raw schema unchanged."""
    for record in records:
        assert RAW.decode(RAW.encode(record)) == record


def parse_all(parser: VenueParser, frames: Iterable[str | bytes]) -> list[AnyRaw]:
    out: list[AnyRaw] = []
    for frame in frames:
        result = parser.parse(frame, RECV_MS)
        assert isinstance(result, list)
        out.extend(result)
    assert_round_trip(out)
    return out


def count_types(records: Sequence[AnyRaw]) -> Counter[str]:
    return Counter(record.type for record in records)


def any_symbol(parser_cls: type[BinanceParser]) -> Callable[[Exchange], BinanceParser]:
    """A parser of an exchange following every instrument its naming rule names (what
    `normalize` does without a listing): the values of real frames of any instrument
    (NKNUSDT, BNBBTC, ...)."""

    def build(exchange: Exchange) -> BinanceParser:
        exchange.follow_any()
        return parser_cls(exchange)

    return build


def json_value() -> st.SearchStrategy[Any]:
    """JSON values a fuzzed field may take, biased toward near-valid numbers and times."""
    numeric_text = st.sampled_from(
        ["0", "-1", "-0.0", "NaN", "inf", "-inf", "1e308", "1e400", "5e-324", "", "1_0", " 7 "]
    )
    int64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)  # what orjson can write
    return st.one_of(
        st.none(),
        st.booleans(),
        int64,
        st.integers(min_value=1_230_000_000_000, max_value=4_200_000_000_000),
        st.floats(allow_nan=False, allow_infinity=False),
        st.floats(min_value=0.0, max_value=1e12).map(repr),
        numeric_text,
        st.text(max_size=8),
        st.sampled_from(["BTCUSDT", "ETHUSDT", "btcusdt", "NKNUSDT", "1m", "5m", "BUY", "SELL"]),
        st.lists(int64, max_size=2),
        st.dictionaries(st.text(max_size=2), int64, max_size=2),
    )


@st.composite
def mutated_frame(draw: st.DrawFn, templates: Sequence[dict[str, Any]]) -> bytes:
    """A valid frame with random deletions and replacements in its payload (and one nested
    object such as the kline `k` or forceOrder `o`), sometimes without the wrapper."""
    frame = orjson.loads(orjson.dumps(draw(st.sampled_from(templates))))
    data = frame["data"]
    targets = [data] + [value for value in data.values() if isinstance(value, dict)]
    for _ in range(draw(st.integers(min_value=0, max_value=4))):
        target = draw(st.sampled_from(targets))
        if not target:
            continue
        key = draw(st.sampled_from(sorted(target)))
        if draw(st.booleans()):
            del target[key]
        else:
            target[key] = draw(json_value())
    wrapped = frame if draw(st.booleans()) else data
    return orjson.dumps(wrapped)


# ------------------------------------------------------------------------- fixtures


def make(symbols: Sequence[str] = ("BTCUSDT", "ETHUSDT", "SOLUSDT")) -> Binance:
    return Binance(symbols, WS_URL, REST_URL)


def local_frames(name: str) -> list[str]:
    return list(capture_frames(local_fixture(f"exchanges/binance/{name}")))


@pytest.fixture
def parser() -> VenueParser:
    return make().new_parser()


SPOT_TEMPLATES: list[dict[str, Any]] = [
    orjson.loads(frame)
    for name in ("ws_aggTrade.jsonl", "ws_bookTicker.jsonl", "ws_kline.jsonl", "ws_trade.jsonl")
    for frame in local_frames(name)[:2]
    if "data" in orjson.loads(frame)
]


# ------------------------------------------------------------------ real captures


@pytest.mark.real_fixtures
def test_cryptofeed_capture_every_frame_handled_and_counted() -> None:
    frames = list(capture_frames(shared_fixture(CAPTURE)))
    streams = Counter(orjson.loads(frame)["stream"].split("@", 1)[1] for frame in frames)
    parser = make(ALL_SYMBOLS).new_parser()

    records = parse_all(parser, frames)

    # the capture's instruments (NKNUSDT, BLZETH, LRCBTC, RUNEEUR) are not followed: counted
    assert records == []
    used = streams["bookTicker"] + streams["kline_1m"] + streams["aggTrade"]
    assert used == 88
    assert parser.stats.rejected == {"not_followed": used, "ignored": streams["depth@100ms"]}
    assert sum(parser.stats.rejected.values()) == len(frames) == 265


@pytest.mark.real_fixtures
def test_cryptofeed_capture_values_with_symbol_check_bypassed() -> None:
    frames = list(capture_frames(shared_fixture(CAPTURE)))
    streams = Counter(orjson.loads(frame)["stream"].split("@", 1)[1] for frame in frames)
    parser = any_symbol(BinanceParser)(make())

    records = parse_all(parser, frames)

    assert count_types(records) == {
        "ticker": streams["bookTicker"],
        "kline": streams["kline_1m"],
        "trade": streams["aggTrade"],
    }
    trade = next(r for r in records if isinstance(r, Trade) and r.symbol == "NKNUSDT")
    assert (trade.price, trade.size, trade.side) == (0.3528, 58.0, "buy")
    assert (trade.trade_id, trade.ts_ms, trade.exchange, trade.market) == (
        "15683430",
        1633998523963,
        "binance",
        "spot",
    )
    kline = next(r for r in records if isinstance(r, Kline) and r.symbol == "NKNUSDT")
    assert (kline.open_time_ms, kline.interval, kline.ts_ms, kline.closed) == (
        1633998480000,
        "1m",
        1633998523963,
        False,
    )
    assert (kline.open, kline.high, kline.low, kline.close, kline.volume) == (
        0.3527,
        0.3528,
        0.3522,
        0.3528,
        25877.0,
    )
    ticker = next(r for r in records if isinstance(r, Ticker))
    assert (ticker.symbol, ticker.bid, ticker.bid_size, ticker.ask, ticker.ask_size) == (
        "NKNUSDT",
        0.3521,
        672.0,
        0.3526,
        3199.0,
    )
    assert ticker.ts_ms == RECV_MS  # spot bookTicker has no event time
    assert ticker.last is None


@pytest.mark.real_fixtures
def test_tardis_spot_samples() -> None:
    items = list(tardis_frames(shared_fixture("binance/ws/tardis-node_mappers-test_samples.jsonl")))
    parser = make(ALL_SYMBOLS).new_parser()

    records = parse_all(parser, [frame for frame, _ in items])

    # BTCUSDT bookTicker is the only frame of a known instrument that this collector uses
    assert records == [
        Ticker(
            exchange="binance",
            market="spot",
            symbol="BTCUSDT",
            venue_symbol="BTCUSDT",
            group="BTCUSDT",
            quote="USDT",
            ts_ms=RECV_MS,
            recv_ms=RECV_MS,
            bid=8010.0,
            bid_size=0.142459,
            ask=8012.15,
            ask_size=0.031201,
        )
    ]
    streams = Counter(orjson.loads(frame)["stream"].split("@", 1)[1] for frame, _ in items)
    ignored = streams["ticker"] + streams["depth"] + streams["depthSnapshot"]
    assert parser.stats.rejected == {"not_followed": streams["trade"], "ignored": ignored}


@pytest.mark.real_fixtures
def test_tardis_spot_trade_values() -> None:
    items = tardis_frames(shared_fixture("binance/ws/tardis-node_mappers-test_samples.jsonl"))
    frames = [frame for frame, _ in items if "@trade" in frame]
    records = parse_all(any_symbol(BinanceParser)(make()), frames)
    assert [
        (r.trade_id, r.price, r.size, r.side, r.ts_ms) for r in records if isinstance(r, Trade)
    ] == [
        ("40756030", 0.0042699, 33.82, "buy", 1554076800940),
        ("60276726", 0.0021965, 6.48, "sell", 1567296001034),
    ]


DOCS_REASONS = {
    "ws_depthUpdate.0.json": "ignored",
    "ws_serverShutdown.0.json": "ignored",
    "ws_serverShutdown.1.json": "ignored",
    "ws_subscribe.1.json": "ignored",
    "ws_unsubscribe.1.json": "ignored",
    "ws_subscribe.0.json": "unknown_event",  # a client request, never sent by the server
    "ws_unsubscribe.0.json": "unknown_event",
    "ws_aggTrade.0.json": "not_followed",  # BNBBTC
    "ws_kline.0.json": "not_followed",
    "ws_trade.0.json": "not_followed",
}


@pytest.mark.real_fixtures
@pytest.mark.parametrize("name", sorted(DOCS_REASONS))
def test_docs_examples_rejection_reasons(name: str) -> None:
    parser = make().new_parser()
    frame = shared_fixture(f"binance/docs-examples/{name}").read_bytes()
    assert parser.parse(frame, RECV_MS) == []
    assert parser.stats.rejected == {DOCS_REASONS[name]: 1}


@pytest.mark.real_fixtures
def test_docs_example_book_ticker() -> None:
    parser = make(["BNBUSDT"]).new_parser()
    frame = shared_fixture("binance/docs-examples/ws_bookTicker.0.json").read_bytes()
    [ticker] = parse_all(parser, [frame])
    assert isinstance(ticker, Ticker)
    assert (ticker.symbol, ticker.venue_symbol, ticker.ts_ms) == ("BNBUSDT", "BNBUSDT", RECV_MS)
    assert (ticker.bid, ticker.bid_size, ticker.ask, ticker.ask_size) == (
        25.3519,
        31.21,
        25.3652,
        40.66,
    )


@pytest.mark.real_fixtures
def test_docs_examples_trade_values() -> None:
    parser = any_symbol(BinanceParser)(make())
    names = ("ws_aggTrade.0.json", "ws_trade.0.json")
    frames = [shared_fixture(f"binance/docs-examples/{name}").read_bytes() for name in names]
    agg, trade = parse_all(parser, frames)
    assert isinstance(agg, Trade) and isinstance(trade, Trade)
    assert (agg.trade_id, agg.price, agg.size, agg.side, agg.ts_ms) == (
        "12345",
        0.001,
        100.0,
        "sell",
        1672515782136,
    )
    assert (trade.trade_id, trade.price, trade.side, trade.ts_ms) == (
        "12345",
        0.001,
        "sell",
        1672515782136,
    )


@pytest.mark.real_fixtures
def test_docs_example_kline_is_inconsistent_and_rejected() -> None:
    """The docs' kline example has open 0.0010 below low 0.0015: not a possible candle."""
    parser = any_symbol(BinanceParser)(make())
    frame = shared_fixture("binance/docs-examples/ws_kline.0.json").read_bytes()
    assert orjson.loads(frame)["k"]["o"] < orjson.loads(frame)["k"]["l"]
    assert parser.parse(frame, RECV_MS) == []
    assert parser.stats.rejected == {"malformed": 1}
    # the same bar with a consistent open parses to the documented values
    fixed = orjson.loads(frame)
    fixed["k"]["o"] = "0.0020"
    [kline] = parse_all(parser, [orjson.dumps(fixed)])
    assert isinstance(kline, Kline)
    assert (kline.open, kline.high, kline.low, kline.close, kline.volume) == (
        0.002,
        0.0025,
        0.0015,
        0.002,
        1000.0,
    )
    assert (kline.open_time_ms, kline.ts_ms, kline.closed) == (1672515780000, 1672515782136, False)


@pytest.mark.real_fixtures
def test_docs_example_rest_klines() -> None:
    payload = orjson.loads(
        shared_fixture("binance/docs-examples/rest_api_v3_klines.0.json").read_bytes()
    )
    [kline] = make().parse_klines("BTCUSDT", payload, RECV_MS)
    assert_round_trip([kline])
    assert (kline.open_time_ms, kline.ts_ms, kline.interval, kline.closed) == (
        1499040000000,
        1499040000000,
        "1m",
        True,
    )
    assert (kline.open, kline.high, kline.low, kline.close, kline.volume) == (
        0.0163479,
        0.8,
        0.015758,
        0.015771,
        148976.11427815,
    )
    assert (kline.exchange, kline.market, kline.symbol, kline.venue_symbol) == (
        "binance",
        "spot",
        "BTCUSDT",
        "BTCUSDT",
    )


# ------------------------------------------------------------------ own frames


def test_agg_trades_values_dedupe_and_unknown_symbol(parser: VenueParser) -> None:
    records = parse_all(parser, local_frames("ws_aggTrade.jsonl"))
    assert records == [
        Trade(
            exchange="binance",
            market="spot",
            symbol="BTCUSDT",
            venue_symbol="BTCUSDT",
            group="BTCUSDT",
            quote="USDT",
            ts_ms=1700000000123,
            recv_ms=RECV_MS,
            price=36512.34,
            size=0.0125,
            side="sell",  # m=true: the buyer was the maker, so the taker sold
            trade_id="2801123456",
        ),
        Trade(
            exchange="binance",
            market="spot",
            symbol="ETHUSDT",
            venue_symbol="ETHUSDT",
            group="ETHUSDT",
            quote="USDT",
            ts_ms=1700000000251,
            recv_ms=RECV_MS,
            price=2051.17,
            size=1.5,
            side="buy",
            trade_id="1187000001",
        ),
    ]
    assert parser.stats.rejected == {"duplicate": 1, "not_followed": 1}
    assert parser.stats.emitted == {"trade": 2}


def test_book_tickers_wrapped_and_raw(parser: VenueParser) -> None:
    records = parse_all(parser, local_frames("ws_bookTicker.jsonl"))
    assert [(r.symbol, r.bid, r.bid_size, r.ask, r.ask_size, r.ts_ms) for r in records] == [  # type: ignore[union-attr]
        ("BTCUSDT", 36512.33, 2.40112, 36512.34, 0.518, RECV_MS),
        ("SOLUSDT", 56.12, 310.5, 56.13, 12.04, RECV_MS),
    ]
    assert parser.stats.rejected == {"not_followed": 1}


def test_klines_open_then_closed(parser: VenueParser) -> None:
    first, last = parse_all(parser, local_frames("ws_kline.jsonl"))
    assert first == Kline(
        exchange="binance",
        market="spot",
        symbol="BTCUSDT",
        venue_symbol="BTCUSDT",
        group="BTCUSDT",
        quote="USDT",
        ts_ms=1700000000695,
        recv_ms=RECV_MS,
        open_time_ms=1699999980000,
        interval="1m",
        open=36500.01,
        high=36520.0,
        low=36495.5,
        close=36512.34,
        volume=12.34567,
        closed=False,
    )
    assert isinstance(last, Kline)
    assert (last.closed, last.close, last.high, last.volume, last.ts_ms) == (
        True,
        36518.0,
        36525.1,
        15.0,
        1700000040002,
    )


def test_trade_event(parser: VenueParser) -> None:
    [trade] = parse_all(parser, local_frames("ws_trade.jsonl"))
    assert isinstance(trade, Trade)
    assert (trade.trade_id, trade.price, trade.size, trade.side, trade.ts_ms) == (
        "3290001003",
        36512.35,
        0.003,
        "buy",
        1700000000788,
    )


def test_trade_and_agg_trade_ids_are_deduplicated_separately(parser: VenueParser) -> None:
    agg = {"e": "aggTrade", "s": "BTCUSDT", "a": 7, "p": "1", "q": "1", "T": RECV_MS, "m": True}
    trade = {"e": "trade", "s": "BTCUSDT", "t": 7, "p": "1", "q": "1", "T": RECV_MS, "m": True}
    assert len(parse_all(parser, [orjson.dumps(agg), orjson.dumps(trade)])) == 2
    assert parser.parse(orjson.dumps(trade), RECV_MS) == []
    assert parser.stats.rejected == {"duplicate": 1}


def test_invalid_trade_does_not_claim_its_id(parser: VenueParser) -> None:
    good = {"e": "aggTrade", "s": "BTCUSDT", "a": 9, "p": "10", "q": "1", "T": RECV_MS, "m": False}
    bad = dict(good, p="NaN")
    assert parser.parse(orjson.dumps(bad), RECV_MS) == []
    assert len(parser.parse(orjson.dumps(good), RECV_MS)) == 1


def test_control_frames_ignored(parser: VenueParser) -> None:
    assert parse_all(parser, local_frames("ws_control.jsonl")) == []
    assert parser.stats.rejected == {"ignored": 4}


def test_str_and_bytes_frames_parse_alike(parser: VenueParser) -> None:
    frame = local_frames("ws_trade.jsonl")[0]
    other = make().new_parser()
    assert parser.parse(frame, RECV_MS) == other.parse(frame.encode(), RECV_MS)


# ------------------------------------------------------------------ malformed input

AGG = {
    "e": "aggTrade",
    "E": 1,
    "s": "BTCUSDT",
    "a": 5,
    "p": "10.5",
    "q": "2",
    "T": RECV_MS,
    "m": False,
}
BOOK = {"u": 1, "s": "BTCUSDT", "b": "10.0", "B": "1", "a": "10.5", "A": "2"}
KLINE = {
    "e": "kline",
    "E": RECV_MS,
    "s": "BTCUSDT",
    "k": {"t": RECV_MS, "i": "1m", "o": "10", "h": "12", "l": "9", "c": "11", "v": "3", "x": True},
}


def with_(payload: dict[str, Any], **changes: Any) -> str:
    """`payload` wrapped as a combined-stream frame, with fields changed (None deletes)."""
    data = {k: v for k, v in {**payload, **changes}.items() if v is not None}
    return orjson.dumps({"stream": "btcusdt@x", "data": data}).decode()


def with_bar(**changes: Any) -> str:
    bar = {k: v for k, v in {**KLINE["k"], **changes}.items() if v is not None}  # type: ignore[dict-item]
    return with_(KLINE, k=bar)


BAD_FRAMES: list[tuple[str, str | bytes, str]] = [
    ("invalid_json", '{"stream": "btcusdt@aggTrade", "data": {', "malformed"),
    ("bytes_garbage", b"\x00\xff\xfe\x9c garbage \x81", "malformed"),
    ("empty", "", "malformed"),
    ("json_list", "[1, 2, 3]", "malformed"),
    ("json_null", "null", "malformed"),
    ("json_number", "42", "malformed"),
    ("json_string", '"aggTrade"', "malformed"),
    ("data_not_object", '{"stream": "btcusdt@aggTrade", "data": 5}', "malformed"),
    ("price_nan", with_(AGG, p="NaN"), "malformed"),
    ("price_inf", with_(AGG, p="inf"), "malformed"),
    ("price_zero", with_(AGG, p="0"), "malformed"),
    ("price_negative", with_(AGG, p="-10.5"), "malformed"),
    ("size_negative", with_(AGG, q="-1"), "malformed"),
    ("price_not_number", with_(AGG, p="ten"), "malformed"),
    ("price_wrong_type", with_(AGG, p=["10.5"]), "malformed"),
    ("missing_time", with_(AGG, T=None), "malformed"),
    ("missing_price", with_(AGG, p=None), "malformed"),
    ("missing_id", with_(AGG, a=None), "malformed"),
    ("id_wrong_type", with_(AGG, a="5"), "malformed"),
    ("maker_flag_wrong_type", with_(AGG, m="false"), "malformed"),
    ("time_out_of_range", with_(AGG, T=1_000), "malformed"),
    ("symbol_wrong_type", with_(AGG, s=5), "malformed"),
    ("symbol_unhashable", with_(AGG, s=["BTCUSDT"]), "malformed"),
    ("event_unhashable", with_(AGG, e=["aggTrade"]), "malformed"),
    ("crossed_book", with_(BOOK, b="10.6"), "malformed"),
    ("book_ask_nan", with_(BOOK, a="nan"), "malformed"),
    ("book_missing_size", with_(BOOK, A=None), "malformed"),
    ("kline_high_below_close", with_bar(h="10.9"), "malformed"),
    ("kline_low_above_open", with_bar(l="10.1"), "malformed"),
    ("kline_bad_interval", with_bar(i="7m"), "malformed"),
    ("kline_closed_wrong_type", with_bar(x="true"), "malformed"),
    ("kline_missing_volume", with_bar(v=None), "malformed"),
    ("kline_not_object", with_(KLINE, k="bar"), "malformed"),
    ("unknown_event", with_(AGG, e="someNewEvent"), "unknown_event"),
    ("no_event_unknown_shape", '{"foo": 1}', "unknown_event"),
    ("not_followed", with_(AGG, s="NKNUSDT"), "not_followed"),
    ("not_followed_book", with_(BOOK, s="BTCEUR"), "not_followed"),
    ("unknown_symbol", with_(AGG, s="FOOBAR"), "unknown_symbol"),  # no quote asset to split
    (
        "venue_error",
        '{"code": 2, "msg": "Invalid request: unknown variant", "id": 1}',
        "venue_error",
    ),
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
    assert reason in parser.stats.samples


def test_good_variants_of_the_bad_frames_parse(parser: VenueParser) -> None:
    """The bases the bad cases are built from are valid, so each case tests one defect."""
    assert count_types(parse_all(parser, [with_(AGG), with_(BOOK), with_bar()])) == {
        "trade": 1,
        "ticker": 1,
        "kline": 1,
    }
    assert parser.stats.rejected == {}


def test_lowercase_symbol_maps_to_venue_spelling(parser: VenueParser) -> None:
    [trade] = parser.parse(with_(AGG, s="btcusdt"), RECV_MS)
    assert (trade.symbol, trade.venue_symbol) == ("BTCUSDT", "BTCUSDT")


# ------------------------------------------------------------------ fuzzing

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.one_of(st.text(), st.binary()))
def test_fuzz_arbitrary_input_never_raises(frame: str | bytes) -> None:
    parser = make().new_parser()
    assert_round_trip(parser.parse(frame, RECV_MS))


@FUZZ
@given(st.lists(mutated_frame(SPOT_TEMPLATES), min_size=1, max_size=5))
def test_fuzz_mutated_frames_never_raise_and_round_trip(frames: list[bytes]) -> None:
    parser = make(ALL_SYMBOLS).new_parser()
    records = parse_all(parser, frames)
    assert sum(parser.stats.emitted.values()) == len(records)
    assert sum(parser.stats.rejected.values()) + len(records) == len(frames)


# ------------------------------------------------------------------ venue settings and plans


def test_class_settings() -> None:
    assert (Binance.name, Binance.market) == ("binance", "spot")
    assert Binance.max_connection_age_s == 23.5 * 3600
    assert Binance.ping_interval_s is None
    assert Binance.ping_message(make()) is None
    assert (Binance.rest_weight_per_minute, Binance.kline_page_limit) == (6000, 1000)
    assert Binance.max_streams_per_connection == 200


def test_ws_connections_three_symbols() -> None:
    [plan] = make().ws_connections()
    assert plan.label == "binance#0"
    assert plan.url == (
        "wss://stream.binance.com:9443/stream?streams="
        "btcusdt@aggTrade/btcusdt@bookTicker/btcusdt@kline_1m/"
        "ethusdt@aggTrade/ethusdt@bookTicker/ethusdt@kline_1m/"
        "solusdt@aggTrade/solusdt@bookTicker/solusdt@kline_1m"
    )
    assert plan.subscribe == ()
    assert plan.symbols == ("BTCUSDT", "ETHUSDT", "SOLUSDT")


def test_ws_connections_fifty_symbols_fit_one_connection() -> None:
    [plan] = make(ALL_SYMBOLS).ws_connections()
    streams = plan.url.split("?streams=", 1)[1].split("/")
    assert len(streams) == 150 == len(set(streams))
    assert plan.symbols == ALL_SYMBOLS
    assert streams[-1] == "enausdt@kline_1m"


def test_ws_connections_chunked_by_stream_limit() -> None:
    class Small(Binance):
        max_streams_per_connection = 10

    plans = Small(ALL_SYMBOLS, "ws://127.0.0.1:8765/binance/", REST_URL).ws_connections()
    assert [p.label for p in plans] == [f"binance#{i}" for i in range(17)]
    assert all(p.url.startswith("ws://127.0.0.1:8765/binance/stream?streams=") for p in plans)
    counts = [len(p.url.split("?streams=", 1)[1].split("/")) for p in plans]
    assert counts == [9] * 16 + [6]  # 3 streams per symbol, at most 10 per connection
    assert tuple(s for p in plans for s in p.symbols) == ALL_SYMBOLS


def test_symbols_the_listing_lacks_are_not_served() -> None:
    listing = Catalog(
        [make().symbol_instrument("BTCUSDT")],
        listed=["binance"],  # type: ignore[list-item]
    )
    exchange = Binance(["BTCUSDT", "NKNUSDT", "FOOUSDT"], WS_URL, REST_URL, listing)
    assert exchange.symbols == ("BTCUSDT",)
    assert [p.symbols for p in exchange.ws_connections()] == [("BTCUSDT",)]
    parser = exchange.new_parser()  # with a listing, what it lacks is unknown
    assert parser.parse(with_(AGG, s="NKNUSDT"), RECV_MS) == []
    assert parser.stats.rejected == {"unknown_symbol": 1}
    assert make([]).ws_connections() == []
    # without a listing the naming rule names them: followed when asked for
    assert make(["BTCUSDT", "NKNUSDT", "LRCBTC"]).symbols == ("BTCUSDT", "NKNUSDT", "LRCBTC")


# ------------------------------------------------------------------ REST


def test_klines_request() -> None:
    request = make().klines_request("ETHUSDT", 1699999860000, 1700000039999)
    assert request.path == "/api/v3/klines"
    assert request.params == {
        "symbol": "ETHUSDT",
        "interval": "1m",
        "startTime": "1699999860000",
        "endTime": "1700000039999",
        "limit": "1000",
    }
    assert request.weight == 2


def test_spot_has_no_funding_or_open_interest() -> None:
    exchange = make()
    assert exchange.funding_history_request("BTCUSDT", 0, 1) is None
    assert exchange.open_interest_history_request("BTCUSDT", 0, 1) is None
    assert exchange.current_funding_request("BTCUSDT") is None
    assert exchange.current_open_interest_request("BTCUSDT") is None


def test_parse_klines_from_fixture() -> None:
    payload = orjson.loads(local_fixture("exchanges/binance/rest_klines.json").read_bytes())
    klines = make().parse_klines("BTCUSDT", payload, recv_ms=1700000000999)
    assert_round_trip(klines)
    assert [(k.open_time_ms, k.ts_ms, k.closed) for k in klines] == [
        (1699999860000, 1699999860000, True),
        (1699999920000, 1699999920000, True),
        (1699999980000, 1699999980000, False),  # closes at ...039999, after recv_ms
    ]
    assert (klines[0].open, klines[0].high, klines[0].low, klines[0].close, klines[0].volume) == (
        36480.0,
        36490.1,
        36470.0,
        36488.8,
        20.11,
    )
    assert {(k.exchange, k.market, k.symbol, k.venue_symbol, k.recv_ms) for k in klines} == {
        ("binance", "spot", "BTCUSDT", "BTCUSDT", 1700000000999)
    }


def test_parse_klines_skips_bad_rows() -> None:
    good = [1699999860000, "10", "12", "9", "11", "3", 1699999919999, "0", 1, "0", "0", "0"]
    rows = [
        good,
        good[:5],  # short
        [1699999920000, "NaN", "12", "9", "11", "3", 1699999979999],
        [1699999980000, "10", "8", "9", "11", "3", 1700000039999],  # high < low
        [1700000040000, "10", "12", "9", "11", "-3", 1700000099999],
        "row",
        None,
        {"t": 1},
    ]
    klines = make().parse_klines("BTCUSDT", rows, RECV_MS)
    assert [k.open_time_ms for k in klines] == [1699999860000]


@pytest.mark.parametrize("payload", [{"code": -1121, "msg": "Invalid symbol."}, None, "x", 5])
def test_parse_klines_rejects_wrong_shape(payload: Any) -> None:
    with pytest.raises(BadMessage):
        make().parse_klines("BTCUSDT", payload, RECV_MS)


def test_check_rest_payload() -> None:
    exchange = make()
    error = orjson.loads(local_fixture("exchanges/binance/rest_error.json").read_bytes())
    with pytest.raises(BadMessage, match="-1121"):
        exchange.check_rest_payload(error)
    exchange.check_rest_payload([])
    exchange.check_rest_payload({"symbol": "BTCUSDT"})
    exchange.check_rest_payload({"code": 200, "msg": "success"})
