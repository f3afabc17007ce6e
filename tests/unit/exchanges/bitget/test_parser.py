"""Bitget v2 WebSocket parser: exact values from the real v2 frames of 2024 in
../shared/fixtures/bitget (tardis-node samples), and hand-written frames (v2 docs shapes) for
every rule and reject reason: taker side, duplicates, ticker changes and throttling, candles
closing, other markets' frames, control frames and liveness."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from microservices.common.records import Funding, Kline, OpenInterest, Ticker, Trade
from microservices.data_collector.exchanges.bitget.exchange import Bitget, BitgetSpot
from microservices.data_collector.exchanges.bitget.parser import BitgetParser
from tests.fixture_paths import capture_frames, local_fixture, shared_fixture, tardis_frames

RECV_MS = 1_730_332_860_000
CAPTURE = "bitget/ws/tardis-node_mappers-test_samples.jsonl"


def spot(*symbols: str) -> BitgetParser:
    parser = BitgetSpot(symbols or ("BTCUSDT",), "wss://x", "https://x").new_parser()
    assert isinstance(parser, BitgetParser)
    return parser


def futures(*symbols: str) -> BitgetParser:
    parser = Bitget(symbols or ("BTCUSDT",), "wss://x", "https://x").new_parser()
    assert isinstance(parser, BitgetParser)
    return parser


def real(match: str) -> str:
    """The one v2 frame of the capture containing `match`."""
    found = [f for f, _ in tardis_frames(shared_fixture(CAPTURE)) if match in f]
    assert len(found) == 1, match
    return found[0]


def frame(inst_type: str, channel: str, data: Any, action: str = "update", ts: int = 0,
          inst_id: str = "BTCUSDT") -> str:  # fmt: skip
    arg = {"instType": inst_type, "channel": channel, "instId": inst_id}
    return orjson.dumps({"action": action, "arg": arg, "data": data, "ts": ts}).decode()


def test_real_spot_trade() -> None:
    parser = spot("BTCUSDT")
    records = parser.parse(real('"instId":"BTCUSDT"},"data":[{"ts":"1730332858796"'), RECV_MS)
    assert records == [
        Trade("bitget_spot", "spot", "BTCUSDT", "BTCUSDT", "BTCUSDT", "USDT", 1_730_332_858_796,
              RECV_MS, 72389.99, 0.001373, "buy", "1235671058980749319")
    ]  # fmt: skip


def test_real_spot_trade_snapshot_and_taker_sell() -> None:
    parser = spot("SNEKUSDT", "RENDERUSDT")
    (snek,) = parser.parse(real('"instId":"SNEKUSDT"'), RECV_MS)
    (render,) = parser.parse(real('"instId":"RENDERUSDT"'), RECV_MS)
    assert isinstance(snek, Trade) and isinstance(render, Trade)
    assert (snek.ts_ms, snek.price, snek.size, snek.side, snek.trade_id) == (
        1_730_332_799_292, 0.0010074, 23617.11, "sell", "1235670809402884097")  # fmt: skip
    assert (render.price, render.size, render.side) == (4.987, 22.75, "sell")


def test_real_futures_ticker_gives_quote_funding_and_open_interest() -> None:
    parser = futures("STORJUSDT")
    ticker, funding, oi = parser.parse(real('"instId":"STORJUSDT","lastPr"'), RECV_MS)
    head: dict[str, Any] = {"exchange": "bitget", "market": "perp", "symbol": "STORJUSDT",
                            "venue_symbol": "STORJUSDT", "group": "STORJUSDT", "quote": "USDT",
                            "ts_ms": 1_730_332_823_155, "recv_ms": RECV_MS}  # fmt: skip
    assert ticker == Ticker(**head, bid=0.4705, bid_size=1367.3, ask=0.4708, ask_size=2535.3,
                            last=0.4706)  # fmt: skip
    assert funding == Funding(**head, funding_rate=0.0001, funding_interval_h=8.0,
                              next_funding_time_ms=1_730_361_600_000, mark_price=0.4705,
                              index_price=0.47080586)  # fmt: skip
    assert isinstance(oi, OpenInterest) and oi.open_interest == 8572031.1
    assert oi.open_interest_usd == pytest.approx(8572031.1 * 0.4705, rel=1e-12)


def test_real_frames_of_other_markets_and_versions_are_not_ours() -> None:
    parser = futures("DOGEUSD", "BTCUSDZ24", "BTCUSDT")
    assert parser.parse(real('"instId":"DOGEUSD"'), RECV_MS) == []  # COIN-FUTURES
    assert parser.parse(real('"instId":"BTCUSDZ24"'), RECV_MS) == []
    assert parser.parse(real('"instId":"BTCUSDT"},"data":[{"ts":"1730332858796"'), RECV_MS) == []
    v3 = real('"topic":"liquidation"')  # v3 (UTA) public API: `topic`, not `channel`
    assert parser.parse(v3, RECV_MS) == []
    assert parser.stats.rejected == {"ignored": 3, "unknown_topic": 1}


def test_real_acks_and_book_channels_are_control_frames() -> None:
    parser = futures("BTCUSDT", "LTCUSDT", "BELUSDT", "ADAUSDT")
    frames = [real('"event":"subscribe","arg":{"instType":"USDT-FUTURES","channel":"trade"'),
              real('"channel":"ticker","instId":"BTCUSDT"}}'),
              real('"channel":"books","instId":"BELUSDT"'),
              real('"channel":"books1","instId":"ADAUSDT"')]  # fmt: skip
    for text in frames:
        records, alive = parser.parse_with_liveness(text, RECV_MS)
        assert records == [] and not alive, text
    assert parser.stats.rejected == {"ignored": 4}


def test_control_frames_and_garbage_never_prove_the_feed_alive() -> None:
    parser = futures()
    error = orjson.dumps({"event": "error", "code": 30001, "msg": "instId doesn't exist"})
    unknown = frame("USDT-FUTURES", "fancy", [{}])
    cut = frame("USDT-FUTURES", "trade", [])[:40]
    for text in ("pong", error.decode(), unknown, cut, '{"event":"mystery"}'):
        assert parser.parse_with_liveness(text, RECV_MS) == ([], False)
    assert parser.stats.rejected == {
        "ignored": 1, "venue_error": 1, "unknown_topic": 1, "malformed": 1, "unknown_event": 1}  # fmt: skip


TRADE = {"ts": "1700000000100", "price": "36000.5", "size": "0.25", "side": "sell",
         "tradeId": "1111"}  # fmt: skip


def test_trades_come_oldest_first_and_duplicates_are_dropped() -> None:
    parser = futures()
    newer = {**TRADE, "ts": "1700000000200", "tradeId": "1112", "side": "buy"}
    first = parser.parse(frame("USDT-FUTURES", "trade", [newer, TRADE], "snapshot"), RECV_MS)
    assert [(t.trade_id, t.side, t.ts_ms) for t in first] == [  # type: ignore[union-attr]
        ("1111", "sell", 1_700_000_000_100), ("1112", "buy", 1_700_000_000_200)]  # fmt: skip
    again, alive = parser.parse_with_liveness(frame("USDT-FUTURES", "trade", [TRADE]), RECV_MS)
    assert again == [] and alive  # a duplicate: no record, but the feed is alive
    assert parser.stats.rejected == {"duplicate": 1}


@pytest.mark.parametrize(
    ("change", "reason"),
    [({"price": "NaN"}, "malformed"), ({"price": "-1"}, "malformed"),
     ({"side": "Buy"}, "malformed"), ({"tradeId": ""}, "malformed"),
     ({"tradeId": 17}, "malformed"), ({"ts": "17"}, "malformed")],
)  # fmt: skip
def test_bad_trades_are_malformed(change: dict[str, Any], reason: str) -> None:
    parser = futures()
    assert parser.parse(frame("USDT-FUTURES", "trade", [{**TRADE, **change}]), RECV_MS) == []
    assert parser.stats.rejected == {reason: 1}


def test_unfollowed_and_unknown_symbols() -> None:
    parser = futures("BTCUSDT")
    assert parser.parse(frame("USDT-FUTURES", "trade", [TRADE], inst_id="ETHUSDT"), 0) == []
    assert parser.parse(frame("USDT-FUTURES", "trade", [TRADE], inst_id="ETH-X"), 0) == []
    assert parser.stats.rejected == {"not_followed": 1, "unknown_symbol": 1}


TICK = {"instId": "BTCUSDT", "lastPr": "36000.5", "bidPr": "36000.1", "askPr": "36000.9",
        "bidSz": "1.5", "askSz": "2", "fundingRate": "0.0001", "nextFundingTime": "1700006400000",
        "markPrice": "36000.4", "indexPrice": "36001.2", "holdingAmount": "1000",
        "ts": "1700000000000"}  # fmt: skip


def ticks(parser: BitgetParser, *changes: dict[str, Any]) -> list[list[str]]:
    """Record types of pushes, each `TICK` with the changes so far (a push repeats all)."""
    out: list[list[str]] = []
    state = dict(TICK)
    for change in changes:
        state.update(change)
        records = parser.parse(frame("USDT-FUTURES", "ticker", [state]), RECV_MS)
        out.append([str(r.type) for r in records])
    return out


def test_ticker_pushes_publish_what_changed() -> None:
    parser = futures()
    assert ticks(
        parser,
        {},  # first push: everything
        {"ts": "1700000000100"},  # same values: nothing
        {"ts": "1700000000200", "bidSz": "1.4"},  # quote changed
        {"ts": "1700000000300", "markPrice": "36000.5", "holdingAmount": "1001"},  # < 1 s
        {"ts": "1700000001000"},  # 1 s after the last: the pending mark and OI go
        {"ts": "1700000001100", "fundingRate": "0.0002"},  # a new rate goes at once
    ) == [["ticker", "funding", "open_interest"], [], ["ticker"], [], ["funding", "open_interest"],
          ["funding"]]  # fmt: skip


def test_crossed_quotes_and_bad_tickers_are_rejected() -> None:
    parser = futures()
    crossed, bad_rate, bad_ts = {"bidPr": "36001"}, {"fundingRate": "1.5"}, {"ts": "x"}
    assert [ticks(parser, change) for change in (crossed, bad_rate, bad_ts)] == [[[]]] * 3
    assert parser.stats.rejected == {"crossed_quote": 1, "malformed": 2}


def test_spot_ticker_has_no_funding_and_funding_zero_next_time_is_none() -> None:
    spot_tick = {k: v for k, v in TICK.items() if k in (
        "instId", "lastPr", "bidPr", "askPr", "bidSz", "askSz", "ts")}  # fmt: skip
    records = spot().parse(frame("SPOT", "ticker", [spot_tick], "snapshot"), RECV_MS)
    assert [r.type for r in records] == ["ticker"]
    dated = futures().parse(frame("USDT-FUTURES", "ticker", [{**TICK, "nextFundingTime": "0"}]), 0)
    funding = [r for r in dated if isinstance(r, Funding)]
    assert funding[0].next_funding_time_ms is None


def candle(start: int, close: str = "10.5") -> list[str]:
    return [str(start), "10", "11", "9.5", close, "3.25", "33.5", "33.5"]


M = 1_700_000_040_000  # a minute boundary


def test_candles_close_when_a_later_bar_starts() -> None:
    parser = spot()
    snap = parser.parse(frame("SPOT", "candle1m", [candle(M + 60_000), candle(M)], "snapshot",
                              ts=M + 61_000), RECV_MS)  # fmt: skip
    assert [(k.open_time_ms, k.closed) for k in snap] == [(M, True), (M + 60_000, False)]  # type: ignore[union-attr]
    update = parser.parse(frame("SPOT", "candle1m", [candle(M + 60_000, "10.75")],
                                ts=M + 62_000), RECV_MS)  # fmt: skip
    assert [(k.close, k.closed) for k in update] == [(10.75, False)]  # type: ignore[union-attr]
    rolled = parser.parse(frame("SPOT", "candle1m", [candle(M + 120_000)], ts=M + 120_500), 0)
    assert [(k.open_time_ms, k.close, k.closed) for k in rolled] == [  # type: ignore[union-attr]
        (M + 60_000, 10.75, True), (M + 120_000, 10.5, False)]  # fmt: skip
    first = rolled[0]
    assert isinstance(first, Kline)
    assert (first.open, first.high, first.low, first.volume, first.interval, first.ts_ms) == (
        10.0, 11.0, 9.5, 3.25, "1m", M + 120_500)  # fmt: skip


def test_a_bar_closed_by_time_is_not_closed_twice_and_bad_bars_are_malformed() -> None:
    parser = spot()
    late = parser.parse(frame("SPOT", "candle1m", [candle(M)], ts=M + 60_000), 0)
    assert [k.closed for k in late] == [True]  # type: ignore[union-attr]
    nxt = parser.parse(frame("SPOT", "candle1m", [candle(M + 60_000)], ts=M + 61_000), 0)
    assert [k.open_time_ms for k in nxt] == [M + 60_000]  # type: ignore[union-attr]
    bad = [str(M), "12", "11", "9.5", "10", "1", "1", "1"]  # open above high
    assert parser.parse(frame("SPOT", "candle1m", [bad], ts=M), 0) == []
    short = [str(M), "10", "11", "9.5", "10", "1"]
    assert parser.parse(frame("SPOT", "candle1m", [short], ts=M), 0) == []
    assert parser.stats.rejected == {"malformed": 2}


def test_market_data_proves_the_feed_alive_even_without_records() -> None:
    """Repo frames (tests/fixtures/exchanges/bitget*/ws_*.jsonl): trades, tickers and
    candles are alive; a repeated ticker push (nothing changed), a duplicate trade and an
    unfollowed symbol yield nothing and still prove the feed alive."""
    for venue, parser in (("bitget", futures()), ("bitget_spot", spot())):
        frames = [f for name in ("trade", "ticker", "candle1m")
                  for f in capture_frames(local_fixture(f"exchanges/{venue}/ws_{name}.jsonl"))]  # fmt: skip
        unfollowed = frames[0].replace('"BTCUSDT"', '"XYZUSDT"')
        checked = [parser.parse_with_liveness(f, RECV_MS) for f in frames]
        assert all(alive and records for records, alive in checked), venue
        for again in (frames[0], frames[2], unfollowed):  # duplicate, same ticker, unfollowed
            assert parser.parse_with_liveness(again, RECV_MS) == ([], True), (venue, again)


def test_ticker_values_that_do_not_apply_yet_are_empty_strings() -> None:
    empty = {"lastPr": "", "fundingRate": "", "nextFundingTime": "", "holdingAmount": "",
             "markPrice": "", "indexPrice": ""}  # fmt: skip
    (ticker,) = futures().parse(frame("USDT-FUTURES", "ticker", [{**TICK, **empty}]), RECV_MS)
    assert isinstance(ticker, Ticker) and (ticker.bid, ticker.last) == (36000.1, None)
