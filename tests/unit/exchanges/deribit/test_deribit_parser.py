"""Deribit WebSocket parser: exact values from the real frames in ../shared/fixtures/deribit
(tardis-node samples: inverse BTC-PERPETUAL trades, tickers with funding, liquidations; the
2021 cryptofeed capture of option tickers), the repo's own frames written from the documented
formats (tests/fixtures/exchanges/deribit: a linear USDC perpetual), every reject reason, the
test_request answer, and `normalize --venue deribit` on the real captures."""

from __future__ import annotations

import io
from collections.abc import Iterable

import orjson
import pytest

from microservices.common.records import (
    AnyRaw,
    Funding,
    Kline,
    Liquidation,
    OpenInterest,
    Ticker,
    Trade,
)
from microservices.common.schemas import RAW
from microservices.data_collector import normalize
from microservices.data_collector.exchanges.deribit.exchange import Deribit
from microservices.data_collector.exchanges.deribit.parser import DeribitParser
from tests.fixture_paths import capture_frames, local_fixture, shared_fixture, tardis_frames
from tests.unit.exchanges.deribit.helpers import LinearFirst

RECV_MS = 1_700_000_060_000
TARDIS = "deribit/ws/tardis-node_mappers-test_samples.jsonl"
CAPTURE = "deribit/ws/options_book_trades_ticker_raw.cryptofeed-2021.jsonl"


def parser(symbols: Iterable[str] = ("BTCUSDT", "ETHUSDT")) -> DeribitParser:
    exchange = LinearFirst(tuple(symbols), "wss://x.invalid", "https://x.invalid")
    made = exchange.new_parser()
    assert isinstance(made, DeribitParser)
    return made


def any_parser() -> DeribitParser:
    """Every instrument the naming rule names, as `normalize` follows them."""
    exchange = Deribit((), "wss://x.invalid", "https://x.invalid")
    exchange.follow_any()
    made = exchange.new_parser()
    assert isinstance(made, DeribitParser)
    return made


def local(name: str) -> list[str]:
    return list(capture_frames(local_fixture(f"exchanges/deribit/{name}")))


def tardis(src_contains: str = "") -> list[str]:
    return [frame for frame, _ in tardis_frames(shared_fixture(TARDIS), src_contains)]


def parse_all(p: DeribitParser, frames: Iterable[str]) -> list[AnyRaw]:
    out: list[AnyRaw] = []
    for frame in frames:
        records = p.parse(frame, RECV_MS)
        for record in records:
            assert RAW.decode(RAW.encode(record)) == record
        out.extend(records)
    return out


# ------------------------------------------------------------------ real frames (tardis)
def test_inverse_perpetual_trades_in_base_units() -> None:
    """BTC-PERPETUAL amounts are USD: 2000 USD at 9598.5 is 0.20836... BTC; `direction` is
    the taker side."""
    records = parse_all(any_parser(), tardis()[:1])
    assert [type(r) for r in records] == [Trade, Trade]
    first, second = records
    assert isinstance(first, Trade) and isinstance(second, Trade)
    assert (first.symbol, first.venue_symbol, first.group, first.quote) == (
        "BTCUSD.INV", "BTC-PERPETUAL", "BTCUSDT", "USD")  # fmt: skip
    assert (first.ts_ms, first.price, first.side, first.trade_id) == (
        1567296022565, 9598.5, "sell", "39355898")  # fmt: skip
    assert first.size == pytest.approx(2000 / 9598.5)
    assert second.size == pytest.approx(50 / 9598.5) and second.trade_id == "39355899"


def test_inverse_perpetual_ticker_funding_and_open_interest() -> None:
    """The 2019 BTC-PERPETUAL ticker: quote sizes in BTC, funding_8h with mark and index,
    open interest 66,128,281 USD = 6,612,828.1 contracts of 10 USD."""
    frame = next(f for f in tardis() if '"ticker.BTC-PERPETUAL.raw"' in f)
    ticker, funding, oi = parse_all(any_parser(), [frame])
    assert isinstance(ticker, Ticker)
    assert (ticker.ts_ms, ticker.bid, ticker.ask, ticker.last) == (
        1564617604229, 10095.0, 10095.5, 10095.5)  # fmt: skip
    assert ticker.bid_size == pytest.approx(7000 / 10095.0)
    assert ticker.ask_size == pytest.approx(250 / 10095.5)
    assert isinstance(funding, Funding)
    assert (funding.funding_rate, funding.funding_interval_h) == (0.00016281, 8.0)
    assert (funding.mark_price, funding.index_price) == (10094.1, 10091.15)
    assert isinstance(oi, OpenInterest)
    assert oi.open_interest == pytest.approx(6_612_828.1)
    assert oi.open_interest_usd == 66_128_281.0


def test_liquidations_from_the_trades_liquidation_flag() -> None:
    """ "T": the taker was liquidated (its sell was forced: a long); "M": the maker, opposite
    the taker's buy (a forced sell)."""
    frames = [f for f in tardis() if '"liquidation"' in f]
    records = parse_all(any_parser(), frames)
    liquidations = [r for r in records if isinstance(r, Liquidation)]
    assert [(r.ts_ms, r.price, r.side) for r in liquidations] == [
        (1584058044032, 4469.5, "sell"),
        (1584058067675, 4458.5, "sell"),
    ]
    assert liquidations[0].size == pytest.approx(1120 / 4469.5)
    assert liquidations[1].size == pytest.approx(2500 / 4458.5)
    assert sum(isinstance(r, Trade) for r in records) == 2


def test_every_tardis_frame_is_parsed_or_counted() -> None:
    """Book frames go to the book rules (ignored here), combos are unknown instruments, the
    combo quoted at negative prices is refused by the model."""
    p = any_parser()
    records = parse_all(p, tardis())
    assert p.stats.emitted == {"trade": 4, "ticker": 3, "funding": 2, "open_interest": 7,
                               "liquidation": 2}  # fmt: skip
    assert p.stats.rejected == {"ignored": 5, "unknown_symbol": 2, "malformed": 1}
    assert len(records) == 18


# ------------------------------------------------------------------ real capture (options)
def test_option_tickers_of_the_2021_capture() -> None:
    """The `.raw` capture (same shapes as 100 ms): option quotes are premiums in the base coin,
    amounts in contracts of one coin; option open interest has no USD value here."""
    frames = list(capture_frames(shared_fixture(CAPTURE)))
    p = any_parser()
    records = parse_all(p, frames[:2])
    ticker, oi = records
    assert isinstance(ticker, Ticker) and isinstance(oi, OpenInterest)
    assert ticker.symbol == "ETHUSD.INV-20210730-2800-C"
    assert (ticker.ts_ms, ticker.bid, ticker.bid_size, ticker.ask, ticker.ask_size) == (
        1626993723632, 0.0015, 4714.0, 0.0025, 873.0)  # fmt: skip
    assert (oi.open_interest, oi.open_interest_usd) == (12685.0, None)
    p = any_parser()
    parse_all(p, frames)
    assert p.stats.emitted == {"ticker": 76, "open_interest": 10}
    assert p.stats.rejected == {"ignored": 47, "empty_book": 11}  # 46 book frames + the ack


# ------------------------------------------------------------------ the repo's frames
def test_linear_ticker_throttles_funding_and_open_interest() -> None:
    """BTC_USDC-PERPETUAL (base-coin amounts): funding and open interest when they change, at
    most once a second; a crossed quote or an empty side yields no Ticker."""
    p = parser()
    first, second, third, crossed, empty = local("ws_ticker.jsonl")
    t1, f1, oi1 = p.parse(first, RECV_MS)
    assert isinstance(t1, Ticker) and isinstance(f1, Funding) and isinstance(oi1, OpenInterest)
    assert (t1.symbol, t1.group, t1.quote) == ("BTCUSDC", "BTCUSDT", "USDC")
    assert (t1.bid, t1.bid_size, t1.ask, t1.ask_size, t1.last) == (
        37000.0, 0.5, 37001.0, 1.2, 37000.5)  # fmt: skip
    assert (f1.funding_rate, f1.mark_price, f1.index_price) == (0.0001, 37000.8, 36990.1)
    assert oi1.open_interest == 1234.5  # naming rule: contracts of 1 BTC
    assert oi1.open_interest_usd == pytest.approx(45_677_487.6)  # 1234.5 x mark 37000.8
    assert [type(r) for r in p.parse(second, RECV_MS)] == [Ticker]  # nothing else moved
    assert [type(r) for r in p.parse(third, RECV_MS)] == [Ticker, Funding, OpenInterest]
    assert p.parse(crossed, RECV_MS) == [] and p.parse(empty, RECV_MS) == []
    assert p.stats.rejected == {"crossed_quote": 1, "empty_book": 1}


def test_linear_trades_duplicates_and_a_double_liquidation() -> None:
    p = parser()
    first, repeat, liquidated = local("ws_trades.jsonl")
    trades = p.parse(first, RECV_MS)
    assert [(t.trade_id, t.price, t.size, t.side) for t in trades if isinstance(t, Trade)] == [
        ("310001", 37000.5, 0.01, "buy"), ("310002", 37000.0, 0.25, "sell")]  # fmt: skip
    assert p.parse(repeat, RECV_MS) == []
    records = p.parse(liquidated, RECV_MS)
    # "MT": both sides liquidated: the taker's forced sell and the maker's forced buy
    assert [(type(r).__name__, r.side) for r in records if isinstance(r, Trade | Liquidation)] == [
        ("Trade", "sell"), ("Liquidation", "sell"), ("Liquidation", "buy")]  # fmt: skip
    assert p.stats.rejected == {"duplicate": 1}


def test_chart_trades_is_the_1m_kline() -> None:
    p = parser()
    (kline,) = p.parse(local("ws_chart.jsonl")[0], RECV_MS)
    assert isinstance(kline, Kline)
    assert (kline.open_time_ms, kline.open, kline.high, kline.low, kline.close, kline.volume) == (
        1700000040000, 37000.0, 37010.5, 36990.0, 37005.0, 3.25)  # fmt: skip
    assert kline.closed is False  # its minute ends at 1700000100000, after RECV_MS
    (closed,) = p.parse(local("ws_chart.jsonl")[0], 1_700_000_100_000)
    assert isinstance(closed, Kline) and closed.closed


def test_control_frames_and_the_test_request_answer() -> None:
    p = parser()
    for frame in local("ws_control.jsonl"):
        assert p.parse(frame, RECV_MS) == []
    assert p.stats.rejected == {"ignored": 5, "heartbeat": 2, "subscribe_failed": 1,
                                "unknown_topic": 1}  # fmt: skip
    assert [orjson.loads(f) for f in p.outbox] == [
        {"jsonrpc": "2.0", "id": 2, "method": "public/test", "params": {}}
    ]
    assert p.stats.control == 9  # heartbeats say nothing about the market feed


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        ("not json", "malformed"),
        ('{"jsonrpc":"2.0","method":"subscription","params":{"channel":"ticker.BTC_USDC-PERPETUAL.100ms","data":{"timestamp":1}}}', "malformed"),
        ('{"jsonrpc":"2.0","method":"subscription","params":{"channel":"trades.XYZ_USDC-PERPETUAL.100ms","data":[{"trade_id":"1","timestamp":1700000000000,"price":1.0,"amount":1.0,"direction":"buy","instrument_name":"XYZ_USDC-PERPETUAL"}]}}', "not_followed"),
        ('{"jsonrpc":"2.0","method":"subscription","params":{"channel":"trades.BTC-FS-30SEP22_PERP.100ms","data":[{"trade_id":"1","timestamp":1700000000000,"price":1.0,"amount":1.0,"direction":"buy","instrument_name":"BTC-FS-30SEP22_PERP"}]}}', "unknown_symbol"),
        ('{"jsonrpc":"2.0","method":"subscription","params":{"channel":"trades.BTC_USDC-PERPETUAL.100ms","data":[{"trade_id":"1","timestamp":1700000000000,"price":1.0,"amount":1.0,"direction":"buy","instrument_name":"BTC_USDC-PERPETUAL","liquidation":"X"}]}}', "malformed"),
        ('{"jsonrpc":"2.0","method":"subscription","params":{"channel":"chart.trades.BTC_USDC-PERPETUAL.1","data":{"tick":1700000040000,"open":5.0,"high":4.0,"low":3.0,"close":4.0,"volume":1.0}}}', "malformed"),
        ('{"jsonrpc":"2.0","id":7}', "unknown_event"),
        ('{"jsonrpc":"2.0","id":2,"error":{"code":10028,"message":"too_many_requests"}}', "venue_error"),
    ],
)  # fmt: skip
def test_reject_reasons(frame: str, reason: str) -> None:
    p = parser()
    assert p.parse(frame, RECV_MS) == []
    assert p.stats.rejected == {reason: 1}


# ------------------------------------------------------------------ normalize
def test_normalize_the_real_captures() -> None:
    """`cross-exchange normalize --venue deribit` emits the parser's records per frame."""
    out = io.StringIO()
    assert normalize.normalize_file("deribit", str(shared_fixture(TARDIS)), out) == 0
    lines = [orjson.loads(line) for line in out.getvalue().splitlines()]
    liquidations = [r for r in lines if r["type"] == "liquidation"]
    assert [(float(r["price"]), r["side"], r["symbol"]) for r in liquidations] == [
        (4469.5, "sell", "BTCUSD.INV"), (4458.5, "sell", "BTCUSD.INV")]  # fmt: skip
    funding = [r for r in lines if r["type"] == "funding"]
    assert [float(r["funding_rate"]) for r in funding] == [0.00016281, -8.477e-05]
    out, err = io.StringIO(), io.StringIO()
    capture = str(shared_fixture(CAPTURE))
    normalize.normalize_file("deribit", capture, out, stats_to=err, book_depth=3)
    summary = orjson.loads(err.getvalue())
    assert summary["emitted"] == {"ticker": 76, "open_interest": 10}
    # --books: 10 snapshots and 36 changes, every change chained to the one before it
    assert summary["books"] == {"rules": True, "applied": 46, "resyncs": {}, "dropped": {}}
    lines = [orjson.loads(line) for line in out.getvalue().splitlines()]
    first = lines[0]
    assert (first["symbol"], first["bid"], first["ask"], first["received_at"]) == (
        "ETHUSD.INV-20210730-2800-C", "0.0015", "0.0025", "1626993723.804")  # fmt: skip
    book = next(line for line in lines if line["type"] == "book")
    assert (book["venue_symbol"], book["sequence"], book["snapshot"]) == (
        "ETH-30JUL21-2800-C", 13169025645, True)  # fmt: skip
    assert book["bids"] == [[0.0015, 4714.0], [0.001, 861.0], [0.0005, 1.0]]
    assert (book["bid_levels"], book["ask_levels"]) == (3, 13)


def test_liveness() -> None:
    """Market data proves the feed alive even when it yields nothing (a repeated trade, an
    empty option book); acks, errors, heartbeats, unsubscribed channels and garbage never."""
    p = parser()
    control = [p.parse_with_liveness(f, RECV_MS)[1] for f in local("ws_control.jsonl")]
    assert control == [False] * 9
    data = [*local("ws_trades.jsonl"), *local("ws_ticker.jsonl"), *local("ws_chart.jsonl")]
    assert [p.parse_with_liveness(f, RECV_MS)[1] for f in data] == [True] * len(data)
    assert p.parse_with_liveness('{"jsonrpc":"2.0","method":"subscr', RECV_MS) == ([], False)
