"""The replay feed's frames (benchmarks/replay_frames.py, patched by replay_feed.Conn.batch)
are what the collector's parsers accept: one record per frame, trades and tickers in turn,
the patched event time as the record's time, and unique, consecutive trade ids."""

from __future__ import annotations

from typing import Any

import pytest

from benchmarks.replay_feed import Conn, Feed, take_frame
from microservices.data_collector import exchanges

SPECS = exchanges.venue_specs()
SYMBOLS = {"binance": ["BTCUSDT", "ETHUSDT"], "binance_futures": ["BTCUSDT", "ETHUSDT"],
           "bybit": ["BTCUSDT", "ETHUSDT"], "coinbase": ["BTC-USD", "ETH-USD"]}  # fmt: skip
MS = 1_796_512_187_421
ISO = b"2026-12-05T23:09:47.421000Z"  # the same instant as MS


def frames(venue: str, count: int) -> list[str]:
    conn = Conn(Feed(rate=1.0, tick_s=0.001))
    conn.venue = venue
    conn._subscribe(SYMBOLS[venue])
    buf = bytearray(conn.batch(count, b"%13d" % MS, ISO))
    out = []
    while buf:
        taken = take_frame(buf)
        assert taken is not None and taken[0] == 0x1
        out.append(taken[1].decode())
    return out


@pytest.mark.parametrize("venue", sorted(SYMBOLS))
def test_every_frame_is_one_record_with_the_send_time(venue: str) -> None:
    exchange = SPECS[venue].exchange(["BTCUSDT", "ETHUSDT"], ws_url="ws://x", rest_url="")
    parser = exchange.new_parser()
    sent = frames(venue, 32)  # two rounds of the 16-frame cycle: ids must not repeat
    records: list[Any] = []
    for frame in sent:
        got = parser.parse(frame, MS + 3)
        kinds = [r.type for r in got if r.type != "kline"]  # Coinbase closes a 1m bar now and then
        assert kinds in (["trade"], ["ticker"]), (frame, got, parser.stats.rejected)
        records += [r for r in got if r.type != "kline"]
    assert [r.type for r in records[:4]] == ["trade", "ticker", "trade", "ticker"]
    spot_ticker = venue == "binance"  # spot bookTicker carries no event time: recv time
    for r in records:
        expected = MS + 3 if (r.type == "ticker" and spot_ticker) else MS
        assert r.ts_ms == expected and r.recv_ms == MS + 3
    trades = [r for r in records if r.type == "trade"]
    assert len(trades) == 16
    for symbol in {r.symbol for r in trades}:
        ids = [int(r.trade_id) for r in trades if r.symbol == symbol]
        assert ids == list(range(ids[0], ids[0] + len(ids)))  # unique and consecutive
    tickers = [r for r in records if r.type == "ticker"]
    assert all(r.bid < r.ask for r in tickers)
    assert len({(r.symbol, r.bid) for r in tickers}) > 2  # consecutive quotes differ
