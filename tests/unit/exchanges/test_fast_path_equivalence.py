"""Differential tests of the parsers' msgspec fast paths against their reference paths.

Every frame goes through two parsers of the same venue: one through `parse()` (fast path,
falling back to the reference) and one through `parse_reference()` only. After each frame
the records (compared by `repr`, so -0.0 and nan count) and the ParseStats counters and
samples must be identical. Frames come in sequences, so duplicate ids and the symbol cache
are exercised too. Sources: generated frames built as JSON text (duplicated keys, `1e400`,
integers beyond 64 bits, numeric strings `float()` reads differently from msgspec), mutations
of real captures (tests/fixtures/exchanges and ../shared/fixtures) and the captures themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import msgspec
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from microservices.common.records import Trade
from microservices.common.schema_fields import MAX_TS_MS, MIN_TS_MS
from microservices.data_collector.exchanges.base import Exchange, VenueParser
from microservices.data_collector.exchanges.binance import fast as _binance_fast
from microservices.data_collector.exchanges.binance.futures import BinanceFutures
from microservices.data_collector.exchanges.binance.parser import KLINE_INTERVALS
from microservices.data_collector.exchanges.binance.spot import Binance
from tests.fixture_paths import SHARED_FIXTURES, capture_frames, local_fixture

RECV_MS = 1_700_000_060_000
SYMBOLS = ("BTCUSDT", "ETHUSDT")
DIFF = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
Frame = str | bytes
# the payload strategies nest many value strategies: their repr is long, and never shown
pytestmark = pytest.mark.filterwarnings("ignore:Generating overly large repr")


# ------------------------------------------------------------------------------ harness


class Pair:
    """The same venue twice: `fast` parses with parse(), `ref` with parse_reference()."""

    def __init__(self, venue: type[Exchange], symbols: Iterable[str] = SYMBOLS) -> None:
        exchanges = [venue(tuple(symbols), "wss://x", "https://x") for _ in range(2)]
        for exchange in exchanges:  # a non-default interval, where the venue keeps them
            intervals = getattr(exchange, "funding_intervals", None)
            if isinstance(intervals, dict):
                intervals["BTCUSDT"] = 4.0
        self.fast: VenueParser = exchanges[0].new_parser()
        self.ref: VenueParser = exchanges[1].new_parser()
        self.fast_hits = 0

    def check(self, frame: Frame) -> None:
        got = self.fast.parse(frame, RECV_MS)
        want = self.ref.parse_reference(frame, RECV_MS)  # type: ignore[attr-defined]
        assert repr(got) == repr(want), frame
        assert self.fast.stats == self.ref.stats, frame

    def run(self, frames: Iterable[Frame]) -> None:
        for frame in frames:
            self.check(frame)


def dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def obj(pairs: Iterable[tuple[str, str]]) -> str:
    """A JSON object from (key, raw JSON text) pairs: keys may repeat, values stay verbatim."""
    return "{" + ",".join(f"{dumps(key)}:{raw}" for key, raw in pairs) + "}"


# ------------------------------------------------------------------------ value strategies

WEIRD_NUMBERS = ["1e400", "-1e400", "1E+400", "1e-400", "-0", "-0.0", "0", "0.0", "1E2",
                 "123456789012345678901234567890", "-123456789012345678901234567890",
                 "18446744073709551615", "18446744073709551616", "9223372036854775807",
                 "9223372036854775808", "-9223372036854775809", "1" + "0" * 320]  # fmt: skip
WEIRD_STRINGS = ["nan", "NaN", "-nan", "inf", "-inf", "Infinity", "-Infinity", "infinity",
                 " 1.5", "1.5 ", "1_000", "+1.5", ".5", "5.", "0x10", "1e5", "1E5", "-0",
                 "-0.0", "0", "", "null", "true", "1,5", "١٢", "1e400", "1e-400", "00.5",
                 "12345678901234567890123", "1.00000000000000011102230246251565404236316680908203125",
                 "2.2250738585072011e-308", "4.9e-324", "1.7976931348623157e308", "1e308"]  # fmt: skip
WEIRD_RAW = ["true", "false", "null", "[]", "{}", '"x"', '[1]', '{"a":1}', '"\\ud800"',
             '"\\u0031"', '"1\\u002e5"', '"é"', "[" * 40 + "]" * 40]  # fmt: skip


def json_float(value: float) -> str:
    return repr(value)  # repr of a finite float is a valid JSON number


decimal_text = st.from_regex(r"\A-?[0-9]{1,22}(\.[0-9]{0,25})?([eE][-+]?[0-9]{1,3})?\Z")
finite = st.floats(allow_nan=False, allow_infinity=False)
number_string = st.one_of(
    decimal_text.map(dumps),
    finite.map(lambda x: dumps(repr(x))),
    st.sampled_from(WEIRD_STRINGS).map(dumps),
)
number_raw = st.one_of(
    finite.map(json_float),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.sampled_from(WEIRD_NUMBERS),
)
junk = st.one_of(st.sampled_from(WEIRD_RAW), st.text(max_size=6).map(dumps), number_raw)


def field(good: st.SearchStrategy[str], *others: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Mostly `good`, sometimes anything else: one bad value per frame is the usual case."""
    return st.one_of(good, good, good, *others, junk)


PRICE = field(
    st.decimals(min_value=1, max_value=100_000, places=4).map(lambda d: dumps(str(d))),
    number_string,
    number_raw,
)
SIZE = field(
    st.decimals(min_value=0, max_value=1_000, places=3).map(lambda d: dumps(str(d))),
    number_string,
    number_raw,
)
RATE = field(
    st.decimals(min_value="-0.01", max_value="0.01", places=8).map(lambda d: dumps(str(d))),
    number_string,
    number_raw,
)
MIN_MS, MAX_MS = 1_230_768_000_000, 4_102_444_800_000
EPOCH = field(
    st.integers(1_600_000_000_000, 1_800_000_000_000).map(str),
    st.sampled_from([MIN_MS - 1, MIN_MS, MAX_MS, MAX_MS + 1, 0]).map(str),
    st.integers(1_600_000_000_000, 1_800_000_000_000).map(lambda i: dumps(str(i))),
    st.integers(1_600_000_000_000, 1_800_000_000_000).map(lambda i: f"{i}.0"),
)
TRADE_ID = field(
    st.integers(0, 10**12).map(str),
    st.sampled_from(["-1", "0", str(2**63), str(2**64 - 1), str(2**64), "1.0", '"12"']),
)
FLAG = field(st.sampled_from(["true", "false"]), st.sampled_from(['"true"', "1", "0", "null"]))
SYMBOL = st.sampled_from(["BTCUSDT", "BTCUSDT", "ETHUSDT", "btcusdt", "SOLUSDT", "FOOBAR", ""])
SYMBOL_RAW = field(SYMBOL.map(dumps), st.sampled_from(["5", "null", '["BTCUSDT"]']))
INTERVAL = field(st.sampled_from(["1m", "1s", "1M"]).map(dumps), st.sampled_from(['"2m"', '"1m "']))
ANY = field(st.integers(0, 10**9).map(str), st.text(max_size=4).map(dumps))
OPTIONAL = st.one_of(st.none(), ANY)


def fields(**spec: st.SearchStrategy[str]) -> st.SearchStrategy[list[tuple[str, str]]]:
    """(key, raw JSON) pairs of a payload, in the order given."""
    return st.tuples(*(st.tuples(st.just(k), s) for k, s in spec.items())).map(list)


def payload(event: str | None, **spec: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    head = [] if event is None else [("e", dumps(event))]
    return st.builds(lambda body: obj(head + body), fields(**spec))


@st.composite
def edited(draw: st.DrawFn, base: st.SearchStrategy[str]) -> str:
    """A payload text, sometimes with a key dropped, repeated, shuffled or an unknown key added."""
    text = draw(base)
    if draw(st.booleans()):
        return text
    try:
        pairs = list(orjson.loads(text).items())
    except orjson.JSONDecodeError:  # 1e400 or a lone surrogate in it: leave it as it is
        return text
    raw_pairs = [(k, dumps(v)) for k, v in pairs]
    action = draw(st.sampled_from(["drop", "repeat", "shuffle", "unknown", "none"]))
    if action == "drop":
        del raw_pairs[draw(st.integers(0, len(raw_pairs) - 1))]
    elif action == "repeat":
        key = draw(st.sampled_from([k for k, _ in raw_pairs]))
        raw_pairs.append((key, draw(junk)))
    elif action == "shuffle":
        raw_pairs = draw(st.permutations(raw_pairs))
    elif action == "unknown":
        raw_pairs.insert(draw(st.integers(0, len(raw_pairs))), ("zz", draw(junk)))
    return obj(raw_pairs)


def wrap(data: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Combined-stream wrapper (the usual case), raw payload, or an odd wrapper."""
    return st.one_of(
        data.map(lambda d: obj([("stream", '"btcusdt@x"'), ("data", d)])),
        data.map(lambda d: obj([("stream", '"btcusdt@x"'), ("data", d)])),
        data.map(lambda d: obj([("data", d)])),
        data,
        st.tuples(data, data).map(lambda dd: obj([("data", dd[0]), ("data", dd[1])])),
        st.tuples(data, junk).map(lambda dj: obj([("data", dj[0]), ("generated", dj[1])])),
        st.tuples(data, junk).map(lambda dj: obj([("stream", dj[1]), ("data", dj[0])])),
    )


AGG_TRADE = payload("aggTrade", E=EPOCH, s=SYMBOL_RAW, a=TRADE_ID, p=PRICE, q=SIZE, f=ANY,
                    l=ANY, T=EPOCH, m=FLAG)  # fmt: skip
BOOK_TICKER = payload("bookTicker", u=ANY, s=SYMBOL_RAW, b=PRICE, B=SIZE, a=PRICE, A=SIZE,
                      T=EPOCH, E=EPOCH)  # fmt: skip
SPOT_BOOK = payload(None, u=ANY, s=SYMBOL_RAW, b=PRICE, B=SIZE, a=PRICE, A=SIZE)
BAR = payload(None, t=EPOCH, T=EPOCH, s=SYMBOL_RAW, i=INTERVAL, f=ANY, L=ANY, o=PRICE, c=PRICE,
              h=PRICE, l=PRICE, v=SIZE, n=ANY, x=FLAG, q=SIZE, V=SIZE, Q=SIZE, B=ANY)  # fmt: skip
KLINE = st.builds(
    lambda head, bar: obj([*head, ("k", bar)]),
    fields(e=st.just('"kline"'), E=EPOCH, s=SYMBOL_RAW),
    edited(BAR),
)
MARK_PRICE = payload("markPriceUpdate", E=EPOCH, s=SYMBOL_RAW, p=PRICE,
                     i=st.one_of(PRICE, st.just('""'), st.just("null")), P=PRICE, r=RATE,
                     T=st.one_of(EPOCH, st.just("0")))  # fmt: skip
OTHER = st.sampled_from(['{"result":null,"id":1}', "[]", "", "{", "null", '{"data":[]}'])
BINANCE_DATA = st.one_of(
    edited(AGG_TRADE), edited(BOOK_TICKER), edited(SPOT_BOOK), KLINE, edited(MARK_PRICE)
)
BINANCE_FRAME = st.one_of(wrap(BINANCE_DATA), OTHER)


@st.composite
def frame_sequence(draw: st.DrawFn, frames: st.SearchStrategy[str]) -> list[Frame]:
    """A few frames, some repeated (duplicates), some as bytes (maybe with invalid UTF-8)."""
    out: list[Frame] = []
    for text in draw(st.lists(frames, min_size=1, max_size=6)):
        if out and draw(st.integers(0, 4)) == 0:
            out.append(draw(st.sampled_from(out)))
        encoding = draw(st.sampled_from(["str", "str", "str", "bytes", "badutf8"]))
        if encoding == "str":
            out.append(text)
        elif encoding == "bytes":
            out.append(text.encode())
        else:
            raw = text.encode()
            cut = draw(st.integers(0, len(raw)))
            out.append(raw[:cut] + b"\xff" + raw[cut:])
    return out


# ---------------------------------------------------------------------------------- tests


@DIFF
@given(frame_sequence(BINANCE_FRAME))
def test_binance_futures_generated_frames(frames: list[Frame]) -> None:
    Pair(BinanceFutures).run(frames)


@DIFF
@given(frame_sequence(BINANCE_FRAME))
def test_binance_spot_generated_frames(frames: list[Frame]) -> None:
    Pair(Binance).run(frames)


def real_binance_frames() -> list[str]:
    paths = sorted(local_fixture("exchanges/binance").glob("ws_*.jsonl"))
    paths += sorted(local_fixture("exchanges/binance_futures").glob("ws_*.jsonl"))
    paths += sorted(SHARED_FIXTURES.glob("binance*/ws/*.jsonl"))
    frames: list[str] = []
    for path in paths:
        frames.extend(capture_frames(Path(path)))
    return frames


def as_btcusdt(frame: str) -> str | None:
    """A real frame with its instrument renamed to BTCUSDT (most captures are of others)."""
    try:
        msg = orjson.loads(frame)
        data = msg.get("data", msg)
        if isinstance(data, dict) and isinstance(data.get("s"), str):
            data["s"] = "BTCUSDT"
            return dumps(msg)
    except (orjson.JSONDecodeError, AttributeError):
        pass
    return None


REAL = real_binance_frames()
REAL_BTC = [f for f in map(as_btcusdt, REAL) if f is not None]


@pytest.mark.parametrize("venue", [Binance, BinanceFutures])
def test_binance_real_frames(venue: type[Exchange]) -> None:
    from microservices.exchange_simulator.naming import sample_symbols

    assert REAL, "no Binance fixture frames found"
    Pair(venue, sample_symbols(50)).run(REAL + REAL_BTC + REAL_BTC)  # 2nd: duplicates


@st.composite
def mutated_real(draw: st.DrawFn) -> str:
    """A real BTCUSDT frame with one value of its payload (or of `k`) replaced by junk."""
    msg = orjson.loads(draw(st.sampled_from(REAL_BTC)))
    data = msg.get("data", msg)
    target = data["k"] if isinstance(data.get("k"), dict) and draw(st.booleans()) else data
    key = draw(st.sampled_from(sorted(target)))
    raw = draw(st.one_of(junk, number_string, EPOCH))
    marker = "__MARK__"
    target[key] = marker
    text = dumps(msg).replace(dumps(marker), raw, 1)
    return text


@DIFF
@given(st.lists(mutated_real(), min_size=1, max_size=5))
def test_binance_mutated_real_frames(frames: list[str]) -> None:
    for venue in (Binance, BinanceFutures):
        Pair(venue).run([*REAL_BTC[:5], *frames])


EDGE_VALUES = [*WEIRD_NUMBERS, *map(dumps, WEIRD_STRINGS), *WEIRD_RAW, '"1m"', '"1s"', "1.5"]


def with_value(frame: str, key: str, raw: str | None, where: str = "data") -> str:
    """`frame` with key of the wrapper, the payload or its `k` set to raw JSON, or removed."""
    msg = orjson.loads(frame)
    data = msg.get("data", msg)
    target = msg if where == "top" else data if where == "data" else data["k"]
    if raw is None:
        del target[key]
        return dumps(msg)
    target[key] = "__MARK__"
    return dumps(msg).replace('"__MARK__"', raw, 1)


def edge_frames(template: str) -> list[str]:
    msg = orjson.loads(template)
    data = msg.get("data", {})
    out: list[str] = []
    for where, keys in [("top", ["stream"]), ("data", sorted(data)), ("bar", data.get("k", {}))]:
        for key in keys:
            for raw in [None, *EDGE_VALUES]:  # a fresh trade id each: no duplicate short-cut
                out.append(with_value(str(bump_ids(template, len(out) + 1)), key, raw, where))
    return out


def fast_templates(venue: type[Exchange]) -> dict[tuple[str, ...], str]:
    """One real frame per kind and key set that the venue's fast path takes as it is."""
    out: dict[tuple[str, ...], str] = {}
    for i, frame in enumerate(REAL_BTC):
        parser = venue(SYMBOLS, "wss://x", "https://x").new_parser()
        parser.parse(frame, RECV_MS)  # caches the symbol
        if parser._fast(bump_ids(frame, i), RECV_MS) is not None:  # type: ignore[attr-defined]
            data = orjson.loads(frame).get("data", {})
            out.setdefault((kind(frame), *sorted(data), *sorted(data.get("k", {}))), frame)
    return out


@pytest.mark.parametrize("venue", [Binance, BinanceFutures])
def test_binance_edge_values_in_every_field(venue: type[Exchange]) -> None:
    """Each field of one real frame per kind set to each edge value (or removed) in turn."""
    templates = fast_templates(venue)
    assert len(templates) >= 3, templates
    for template in templates.values():
        pair = Pair(venue)
        pair.check(template)
        pair.run(edge_frames(template))


# ----------------------------------------------------------- the fast path is really used


def fast_hits(parser: VenueParser, frames: Iterable[Frame]) -> int:
    fast: Callable[[Frame, int], Any] = parser._fast  # type: ignore[attr-defined]
    hits = 0
    for frame in frames:
        parser.parse(frame, RECV_MS)  # warm the symbol cache
    for i, frame in enumerate(frames):
        hits += fast(bump_ids(frame, i), RECV_MS) is not None
    return hits


def bump_ids(frame: Frame, i: int) -> Frame:
    try:
        msg = orjson.loads(frame)
    except orjson.JSONDecodeError:
        return frame
    data = msg.get("data", msg)
    a = data.get("a") if isinstance(data, dict) else None
    if type(a) is int and 0 <= a < 2**62 and data.get("e") == "aggTrade":
        data["a"] += 10**9 + i
    return dumps(msg)


def kind(frame: str) -> str:
    data = orjson.loads(frame).get("data", {})
    return str(data.get("e", "spotBookTicker" if "u" in data and "b" in data else ""))


@pytest.mark.parametrize(
    ("venue", "event"),
    [(BinanceFutures, "aggTrade"), (BinanceFutures, "bookTicker"), (BinanceFutures, "kline"),
     (BinanceFutures, "markPriceUpdate"), (Binance, "aggTrade"), (Binance, "kline"),
     (Binance, "spotBookTicker")],
)  # fmt: skip
def test_binance_fast_path_takes_the_common_real_frames(venue: type[Exchange], event: str) -> None:
    frames = [frame for frame in REAL_BTC if kind(frame) == event]
    assert frames, event
    assert fast_hits(venue(SYMBOLS, "wss://x", "https://x").new_parser(), frames) >= 1


def test_fast_path_constants_match_the_reference() -> None:
    assert _binance_fast.KLINE_INTERVALS is KLINE_INTERVALS  # one set, used by both paths
    assert (MIN_TS_MS, MAX_TS_MS) == (MIN_MS, MAX_MS)  # the edge values above sit on the bounds


def test_direct_init_builds_the_same_record() -> None:
    kwargs: dict[str, Any] = dict(exchange="binance", market="spot", symbol="BTCUSDT",
                                  venue_symbol="BTCUSDT", group="BTCUSDT", quote="USDT",
                                  ts_ms=1, recv_ms=2, price=1.5,
                                  size=0.25, side="buy", trade_id="7")  # fmt: skip
    record = object.__new__(Trade)
    Trade.__init__(record, **kwargs)
    assert repr(record) == repr(Trade(**kwargs))


@DIFF
@given(decimal_text)
def test_msgspec_lax_floats_read_numeric_strings_like_float(text: str) -> None:
    """What the fast path relies on: a string msgspec turns into a float, float() reads the
    same (sign of zero aside, which the fast path never takes)."""

    class One(msgspec.Struct):
        x: float

    try:
        got = msgspec.json.Decoder(One, strict=False).decode(obj([("x", dumps(text))])).x
    except msgspec.ValidationError:
        return
    want = float(text)
    assert got == want or (got == 0.0 and want == 0.0)
