"""`LineBuilder` gives, for every builder of `_records`, the record's type and exactly the line
`orjson_line` gives the record those builders make: for worked values, for generated ones
(strings JSON must escape, any script, NaN, infinities, ints where floats belong, times below
1000 ms: those take the reference path), and for one header object or several equal ones.
A parser handed a LineBuilder counts and rejects what it counts and rejects with records."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from microservices.common.raw_json import orjson_line
from microservices.data_collector.exchanges import EXCHANGES
from microservices.data_collector.exchanges import _records as build
from microservices.data_collector.exchanges._lines import Line, LineBuilder

RECV_MS = 1_633_998_524_001
HEAD = {"exchange": "binance_futures", "market": "perp", "symbol": "BTCUSDT",
        "venue_symbol": "BTCUSDT", "group": "BTCUSDT", "quote": "USDT"}  # fmt: skip
FIELDS: dict[str, dict[str, Any]] = {
    "trade": dict(price=0.3528, size=58.0, side="buy", trade_id="10000000"),
    "ticker": dict(bid=33134.42, bid_size=0.17, ask=33139.39, ask_size=0.38),
    "kline": dict(open_time_ms=1_633_998_480_000, interval="1m", open=1.5, high=2.5, low=0.5,
                  close=1.25, volume=3.5, closed=False),
    "funding": dict(funding_rate=1e-4, funding_interval_h=8.0,
                    next_funding_time_ms=RECV_MS + 1, mark_price=2.5, index_price=3.5),
    "open_interest": dict(open_interest=1.5, open_interest_usd=2.5),
    "liquidation": dict(price=1.5, size=2.5, side="sell"),
}  # fmt: skip


def both(builder: LineBuilder, name: str, head: dict[str, Any], **fields: Any) -> tuple[Any, ...]:
    line = getattr(builder, name)(head, ts_ms=RECV_MS - 38, recv_ms=RECV_MS, **fields)
    record = getattr(build, name)(head, ts_ms=RECV_MS - 38, recv_ms=RECV_MS, **fields)
    return line, Line(record.type, orjson_line(record))


@pytest.mark.parametrize("name", list(FIELDS))
def test_every_builder_gives_the_records_line(name: str) -> None:
    line, want = both(LineBuilder(), name, HEAD, **FIELDS[name])
    assert line == want


def test_a_trade_line_worked_by_hand() -> None:
    line = LineBuilder().trade(HEAD, ts_ms=1_633_998_523_963, recv_ms=RECV_MS, price=0.3528,
                               size=58.0, side="buy", trade_id="10000000")  # fmt: skip
    assert line == Line("trade", (
        '{"type":"trade","exchange":"binance_futures","market":"perp","symbol":"BTCUSDT",'
        '"venue_symbol":"BTCUSDT","group":"BTCUSDT","quote":"USDT",'
        '"timestamp":"1633998523.963","received_at":"1633998524.001","price":"0.3528",'
        '"size":"58.0","side":"buy","trade_id":"10000000"}\n'))  # fmt: skip


def test_header_texts_follow_each_header_object() -> None:
    builder = LineBuilder()
    other = HEAD | {"symbol": "BTC-PERP", "quote": None}  # null quote: orjson's null
    for head in (HEAD, dict(HEAD), other, HEAD, other):
        line, want = both(builder, "trade", head, **FIELDS["trade"])
        assert line == want


texts = st.text(max_size=10)
numbers = st.one_of(st.floats(), st.integers(0, 10**6))
times = st.integers(0, 4_102_444_800_000)


@settings(max_examples=300, deadline=None)
@given(head=st.tuples(texts, texts), price=numbers, size=numbers, side=texts, trade_id=texts,
       ts=times, interval=texts, last=st.one_of(st.none(), numbers))  # fmt: skip
def test_generated_values_give_the_records_lines(
    head: tuple[str, str], price: Any, size: Any, side: str, trade_id: str, ts: int,
    interval: str, last: Any,
) -> None:  # fmt: skip
    builder = LineBuilder()
    header = HEAD | {"symbol": head[0], "group": head[1]}
    calls = [
        ("trade", dict(price=price, size=size, side=side, trade_id=trade_id)),
        ("ticker", dict(bid=price, bid_size=size, ask=price, ask_size=size, last=last)),
        ("kline", dict(open_time_ms=ts, interval=interval, open=price, high=price, low=size,
                       close=size, volume=size, closed=bool(ts % 2))),
    ]  # fmt: skip
    for name, fields in calls:
        line = getattr(builder, name)(header, ts_ms=ts, recv_ms=RECV_MS, **fields)
        record = getattr(build, name)(header, ts_ms=ts, recv_ms=RECV_MS, **fields)
        assert line == Line(record.type, orjson_line(record))


def test_a_parser_building_lines_counts_and_rejects_as_with_records() -> None:
    frames = [
        '{"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","E":1633998523963,"s":"BTCUSDT",'
        '"a":7,"p":"0.3528","q":"58","f":1,"l":1,"T":1633998523963,"m":false}}',
        '{"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","E":1633998523963,"s":"BTCUSDT",'
        '"a":7,"p":"0.3528","q":"58","f":1,"l":1,"T":1633998523963,"m":false}}',  # duplicate
        '{"stream":"btcusdt@bookTicker","data":{"e":"bookTicker","u":1,"s":"BTCUSDT",'
        '"b":"2","B":"1","a":"1","A":"1","T":1633998523963,"E":1633998523964}}',  # crossed
        "not json",
    ]
    outputs = []
    for lines in (False, True):
        exchange = EXCHANGES["binance_futures"](["BTCUSDT"], ws_url="", rest_url="")
        parser = exchange.new_parser()
        if lines:
            parser.build = LineBuilder()  # type: ignore[attr-defined]
        made = [r for frame in frames for r in parser.parse(frame, RECV_MS)]
        texts = [r.text if isinstance(r, Line) else orjson_line(r) for r in made]
        outputs.append((texts, parser.stats.emitted, parser.stats.rejected))
    assert outputs[0] == outputs[1]
    assert outputs[1][1:] == ({"trade": 1}, {"duplicate": 1, "malformed": 2})
