"""Bybit v5 `orderbook.50` book sync: snapshot resets (also `u == 1`), deltas, deltas before
any snapshot, duplicates and out-of-order `u`, bad levels and crossed books (resubscribe), on
hand-written frames and on the real v5 frames of the tardis-node samples and the docs."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from microservices.common.orderbook.book import OrderBook
from microservices.common.orderbook.sync import BookUpdate, Resync, ResyncReason
from microservices.data_collector.exchanges.bybit.book import BOOKS, BybitBookSync
from tests.fixture_paths import shared_fixture, tardis_frames

TS = 1_700_000_000_000


def frame(kind: str, u: int, bids: Any = (), asks: Any = (), symbol: str = "BTCUSDT",
          depth: int = 50) -> bytes:  # fmt: skip
    return orjson.dumps({
        "topic": f"orderbook.{depth}.{symbol}", "type": kind, "ts": TS + u,
        "data": {"s": symbol, "b": list(bids), "a": list(asks), "u": u, "seq": 7_000 + u},
        "cts": TS + u - 2,
    })  # fmt: skip


def snap(u: int = 10) -> bytes:
    return frame("snapshot", u, bids=[["100.0", "1"], ["99.0", "2"]], asks=[["101.0", "3"]])


def is_applied(result: BookUpdate | Resync | None) -> bool:
    return isinstance(result, BookUpdate) and result.applied


def is_buffered_or_dropped(result: BookUpdate | Resync | None) -> bool:
    return isinstance(result, BookUpdate) and not result.applied


def top(sync: BybitBookSync, symbol: str = "BTCUSDT") -> tuple[list[Any], list[Any]]:
    book = sync.books.get(symbol)
    assert isinstance(book, OrderBook), f"{symbol} has no synced book"
    return book.bids(), book.asks()


def test_snapshot_then_deltas() -> None:
    sync = BybitBookSync()
    assert sync.on_frame(snap()) == BookUpdate("BTCUSDT", 10, TS + 10, True, snapshot=True)
    delta = frame("delta", 11, bids=[["100.0", "0"], ["99.5", "4"]], asks=[["100.8", "1"]])
    assert sync.on_frame(delta) == BookUpdate("BTCUSDT", 11, TS + 11, applied=True)
    assert top(sync) == ([(99.5, 4.0), (99.0, 2.0)], [(100.8, 1.0), (101.0, 3.0)])
    # a jump in u is not a gap: Bybit has no previous-u field
    assert sync.on_frame(frame("delta", 40, asks=[["101.0", "0"]])) == BookUpdate(
        "BTCUSDT", 40, TS + 40, applied=True
    )
    assert sync.books.stats.resyncs == {}


def test_delta_before_any_snapshot_is_dropped() -> None:
    sync = BybitBookSync()
    assert sync.on_frame(frame("delta", 5, bids=[["1", "1"]])) == BookUpdate(
        "BTCUSDT", 5, None, applied=False
    )
    assert sync.books.get("BTCUSDT") is None
    assert sync.books.stats.dropped == {"before_snapshot": 1}


def test_duplicate_and_out_of_order_deltas_are_dropped_and_counted() -> None:
    sync = BybitBookSync()
    sync.on_frame(snap(10))
    sync.on_frame(frame("delta", 12, bids=[["100.0", "5"]]))
    assert sync.on_frame(frame("delta", 12, bids=[["100.0", "9"]])) == BookUpdate(
        "BTCUSDT", 12, None, applied=False
    )  # the same u again
    assert is_buffered_or_dropped(sync.on_frame(frame("delta", 11, bids=[["100.0", "8"]])))
    assert top(sync)[0] == [(100.0, 5.0), (99.0, 2.0)]
    assert sync.books.stats.dropped == {"out_of_order": 2}


def test_every_snapshot_resets_and_u_1_is_a_restart() -> None:
    sync = BybitBookSync()
    sync.on_frame(snap(500))
    again = frame("snapshot", 900, bids=[["98.0", "1"]], asks=[["102.0", "1"]])
    assert sync.on_frame(again) == BookUpdate("BTCUSDT", 900, TS + 900, True, snapshot=True)
    assert top(sync) == ([(98.0, 1.0)], [(102.0, 1.0)])
    # u == 1 after a service restart: even a "delta" replaces the book, u restarts from it
    restart = frame("delta", 1, bids=[["97.0", "2"]], asks=[["103.0", "2"]])
    assert sync.on_frame(restart) == BookUpdate("BTCUSDT", 1, TS + 1, True, snapshot=True)
    assert top(sync) == ([(97.0, 2.0)], [(103.0, 2.0)])
    assert is_applied(sync.on_frame(frame("delta", 2, bids=[["97.5", "1"]])))
    assert sync.books.stats.resyncs == {"venue_reset": 2}


@pytest.mark.parametrize("bad", [["100.2", "NaN"], ["100.2", "-0.1"], ["x", "1"]])
def test_bad_level_rejects_the_frame_and_resubscribes(bad: list[str]) -> None:
    sync = BybitBookSync()
    sync.on_frame(snap())
    result = sync.on_frame(frame("delta", 11, bids=[["99.9", "1"], bad]))
    assert result == Resync("BTCUSDT", ResyncReason.BAD_LEVEL, "resubscribe")
    assert sync.books.get("BTCUSDT") is None
    # deltas wait for the resubscription's snapshot
    assert is_buffered_or_dropped(sync.on_frame(frame("delta", 12)))
    assert is_applied(sync.on_frame(snap(13)))
    assert top(sync)[0] == [(100.0, 1.0), (99.0, 2.0)]  # 99.9 never applied


def test_crossed_delta_resubscribes() -> None:
    sync = BybitBookSync()
    sync.on_frame(snap())
    crossed = sync.on_frame(frame("delta", 11, asks=[["99.5", "1"]]))
    assert crossed == Resync("BTCUSDT", ResyncReason.CROSSED, "resubscribe")
    assert sync.books.get("BTCUSDT") is None


def test_other_topics_and_reconnect() -> None:
    sync = BOOKS["bybit_spot"].new(None)
    assert isinstance(sync, BybitBookSync) and sync.books.max_depth == 50
    assert sync.on_frame(frame("snapshot", 3, bids=[["1", "1"]], depth=1)) is None  # orderbook.1
    trade = b'{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":1,"data":[]}'
    assert sync.on_frame(trade) is None and sync.on_frame(b'{"op":"pong"}') is None
    assert sync.topic("ETHUSDT") == "orderbook.50.ETHUSDT"
    sync.on_frame(snap())
    assert sync.on_rest("https://api.bybit.com/v5/market/orderbook", b"{}") == []
    assert sync.reconnect() == [Resync("BTCUSDT", ResyncReason.RECONNECT, "resubscribe")]
    assert is_buffered_or_dropped(sync.on_frame(frame("delta", 11)))


def test_real_v5_frames() -> None:
    """tardis-node's v5 samples: BTCPERP (linear) and BTCUSDT (spot) orderbook.50 snapshot
    then delta; values read off the frames."""
    path = shared_fixture("bybit/ws/tardis-node_mappers-test_samples.jsonl")
    sync = BybitBookSync()
    results = [sync.on_frame(text) for text, _ in tardis_frames(path, "messagesV5")]
    updates = [r for r in results if isinstance(r, BookUpdate)]
    assert len(updates) == sum(r is not None for r in results)  # no resync
    assert [(r.symbol, r.sequence, is_applied(r)) for r in updates] == [
        ("BTCPERP", 20683568, True), ("BTCPERP", 20683569, True),
        ("BTCUSDT", 59438060, True), ("BTCUSDT", 59438061, True),
    ]  # fmt: skip
    assert top(sync, "BTCPERP") == ([(28555.2, 0.677)], [(28555.3, 0.029)])
    # delta 59438061: bid 28161.04 added, 28145.71 and ask 28184.33 deleted (absent: no-op)
    assert top(sync, "BTCUSDT") == ([(28162.57, 0.07562), (28161.04, 0.177474)],
                                    [(28162.58, 0.506829)])  # fmt: skip


def test_docs_example_snapshot() -> None:
    path = shared_fixture("bybit/docs-examples/ws_orderbook.0.Snapshot.json")
    sync = BybitBookSync()
    assert sync.on_frame(path.read_bytes()) == BookUpdate(
        "BTCUSDT", 18521288, 1672304484978, True, snapshot=True
    )
    assert top(sync) == ([(16493.5, 0.006), (16493.0, 0.1)], [(16611.0, 0.029), (16612.0, 0.213)])


def test_drop_waits_for_the_next_snapshot() -> None:
    sync = BybitBookSync()
    sync.on_frame(snap())
    sync.drop("BTCUSDT")
    assert is_buffered_or_dropped(sync.on_frame(frame("delta", 11)))
    assert is_applied(sync.on_frame(snap(12)))
