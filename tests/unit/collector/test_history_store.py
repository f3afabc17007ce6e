"""HistoryStore: one row per (venue, kind, symbol, time); re-fetched rows replace stored ones;
the newest stored time is the resume point, read back by a new store (a restart)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from microservices.common.records import Kline
from microservices.data_collector.exchange_data_collector import FRAME_COLUMNS, records_to_frame
from microservices.data_collector.history_store import HistoryStore
from tests.factories import header

T0 = 1_717_200_000_000  # 2024-06-01 00:00 UTC
MINUTE = 60_000


def bars(first: int, count: int, close: float) -> pd.DataFrame:
    """`count` closed 1m bars of binance_futures BTCUSDT from minute `first`, all at `close`."""
    records = [
        Kline(
            **header(exchange="binance_futures", market="perp", ts_ms=t, recv_ms=t + MINUTE),
            open_time_ms=t, interval="1m", open=close, high=close, low=close, close=close,
            volume=1.0, closed=True,
        )
        for t in (T0 + (first + i) * MINUTE for i in range(count))
    ]  # fmt: skip
    return records_to_frame("ohlc", records)


def stored(path: Path) -> pd.DataFrame:
    return pd.read_csv(path)


def test_refetched_rows_replace_and_new_rows_append(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path)
    assert store.newest_ms("binance_futures", "ohlc", "BTCUSDT") is None
    assert store.write("binance_futures", "ohlc", "BTCUSDT", bars(0, 10, close=100.0)) == 10
    store.write("binance_futures", "ohlc", "BTCUSDT", bars(5, 10, close=200.0))  # 5 overlap
    path = tmp_path / "binance_futures" / "ohlc" / "BTCUSDT.csv"
    rows = stored(path)
    assert list(rows.columns) == FRAME_COLUMNS["ohlc"]
    assert len(rows) == 15 and rows["timestamp"].is_unique
    assert list(rows["close"]) == [100.0] * 5 + [200.0] * 10  # the re-fetched values won
    assert store.newest_ms("binance_futures", "ohlc", "BTCUSDT") == T0 + 14 * MINUTE
    store.write("binance_futures", "ohlc", "BTCUSDT", bars(15, 2, close=300.0))  # append
    assert len(stored(path)) == 17
    assert HistoryStore(tmp_path).newest_ms("binance_futures", "ohlc", "BTCUSDT") == (
        T0 + 16 * MINUTE
    )  # a new store (a restart) resumes from the file


def test_files_with_duplicates_are_cleaned_on_first_use(tmp_path: Path) -> None:
    path = tmp_path / "binance_futures" / "ohlc" / "BTCUSDT.csv"
    path.parent.mkdir(parents=True)
    # what the appending writer left after two restarts: the same six hours twice
    bars(0, 4, close=100.0).to_csv(path, index=False)
    bars(2, 4, close=150.0).to_csv(path, mode="a", header=False, index=False)
    assert len(stored(path)) == 8
    store = HistoryStore(tmp_path)
    assert store.newest_ms("binance_futures", "ohlc", "BTCUSDT") == T0 + 5 * MINUTE
    rows = stored(path)
    assert len(rows) == 6 and rows["timestamp"].is_unique
    assert list(rows["close"]) == [100.0, 100.0, 150.0, 150.0, 150.0, 150.0]


def test_empty_frames_write_nothing(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path)
    assert store.write("bybit", "funding", "BTCUSDT", records_to_frame("funding", [])) == 0
    assert not (tmp_path / "bybit").exists()
