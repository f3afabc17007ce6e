"""Differential tests of the Bybit `publicTrade` fast path (`exchanges/bybit/fast.py`) against the
reference parser; the harness and value strategies are test_fast_path_equivalence's."""

from __future__ import annotations

from pathlib import Path

import orjson
from hypothesis import given
from hypothesis import strategies as st

from microservices.data_collector.exchanges.bybit.exchange import Bybit, BybitSpot
from tests.fixture_paths import SHARED_FIXTURES, capture_frames, local_fixture
from tests.unit.exchanges.test_fast_path_equivalence import (
    ANY,
    DIFF,
    EDGE_VALUES,
    EPOCH,
    FLAG,
    PRICE,
    RECV_MS,
    SIZE,
    SYMBOL_RAW,
    SYMBOLS,
    TRADE_ID,
    Frame,
    Pair,
    dumps,
    edited,
    field,
    fields,
    frame_sequence,
    obj,
    payload,
    pytestmark,  # noqa: F401  (the same warning filter)
    with_value,
)

TRADE_ITEM = payload(None, T=EPOCH, s=SYMBOL_RAW, S=field(st.sampled_from(['"Buy"', '"Sell"'])),
                     v=SIZE, p=PRICE, L=field(st.just('"PlusTick"')),
                     i=field(st.uuids().map(lambda u: dumps(str(u))), TRADE_ID),
                     BT=FLAG, seq=ANY)  # fmt: skip
BYBIT_TOPIC = st.sampled_from(["publicTrade.BTCUSDT", "publicTrade.ETHUSDT", "publicTrade.FOO",
                               "publicTrade", "tickers.BTCUSDT"]).map(dumps)  # fmt: skip
BYBIT_FRAME = st.builds(
    lambda head, items: obj([*head, ("data", "[" + ",".join(items) + "]")]),
    fields(topic=field(BYBIT_TOPIC), type=field(st.just('"snapshot"')), ts=EPOCH),
    st.lists(edited(TRADE_ITEM), max_size=4),
)


def bybit_real_trades() -> list[str]:
    paths = sorted(local_fixture("exchanges/bybit").glob("ws_*.jsonl"))
    paths += sorted(local_fixture("exchanges/bybit_spot").glob("ws_*.jsonl"))
    paths += sorted(SHARED_FIXTURES.glob("bybit/ws/*.jsonl"))
    out = []
    for path in paths:
        for frame in capture_frames(Path(path)):
            if '"publicTrade.' in frame:
                msg = orjson.loads(frame)
                msg["topic"] = "publicTrade.BTCUSDT"
                out.append(dumps(msg))
    return out


BYBIT_REAL = bybit_real_trades()


def with_unique_ids(frame: str, n: int) -> str:
    msg = orjson.loads(frame)
    for j, item in enumerate(msg["data"]):
        item["i"] = f"{n}-{j}"
    return dumps(msg)


@DIFF
@given(frame_sequence(BYBIT_FRAME))
def test_bybit_generated_trade_frames(frames: list[Frame]) -> None:
    for venue in (Bybit, BybitSpot):
        Pair(venue).run(frames)


def test_bybit_real_and_edge_trade_frames() -> None:
    """Real publicTrade frames, then each field of each item set to each edge value."""
    assert BYBIT_REAL, "no Bybit publicTrade frames found"
    for venue in (Bybit, BybitSpot):
        pair = Pair(venue)
        pair.run(BYBIT_REAL + BYBIT_REAL)  # the second time: duplicates
        n = 0
        for template in BYBIT_REAL:
            msg = orjson.loads(template)
            for key in ["topic", "ts", "type"]:
                for raw in [None, *EDGE_VALUES]:
                    n += 1
                    pair.check(with_value(with_unique_ids(template, n), key, raw, "top"))
            for key in sorted(msg["data"][0]):
                for raw in [None, *EDGE_VALUES]:
                    n += 1
                    edited_msg = orjson.loads(with_unique_ids(template, n))
                    edited_msg["data"][0][key] = "__MARK__"
                    if raw is None:
                        del edited_msg["data"][0][key]
                    text = dumps(edited_msg).replace('"__MARK__"', raw or "", 1)
                    pair.check(text)


def test_bybit_fast_path_takes_real_trade_frames() -> None:
    parser = Bybit(SYMBOLS, "wss://x", "https://x").new_parser()
    parser.parse(BYBIT_REAL[0], RECV_MS)  # caches the symbol
    fast = parser._fast_trades  # type: ignore[attr-defined]
    hits = sum(fast(with_unique_ids(f, i), RECV_MS) is not None for i, f in enumerate(BYBIT_REAL))
    assert hits >= len(BYBIT_REAL) // 2
