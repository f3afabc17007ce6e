"""`raw_json`'s f-string lines are exactly `orjson.dumps` of the reference (spec-driven)
encoding, newline included: for the samples of every type, and for generated records with
strings JSON must escape, non-ASCII text, integer values where floats belong, times below
1000 ms and optional fields present or not (those take the reference path)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from microservices.common import raw_json, schemas
from microservices.common.raw_json import line_encoders, orjson_line
from microservices.common.records import Kline, Ticker
from tests import factories as f


def reference(record: Any) -> str:
    return orjson.dumps(schemas.encode_raw_generic(record)).decode() + "\n"


SHARED = line_encoders()  # one set for every test: its caches see many records


def fast(record: Any) -> str:
    return SHARED.get(record.type, orjson_line)(record)


@pytest.mark.parametrize("record", f.raw_samples(), ids=lambda r: f"{r.type}-{r.exchange}")
def test_samples_match_the_reference_line(record: Any) -> None:
    assert fast(record) == reference(record)
    assert orjson_line(record) == reference(record)


texts = st.text(min_size=0, max_size=12)  # quotes, backslashes, control characters, any script
numbers = st.one_of(st.floats(), st.integers(0, 10**6))  # NaN and infinities included
times = st.integers(0, 4_102_444_800_000)


@given(head=st.tuples(texts, texts, texts), trade_id=texts, side=texts, price=numbers,
       size=numbers, ts=times, recv=times)  # fmt: skip
def test_trades_match(
    head: tuple[str, str, str], trade_id: str, side: str, price: float, size: float, ts: int,
    recv: int,
) -> None:  # fmt: skip
    venue_symbol, symbol, quote = head
    record = f.trade(price=price, size=size, trade_id=trade_id, side=side, ts_ms=ts,
                     recv_ms=recv, venue_symbol=venue_symbol, symbol=symbol, quote=quote)  # fmt: skip
    assert fast(record) == reference(record)


@given(bid=numbers, ask=numbers, last=st.one_of(st.none(), numbers), symbol=texts, ts=times)
def test_tickers_match(bid: float, ask: float, last: float | None, symbol: str, ts: int) -> None:
    head = f.header(venue_symbol=symbol, ts_ms=ts)
    record = Ticker(**head, bid=bid, bid_size=1.0, ask=ask, ask_size=2.5, last=last)
    assert fast(record) == reference(record)


@given(o=numbers, closed=st.booleans(), interval=texts, open_time=times, group=texts)
def test_klines_match(o: float, closed: bool, interval: str, open_time: int, group: str) -> None:
    record = Kline(**f.header(group=group), open_time_ms=open_time, interval=interval, open=o,
                   high=o, low=o, close=o, volume=0.5, closed=closed)  # fmt: skip
    assert fast(record) == reference(record)


def test_headers_are_cached_per_instrument() -> None:
    encoders = line_encoders()
    first = f.trade(venue_symbol='BTC"USDT')
    second = f.trade(venue_symbol="ETHUSDT", symbol="ETHUSDT", group="ETHUSDT")
    for record in (first, second, first):
        assert encoders["trade"](record) == reference(record)


def test_float_texts_are_cached_by_value_but_never_zero_or_nan(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """0.0 == -0.0 (one dict key) but their texts differ; NaN is never found again; a full
    cache starts over."""
    monkeypatch.setattr(raw_json, "FLOAT_CACHE_MAX", 3)
    encoders = line_encoders()
    values = [0.0, -0.0, 0.0, float("nan"), -0.0, 1.5, 2.5, 3.5, 4.5, 1.5, -1.5, 1e-05, 1e16,
              float("inf"), float("-inf"), 1.5, 4.5]  # fmt: skip
    for price in values:
        for size in (0.0, -0.0, price):
            record = f.trade(price=price, size=size)
            assert encoders["trade"](record) == reference(record)


def test_second_texts_are_cached_and_a_full_cache_starts_over(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Times of the same second and of others, seen again after the seconds' cache filled and
    cleared, give the reference text each time, in all three time fields of a kline."""
    monkeypatch.setattr(raw_json, "SECOND_CACHE_MAX", 2)
    encoders = line_encoders()
    times = [1_000, 1_633_998_523_963, 1_999, 999_999, 1_633_998_523_001, 1_000,
             1_633_998_523_000, 4_102_444_800_000]  # fmt: skip
    for ts, recv, open_time in zip(times, reversed(times), times[1:] + times[:1], strict=True):
        record = Kline(**f.header(ts_ms=ts, recv_ms=recv), open_time_ms=open_time,
                       interval="1m", open=1.5, high=2.0, low=1.0, close=1.5, volume=0.5,
                       closed=False)  # fmt: skip
        assert encoders["kline"](record) == reference(record)
    trade = f.trade(ts_ms=1_633_998_523_963, recv_ms=1_633_998_524_001)
    assert '"timestamp":"1633998523.963","received_at":"1633998524.001"' in encoders["trade"](trade)
