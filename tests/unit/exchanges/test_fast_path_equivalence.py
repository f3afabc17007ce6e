"""The harness of the Bybit `publicTrade` differential test (test_fast_path_equivalence_bybit.py).

Binance's fast path and reference parser became one typed parser (exchanges/binance/); its
cases moved to test_generated_frames.py and test_typed_parsers.py. What follows described
both venues:

Differential tests of the parsers' msgspec fast paths against their reference paths.

Every frame goes through two parsers of the same venue: one through `parse()` (fast path,
falling back to the reference) and one through `parse_reference()` only. After each frame
the records (compared by `repr`, so -0.0 and nan count) and the ParseStats counters and
samples must be identical. Frames come in sequences, so duplicate ids and the symbol cache
are exercised too. Sources: generated frames built as JSON text (duplicated keys, `1e400`,
integers beyond 64 bits, numeric strings `float()` reads differently from msgspec), mutations
of real captures (tests/fixtures/exchanges and ../shared/fixtures) and the captures themselves.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from microservices.data_collector.exchanges.base import Exchange, VenueParser

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
