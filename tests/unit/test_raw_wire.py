"""The fast raw encoders and RESP packers give exactly the reference (spec-driven) encoding."""

from __future__ import annotations

from typing import Any

import hiredis
import pytest
from hypothesis import given
from hypothesis import strategies as st

from microservices.common import schema_fields, schemas
from microservices.common.clock import ms_to_seconds_str
from microservices.common.raw_decode import decode_fast
from microservices.common.raw_wire import seconds
from microservices.common.records import Kline, Ticker
from microservices.common.resp import command, pack_fields
from tests import factories as f


def unpack(packed: tuple[int, str]) -> list[bytes]:
    """Parse a packed entry back with a real RESP parser (hiredis): [count, f, v, ...]."""
    count, text = packed
    reader = hiredis.Reader()
    data = text.encode()
    reader.feed(f"*{count}\r\n".encode() + data)
    parsed = reader.gets()
    assert reader.gets() is False  # nothing left over: lengths were right
    assert isinstance(parsed, list) and len(parsed) == count
    return parsed


def check(record: Any) -> None:
    reference = schemas.encode_raw_generic(record)
    assert list(schemas.encode_raw(record).items()) == list(reference.items())
    assert schemas.pack_raw(record) == pack_fields(reference)
    parsed = unpack(schemas.pack_raw(record))
    assert int(parsed[0]) == 2 * len(reference)
    flat = [x for kv in reference.items() for x in kv]
    assert [p.decode() for p in parsed[1:]] == flat


@pytest.mark.parametrize("record", f.raw_samples(), ids=lambda r: f"{r.type}-{r.exchange}")
def test_samples_match_the_reference_encoding(record: Any) -> None:
    check(record)


texts = st.text(min_size=1, max_size=12)
numbers = st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.integers(0, 10**6))
times = st.integers(0, 4_102_444_800_000)


@given(venue_symbol=texts, trade_id=texts, price=numbers, size=numbers, ts=times)
def test_trades_match_including_non_ascii_ints_and_small_times(
    venue_symbol: str, trade_id: str, price: float, size: float, ts: int
) -> None:
    check(f.trade(price=price, size=size, trade_id=trade_id, venue_symbol=venue_symbol, ts_ms=ts))


@given(bid=numbers, ask=numbers, last=st.one_of(st.none(), numbers), symbol=texts)
def test_tickers_match(bid: float, ask: float, last: float | None, symbol: str) -> None:
    head = f.header(venue_symbol=symbol)
    check(Ticker(**head, bid=bid, bid_size=1, ask=ask, ask_size=2.5, last=last))


@given(o=numbers, closed=st.booleans(), interval=texts, open_time=times)
def test_klines_match(o: float, closed: bool, interval: str, open_time: int) -> None:
    check(
        Kline(**f.header(), open_time_ms=open_time, interval=interval, open=o, high=o,
              low=o, close=o, volume=0, closed=closed)
    )  # fmt: skip


@given(ts=times)
def test_seconds_matches_the_schema_time_format(ts: int) -> None:
    assert seconds(ts) == ms_to_seconds_str(ts)


def test_command_counts_bytes_of_non_ascii_arguments() -> None:
    packed = pack_fields({"venue_symbol": "BTC-€", "x": "1"})
    raw = command(["EVALSHA", "é"], [packed[1]], packed[0])
    reader = hiredis.Reader()
    reader.feed(raw)
    assert reader.gets() == [b"EVALSHA", "é".encode(), b"4", b"venue_symbol", "BTC-€".encode(),
                             b"x", b"1"]  # fmt: skip


# ------------------------------------------------------------------ fast decoding


def reference(entry: dict[bytes, bytes]) -> Any:
    """What the spec-driven decoder gives: a record or the SchemaError text."""
    try:
        return schemas.decode_raw(schema_fields.normalize_entry(entry))
    except (schemas.SchemaError, ValueError, TypeError, KeyError, UnicodeDecodeError) as exc:
        return f"error: {type(exc).__name__}"


def decoded(entry: dict[bytes, bytes]) -> Any:
    try:
        return schemas.RAW.decode(entry)
    except schemas.SchemaError:
        return "error"


def same(entry: dict[bytes, bytes]) -> None:
    want, got = reference(entry), decoded(entry)
    if isinstance(want, str):
        assert got == "error"
    else:
        assert got == want


def as_entry(record: Any) -> dict[bytes, bytes]:
    return {k.encode(): v.encode() for k, v in schemas.encode_raw(record).items()}


HOT = [r for r in f.raw_samples() if r.type in ("trade", "ticker", "kline")]
ODD = [b"", b"NaN", b"inf", b"-1", b"0", b"1e400", b"\xff\xfe", b"BTC\n", b"buy", b"true",
       b"1700000000.1234", b"17000.5", b" 5 ", b"\xd9\xa3", b"Binance", b"a_b", b"perp", b"x"]  # fmt: skip


@pytest.mark.parametrize("record", HOT, ids=lambda r: f"{r.type}-{r.exchange}")
def test_fast_decode_is_used_for_valid_entries(record: Any) -> None:
    entry = as_entry(record)
    assert decode_fast(entry) == record
    same(entry)


@given(
    index=st.integers(0, len(HOT) - 1),
    changes=st.lists(st.tuples(st.integers(0, 20), st.sampled_from(ODD)), max_size=3),
    drop=st.booleans(),
    extra=st.booleans(),
)
def test_fast_decode_agrees_with_the_reference_on_mutated_entries(
    index: int, changes: list[tuple[int, bytes]], drop: bool, extra: bool
) -> None:
    entry = as_entry(HOT[index])
    keys = list(entry)
    for position, value in changes:
        entry[keys[position % len(keys)]] = value
    if drop:
        entry.pop(keys[len(changes) % len(keys)])
    if extra:
        entry[b"unexpected"] = b"\xff"
    same(entry)


def test_fast_time_parse_agrees_with_the_schema_on_fourteen_character_times() -> None:
    from microservices.common.errors import SchemaError
    from microservices.common.raw_decode import ms
    from microservices.common.schema_fields import parse_ms

    texts = ["1796512187.421", "1796512187.000", "0796512187.421", "1796512187.4_1",
             "1796512187.+21", "+796512187.421", "9999999999.999", "1796512187,421",
             "179651218.7421", "1796512187.42", "1796512187.4210"]  # fmt: skip
    for text in texts:
        try:
            expected: int | None = parse_ms("t", text)
        except SchemaError:
            expected = None
        try:
            got: int | None = ms(text.encode())
        except ValueError:
            got = None
        assert got == expected, text
    assert ms(b"1796512187.421") == 1_796_512_187_421
    with pytest.raises(ValueError):  # non-ASCII digits: the reference decoder decides
        ms("1796512187.٤21".encode())
