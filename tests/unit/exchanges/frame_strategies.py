"""Hypothesis strategies of frames built as JSON text: weird numbers and numeric strings,
integers beyond 64 bits, booleans and nulls where numbers go, dropped, repeated, shuffled and
unknown keys, odd wrappers, invalid UTF-8 in bytes frames and repeated frames (duplicates).
Used by test_generated_frames.py."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson
from hypothesis import strategies as st

Frame = str | bytes


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


def payload(
    event: str | None, tag: str = "e", **spec: st.SearchStrategy[str]
) -> st.SearchStrategy[str]:
    head = [] if event is None else [(tag, dumps(event))]
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


TRADE_ITEM = payload(None, T=EPOCH, s=SYMBOL_RAW, S=field(st.sampled_from(['"Buy"', '"Sell"'])),
                     v=SIZE, p=PRICE, L=field(st.just('"PlusTick"')),
                     i=field(st.uuids().map(lambda u: dumps(str(u))), TRADE_ID),
                     BT=FLAG, seq=ANY)  # fmt: skip
BYBIT_TOPIC = st.sampled_from(["publicTrade.BTCUSDT", "publicTrade.ETHUSDT", "publicTrade.FOO",
                               "publicTrade", "tickers.BTCUSDT"]).map(dumps)  # fmt: skip
BYBIT_TRADES = st.builds(
    lambda head, items: obj([*head, ("data", "[" + ",".join(items) + "]")]),
    fields(topic=field(BYBIT_TOPIC), type=field(st.just('"snapshot"')), ts=EPOCH),
    st.lists(edited(TRADE_ITEM), max_size=4),
)
TICKER_DATA = payload(None, symbol=SYMBOL_RAW, bid1Price=PRICE, bid1Size=SIZE, ask1Price=PRICE,
                      ask1Size=SIZE, lastPrice=PRICE, markPrice=PRICE, fundingRate=RATE,
                      nextFundingTime=st.one_of(EPOCH, st.just('"0"')),
                      openInterest=SIZE)  # fmt: skip
BYBIT_TICKERS = st.builds(
    lambda head, data: obj([*head, ("data", data)]),
    fields(topic=field(st.just('"tickers.BTCUSDT"')),
           type=field(st.sampled_from(['"snapshot"', '"delta"'])), ts=EPOCH),
    edited(TICKER_DATA),
)  # fmt: skip
BYBIT_FRAME = st.one_of(BYBIT_TRADES, BYBIT_TICKERS)
ISO = field(st.sampled_from(['"2023-11-14T22:13:20.123456Z"', '"2023-11-14T22:13:20Z"',
                             '"2023-11-14T22:13:20.123+05:00"', '"9999-12-31T23:59:59Z"']))  # fmt: skip
PRODUCT = field(st.sampled_from(['"BTC-USD"', '"ETH-USD"', '"FOO-USD"']))
COINBASE_TICKER = payload("ticker", "type", product_id=PRODUCT, best_bid=PRICE, best_ask=PRICE,
                          best_bid_size=SIZE, best_ask_size=SIZE, price=PRICE, time=ISO)  # fmt: skip
COINBASE_MATCH = payload("match", "type", product_id=PRODUCT, trade_id=TRADE_ID, price=PRICE,
                         size=SIZE, side=field(st.sampled_from(['"buy"', '"sell"'])),
                         time=ISO)  # fmt: skip
COINBASE_FRAME = st.one_of(edited(COINBASE_TICKER), edited(COINBASE_MATCH), OTHER)
