"""The typed parser skeleton (`exchanges/typed.py`) and every venue's parser on real, edited
and generated frames: nothing raises, every record is valid and counted, and a frame that
yields no record is rejected under at most one reason (exactly one for Binance's
one-payload frames). Value bounds per wire field are pinned in test_wire_values.py."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import msgspec
import orjson
import pytest

from microservices.common.errors import BadMessage
from microservices.common.records import (
    AnyRaw,
    Funding,
    Kline,
    Liquidation,
    OpenInterest,
    Ticker,
    Trade,
)
from microservices.data_collector.exchanges import EXCHANGES
from microservices.data_collector.exchanges import _records as build
from microservices.data_collector.exchanges.base import Dropped, Exchange
from microservices.data_collector.exchanges.typed import (
    Decode,
    Frame,
    Handler,
    Price,
    TypedParser,
    Wire,
    decoder,
)
from tests.fixture_paths import SHARED_FIXTURES, capture_frames, local_fixture
from tests.unit.exchanges.parser_checks import RECV_MS, check, dumps, make, typed_venues, with_raw

SYMBOLS = ("BTCUSDT", "ETHUSDT")
# shared capture folders per venue (../shared/fixtures/<folder>/ws/*.jsonl)
CAPTURES = {"binance": ["binance"], "binance_futures": ["binance-futures", "binance"],
            "bybit": ["bybit"], "bybit_spot": ["bybit"], "coinbase": ["coinbase"],
            "gateio": ["gateio"], "gateio_futures": ["gateio"], "okx": ["okx"], "okx_spot": ["okx"],
            "kucoin": ["kucoin"], "kucoin_futures": ["kucoin"], "deribit": ["deribit"],
            "bitget": ["bitget"], "bitget_spot": ["bitget"]}  # fmt: skip
ONE_PAYLOAD = frozenset({"binance", "binance_futures"})  # one record or one rejection
EDGE_VALUES = ["1e400", "-1e400", "-0", "0", "1E2", "123456789012345678901234567890",
               "18446744073709551616", "9223372036854775808", "1" + "0" * 320, '"nan"',
               '"inf"', '"-0"', '"0"', '""', '"1_000"', '" 1.5"', '"+1.5"', '"1e400"',
               '"1700000000000"', "1700000000000", "1700000000000.5", "true", "false",
               "null", "[]", "{}", '[1]', '{"a":1}', '"\\ud800"', '"x"', "[" * 40 + "]" * 40,
               '"Buy"', '"SELL"', '"snapshot"', '"delta"', '"BTCUSDT"', '"1m"']  # fmt: skip


# ------------------------------------------------------------------------------ skeleton


class Ping(Wire, tag_field="op", tag="ping"):
    s: str


class Tick(Wire, tag_field="op", tag="tick"):
    s: str
    p: Price


class Fake(TypedParser):
    """A venue of two messages: `tick` gives a Trade, `ping` raises Dropped("ignored")."""

    def decoder(self) -> Decode:
        return decoder(Ping | Tick)

    def handlers(self) -> Mapping[type[msgspec.Struct], Handler]:
        return {Ping: self._ping, Tick: self._tick}

    def classify(self, frame: Frame) -> str:
        op = orjson.loads(frame).get("op")
        return "malformed" if op in ("ping", "tick") else "unknown_event"

    def _ping(self, msg: Ping, recv_ms: int) -> list[AnyRaw]:
        raise Dropped("ignored")

    def _tick(self, msg: Tick, recv_ms: int) -> list[AnyRaw]:
        head = self._heads.get(msg.s) or self._head(msg.s)
        if msg.p > 1e9:
            raise BadMessage("too dear")
        return [build.trade(head, ts_ms=RECV_MS, recv_ms=recv_ms, price=msg.p, size=1.0,
                            side="buy", trade_id=str(msg.p))]  # fmt: skip


def fake() -> Fake:
    exchange: Exchange = EXCHANGES["binance"](SYMBOLS, "wss://x.invalid", "https://x.invalid")
    return Fake(exchange)


@pytest.mark.parametrize(
    ("frame", "reason", "alive"),
    [
        (b'{"op":"ping","s":"BTCUSDT"}', "ignored", False),  # Dropped by the handler
        (b'{"op":"new","s":"BTCUSDT"}', "unknown_event", False),  # refused: classify()
        ('{"op":"tick","s":"BTCUSDT","p":"0"}', "malformed", False),  # a bound of the model
        ('{"op":"tick","s":"BTCUSDT","p":"2e9"}', "malformed", False),  # BadMessage
        ('{"op":"tick","s":"FOOBAR","p":"1"}', "unknown_symbol", True),  # the symbol seam
        ('{"a":' * 5000 + "1" + "}" * 5000, "malformed", False),  # RecursionError
        ("\ud800", "malformed", False),  # UnicodeEncodeError
    ],
)
def test_skeleton_counts_each_rejection_once(frame: Frame, reason: str, alive: bool) -> None:
    parser = fake()
    assert parser.parse_with_liveness(frame, RECV_MS) == ([], alive)
    assert parser.stats.rejected == {reason: 1}
    assert parser.stats.emitted == {}
    assert reason in parser.stats.samples


def test_skeleton_emits_and_counts_by_type() -> None:
    parser = fake()
    records = [r for f in ('{"op":"tick","s":"BTCUSDT","p":"1.5"}', b'{"s":"ETHUSDT","op":"tick","p":2}')
               for r in parser.parse(f, RECV_MS)]  # fmt: skip
    assert [(r.symbol, r.price) for r in records if isinstance(r, Trade)] == [
        ("BTCUSDT", 1.5), ("ETHUSDT", 2.0)
    ]  # fmt: skip
    assert (parser.stats.emitted, parser.stats.rejected) == ({"trade": 2}, {})


BUILDS: list[tuple[type[AnyRaw], Any, dict[str, Any]]] = [
    (Trade, build.trade, dict(price=1.5, size=0.25, side="buy", trade_id="7")),
    (Ticker, build.ticker, dict(bid=1.5, bid_size=2.5, ask=3.5, ask_size=4.5, last=5.5)),
    (Kline, build.kline, dict(open_time_ms=RECV_MS - 1, interval="1m", open=1.5, high=2.5,
                              low=0.5, close=1.25, volume=3.5, closed=True)),
    (Funding, build.funding, dict(funding_rate=1e-4, funding_interval_h=4.0,
                                  next_funding_time_ms=RECV_MS + 1, mark_price=2.5,
                                  index_price=3.5)),
    (OpenInterest, build.open_interest, dict(open_interest=1.5, open_interest_usd=2.5)),
    (Liquidation, build.liquidation, dict(price=1.5, size=2.5, side="sell")),
]  # fmt: skip


@pytest.mark.parametrize(("kind", "builder", "fields"), BUILDS, ids=lambda v: str(v)[:20])
def test_record_builders_equal_the_keyword_constructors(
    kind: type[AnyRaw], builder: Any, fields: dict[str, Any]
) -> None:
    """The builders pass fields positionally (fast); each value must land in its field."""
    head = {name: f"{name}-value" for name in ("exchange", "symbol", "venue_symbol", "group",
                                               "quote")} | {"market": "perp"}  # fmt: skip
    built = builder(head, ts_ms=RECV_MS - 2, recv_ms=RECV_MS, **fields)
    assert built == kind(**head, ts_ms=RECV_MS - 2, recv_ms=RECV_MS, **fields)
    assert set(kind.__struct_fields__) == {*head, "ts_ms", "recv_ms", *fields}


def test_every_venue_parses_on_the_typed_skeleton() -> None:
    """One parser per wire format: every registered venue's parser is a TypedParser (so the
    venue-parametrised tests here and in test_generated_frames / test_wire_values see all)."""
    assert typed_venues() == sorted(EXCHANGES)


# ---------------------------------------------------------------------- real frames


def real_frames(venue: str) -> list[str]:
    paths = sorted(local_fixture(f"exchanges/{venue}").glob("ws_*.jsonl"))
    for folder in CAPTURES[venue]:
        paths += sorted(SHARED_FIXTURES.glob(f"{folder}/ws/*.jsonl"))
    return [frame for path in paths for frame in capture_frames(Path(path))]


def renamed(frame: str) -> str | None:
    """A frame with its instrument renamed to a followed one (most captures are of others)."""
    try:
        msg = orjson.loads(frame)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(msg, dict):
        return None
    data = msg.get("data", msg)
    result = msg.get("result")  # Gate.io: one object, or a list of them
    for item in result if isinstance(result, list) else [result]:
        for key in ("currency_pair", "contract", "s"):
            if isinstance(item, dict) and isinstance(item.get(key), str):
                item[key] = "BTC_USDT"
                data = None
    if data is None:
        pass
    elif isinstance(data, dict) and isinstance(data.get("s"), str):
        data["s"] = "BTCUSDT"
    elif isinstance(msg.get("topic"), str):
        msg["topic"] = msg["topic"].rsplit(".", 1)[0] + ".BTCUSDT"
    elif isinstance(msg.get("product_id"), str):
        msg["product_id"] = "BTC-USD"
    elif isinstance(msg.get("params"), dict) and isinstance(msg["params"].get("channel"), str):
        _rename_deribit(msg["params"])
    elif not _rename_okx(msg) and not _rename_bitget(msg):
        return None
    return dumps(msg)


def _rename_bitget(msg: dict[str, Any]) -> bool:
    """Bitget v2 `arg.instId` (BASEQUOTE, with `arg.instType`) to BTCUSDT; False otherwise."""
    arg = msg.get("arg")
    if not isinstance(arg, dict) or "instType" not in arg or not isinstance(arg.get("instId"), str):
        return False
    arg["instId"] = "BTCUSDT"
    for item in msg.get("data") or ():
        if isinstance(item, dict) and "instId" in item:
            item["instId"] = "BTCUSDT"
    return True


def _rename_okx(msg: dict[str, Any]) -> bool:
    """OKX `arg.instId` and the data items' `instId` (BASE-QUOTE[-SWAP]) to BTC-USDT[-SWAP];
    False when the frame has no dashed instId there."""
    arg = msg.get("arg")
    inst = arg.get("instId") if isinstance(arg, dict) else None
    if not isinstance(inst, str) or "-" not in inst:
        return False
    name = "-".join(["BTC", "USDT", *inst.split("-")[2:]])
    arg["instId"] = name  # type: ignore[index]
    for item in msg.get("data") or ():
        if isinstance(item, dict) and "instId" in item:
            item["instId"] = name
    return True


def _rename_deribit(params: dict[str, Any]) -> None:
    """Deribit: the instrument is the channel's second-to-last part and the data's."""
    channel = params["channel"].split(".")
    if len(channel) >= 3:
        channel[-2] = "BTC_USDC-PERPETUAL"
        params["channel"] = ".".join(channel)
    data = params.get("data")
    for item in data if isinstance(data, list) else [data]:
        if isinstance(item, dict) and "instrument_name" in item:
            item["instrument_name"] = "BTC_USDC-PERPETUAL"


@pytest.mark.parametrize("venue", typed_venues())
def test_real_frames_twice(venue: str) -> None:
    """Every capture frame, as recorded and renamed to a followed symbol, twice (the second
    pass meets every trade id again)."""
    frames = real_frames(venue)
    assert frames, venue
    frames += [f for f in map(renamed, frames) if f is not None]
    parser = make(venue)
    emitted = [r for _ in range(2) for f in frames for r in check(parser, f, venue in ONE_PAYLOAD)]
    assert emitted, venue


def leaf_paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Paths of every value in a frame (for lists, of their first item)."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*prefix, key)
            yield from leaf_paths(item, (*prefix, key))
    elif isinstance(value, list) and value:
        yield (*prefix, 0)
        yield from leaf_paths(value[0], (*prefix, 0))


@pytest.mark.parametrize("venue", typed_venues())
def test_edge_values_in_every_field(venue: str) -> None:
    """Each value of the repo's frames of `venue`, removed or set to each edge value in
    turn, after the frames before it (so deltas meet their snapshot)."""
    for path in sorted(local_fixture(f"exchanges/{venue}").glob("ws_*.jsonl")):
        frames = list(capture_frames(path))
        parser = make(venue)
        for template in frames:
            check(parser, template, venue in ONE_PAYLOAD)
            for leaf in leaf_paths(orjson.loads(template)):
                for raw in (None, *EDGE_VALUES):
                    check(parser, with_raw(template, leaf, raw), venue in ONE_PAYLOAD)


@pytest.mark.parametrize("venue", typed_venues())
def test_unknown_fields_are_skipped(venue: str) -> None:
    """A field the venue adds, whatever its value, changes nothing (the wire model declares
    only what the parser reads)."""
    for path in sorted(local_fixture(f"exchanges/{venue}").glob("ws_*.jsonl")):
        for template in capture_frames(path):
            msg = orjson.loads(template)
            plain = make(venue).parse(template, RECV_MS)
            for raw in ("1e400", "1" + "0" * 400, '"\\ud800\\udc00"', "[" * 30 + "]" * 30):
                for edited in ({"zz": "__MARK__", **msg}, {**msg, "zz": "__MARK__"}):
                    text = dumps(edited).replace('"__MARK__"', raw, 1)
                    assert make(venue).parse(text, RECV_MS) == plain, text
