"""What each venue may send in each kind of wire field, pinned on one real frame per venue:
every value is written as raw JSON text into the frame and the parsed record (or the
rejection, "malformed") is checked. Prices are finite and > 0, sizes finite and >= 0, rates
|x| < 1, times epoch ms within 2009..2100; numbers may come as JSON numbers or as numeric
strings in JSON number syntax, never as booleans or null; flags are JSON booleans and
Binance ids JSON integers below 2**64, exactly."""

from __future__ import annotations

from typing import Any

import pytest

from microservices.common.records import AnyRaw, Funding, Kline, Ticker, Trade
from microservices.data_collector.exchanges import EXCHANGES
from tests.fixture_paths import capture_frames, local_fixture
from tests.unit.exchanges.parser_checks import RECV_MS, check, typed_venues, with_raw

REJECT = "malformed"
NOT_NUMBERS = ['"nan"', '"NaN"', '"inf"', '"Infinity"', '"-inf"', '"1e400"', "1e400", "-1e400",
               "true", "false", "null", '""', '" 1.5"', '"1.5 "', '"1_0"', '"+1.5"', '".5"',
               '"5."', '"00.5"', '"0x10"', '"1,5"', '"١٢"', "[1]", "{}", '"x"']  # fmt: skip
PRICE: list[tuple[str, Any]] = [
    ('"36512.3"', 36512.3), ("36512.3", 36512.3), ('"1E2"', 100.0), ('"5e-324"', 5e-324),
    ("123456789012345678901234567890", 1.2345678901234568e29),
    ('"1.7976931348623157e308"', 1.7976931348623157e308),
    ('"0"', REJECT), ("0", REJECT), ('"-0"', REJECT), ("-0.0", REJECT), ('"-1"', REJECT),
    *[(raw, REJECT) for raw in NOT_NUMBERS],
]  # fmt: skip
SIZE: list[tuple[str, Any]] = [
    ('"0.015"', 0.015), ("2", 2.0), ('"0"', 0.0), ("0", 0.0), ('"-0"', 0.0), ("1e308", 1e308),
    ('"-1"', REJECT), ('"-1e-9"', REJECT), *[(raw, REJECT) for raw in NOT_NUMBERS],
]  # fmt: skip
ABSENT = "absent"  # no such record and no rejection: the field does not apply
RATE: list[tuple[str, Any]] = [
    ('"0.0001"', 0.0001), ('"-0.99"', -0.99), ("0", 0.0), ("-0.5", -0.5),
    ('"1"', REJECT), ('"-1"', REJECT), ('"1.5"', REJECT),
    *[(raw, REJECT) for raw in NOT_NUMBERS if raw not in ('""', "null")],
]  # fmt: skip
BINANCE_RATE = [*RATE, ("null", REJECT)]  # "" (delivery contracts): "ignored", below
BYBIT_RATE = [*RATE, ('""', ABSENT), ("null", ABSENT)]  # tickers: "" or null keeps the value
MIN_MS, MAX_MS = 1_230_768_000_000, 4_102_444_800_000
EPOCH: list[tuple[str, Any]] = [
    ("1700000000123", 1700000000123), ('"1700000000123"', 1700000000123),
    ("1700000000123.0", 1700000000123), (str(MIN_MS), MIN_MS), (str(MAX_MS), MAX_MS),
    (str(MIN_MS - 1), REJECT), (str(MAX_MS + 1), REJECT), ("1700000000", REJECT),
    ("1700000000123.5", REJECT), ("18446744073709551616", REJECT), ("-1700000000123", REJECT),
    *[(raw, REJECT) for raw in NOT_NUMBERS],
]  # fmt: skip
FLAG: list[tuple[str, Any]] = [
    ("true", "sell"), ("false", "buy"),  # Binance `m`: the buyer was the maker
    ('"true"', REJECT), ('"false"', REJECT), ("1", REJECT), ("0", REJECT), ("null", REJECT),
]  # fmt: skip
U64_ID: list[tuple[str, Any]] = [
    ("0", "0"), ("2801123456", "2801123456"), (str(2**64 - 1), str(2**64 - 1)),
    (str(2**64), REJECT), ("-1", REJECT), ('"5"', REJECT), ("5.0", REJECT), ("true", REJECT),
    ("null", REJECT), ("1" + "0" * 400, REJECT),
]  # fmt: skip
TEXT_ID: list[tuple[str, Any]] = [
    ('"6d1b6a2e-0c71"', "6d1b6a2e-0c71"), ('"5"', "5"), ("570000501", "570000501"),
    ('""', REJECT), ("null", REJECT), ("true", REJECT), ("1.5", REJECT), ("[]", REJECT),
]  # fmt: skip


def first_frame(venue: str, name: str) -> str:
    return next(capture_frames(local_fixture(f"exchanges/{venue}/{name}")))


# (venue, fixture file, path of the field in the frame, cases, record type and attribute)
FIELDS: list[tuple[str, str, tuple[Any, ...], list[tuple[str, Any]], type[AnyRaw], str]] = [
    ("binance_futures", "ws_aggTrade.jsonl", ("data", "p"), PRICE, Trade, "price"),
    ("binance_futures", "ws_aggTrade.jsonl", ("data", "q"), SIZE, Trade, "size"),
    ("binance_futures", "ws_aggTrade.jsonl", ("data", "T"), EPOCH, Trade, "ts_ms"),
    ("binance_futures", "ws_aggTrade.jsonl", ("data", "m"), FLAG, Trade, "side"),
    ("binance_futures", "ws_aggTrade.jsonl", ("data", "a"), U64_ID, Trade, "trade_id"),
    ("binance_futures", "ws_markPrice.jsonl", ("data", "r"), BINANCE_RATE, Funding, "funding_rate"),
    ("binance", "ws_kline.jsonl", ("data", "k", "v"), SIZE, Kline, "volume"),
    ("bybit", "ws_publicTrade.jsonl", ("data", 0, "p"), PRICE, Trade, "price"),
    ("bybit", "ws_publicTrade.jsonl", ("data", 0, "v"), SIZE, Trade, "size"),
    ("bybit", "ws_publicTrade.jsonl", ("data", 0, "T"), EPOCH, Trade, "ts_ms"),
    ("bybit", "ws_publicTrade.jsonl", ("data", 0, "i"), TEXT_ID, Trade, "trade_id"),
    ("bybit", "ws_tickers.jsonl", ("data", "fundingRate"), BYBIT_RATE, Funding, "funding_rate"),
    ("bybit", "ws_tickers.jsonl", ("ts",), EPOCH, Ticker, "ts_ms"),
    ("coinbase", "ws_matches.jsonl", ("price",), PRICE, Trade, "price"),
    ("coinbase", "ws_matches.jsonl", ("size",), SIZE, Trade, "size"),
    ("coinbase", "ws_matches.jsonl", ("trade_id",), TEXT_ID, Trade, "trade_id"),
]
CASES = [
    pytest.param(venue, name, path, raw, want, kind, attr, id=f"{venue}-{path[-1]}-{raw[:24]}")
    for venue, name, path, cases, kind, attr in FIELDS
    if venue in typed_venues()
    for raw, want in cases
]


@pytest.mark.parametrize(("venue", "name", "path", "raw", "want", "kind", "attr"), CASES)
def test_field_value(
    venue: str,
    name: str,
    path: tuple[Any, ...],
    raw: str,
    want: Any,
    kind: type[AnyRaw],
    attr: str,
) -> None:
    parser = EXCHANGES[venue](("BTCUSDT", "ETHUSDT"), "wss://x", "https://x").new_parser()
    frame = with_raw(first_frame(venue, name), path, raw)
    records = check(parser, frame)
    if want == REJECT:
        assert (records, parser.stats.rejected) == ([], {REJECT: 1}), frame
        return
    got = [getattr(r, attr) for r in records if isinstance(r, kind)][:1]
    if want == ABSENT:
        assert (got, parser.stats.rejected) == ([], {}), frame
        return
    assert got == [want] and type(got[0]) is type(want), (frame, parser.stats.rejected)


def test_binance_delivery_contract_rate_is_ignored() -> None:
    parser = EXCHANGES["binance_futures"](("BTCUSDT",), "wss://x", "https://x").new_parser()
    frame = with_raw(first_frame("binance_futures", "ws_markPrice.jsonl"), ("data", "r"), '""')
    assert parser.parse(frame, RECV_MS) == []
    assert parser.stats.rejected == {"ignored": 1}
