"""Binance book sync (spot and USDⓈ-M `@depth@100ms` + REST snapshot): every rule of the
documented procedure on small hand-written frames, and values of the real NKNUSDT/LRCBTC
capture (../shared/fixtures/binance/ws/spot_depth_with_rest_snapshots...)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from microservices.common.orderbook.book import OrderBook
from microservices.common.orderbook.sync import BookUpdate, Resync, ResyncReason
from microservices.data_collector.exchanges.binance.book import BOOKS, BinanceBookSync
from tests.fixture_paths import shared_fixture

SPOT_URL = "https://api.binance.com/api/v3/depth?symbol=BTCUSDT&limit=1000"
FUTURES_URL = "https://fapi.binance.com/fapi/v1/depth?symbol=BTCUSDT&limit=1000"


def depth(first: int, last: int, bids: Any = (), asks: Any = (), pu: int | None = None,
          symbol: str = "BTCUSDT", combined: bool = True) -> bytes:  # fmt: skip
    """A depthUpdate frame (combined-stream form unless `combined` is False)."""
    data: dict[str, Any] = {"e": "depthUpdate", "E": 1_700_000_000_000 + last, "s": symbol,
                            "U": first, "u": last, "b": list(bids), "a": list(asks)}  # fmt: skip
    if pu is not None:
        data["pu"] = pu
    if not combined:
        return orjson.dumps(data)
    return orjson.dumps({"stream": f"{symbol.lower()}@depth@100ms", "data": data})


def snapshot(
    last_id: int, bids: Any = (("100.0", "1.0"),), asks: Any = (("101.0", "1.0"),)
) -> bytes:
    return orjson.dumps({"lastUpdateId": last_id, "bids": list(bids), "asks": list(asks)})


def top(sync: BinanceBookSync, symbol: str = "BTCUSDT") -> tuple[list[Any], list[Any]]:
    book = sync.books.get(symbol)
    assert isinstance(book, OrderBook), f"{symbol} has no synced book"
    return book.bids(), book.asks()


def test_spot_buffers_until_the_snapshot_drops_old_and_applies_the_straddling_event() -> None:
    sync = BinanceBookSync()
    buffered = sync.on_frame(depth(95, 100, bids=[["99.0", "5.0"]]))
    assert buffered == BookUpdate("BTCUSDT", 100, 1_700_000_000_100, applied=False)
    assert sync.books.get("BTCUSDT") is None  # nothing to read before the snapshot
    sync.on_frame(depth(101, 103, bids=[["100.0", "2.5"]], asks=[["101.0", "0"], ["102.0", "3"]]))
    results = sync.on_rest(SPOT_URL, snapshot(100))
    assert [(r.sequence, r.applied, r.snapshot) for r in results if isinstance(r, BookUpdate)] == [
        (100, True, True), (100, False, False), (103, True, False)
    ]  # fmt: skip
    # 95..100 is in the snapshot (u <= lastUpdateId): dropped, its 99.0 bid never appears
    assert top(sync) == ([(100.0, 2.5)], [(102.0, 3.0)])
    assert sync.books.stats.dropped == {"stale": 1}
    live = sync.on_frame(depth(104, 104, bids=[["99.5", "1"]]))
    assert live == BookUpdate("BTCUSDT", 104, 1_700_000_000_104, applied=True)
    assert top(sync)[0] == [(100.0, 2.5), (99.5, 1.0)]


def test_spot_event_ending_at_last_update_id_is_dropped_futures_applies_it() -> None:
    """Spot drops u <= lastUpdateId and needs U <= lastUpdateId+1 <= u; USDⓈ-M drops only
    u < lastUpdateId and needs U <= lastUpdateId <= u: the same event (98..100 against
    lastUpdateId 100) is old news on spot and the first event to apply on futures."""
    spot, futures = BinanceBookSync(), BinanceBookSync(futures=True)
    spot.on_rest(SPOT_URL, snapshot(100))
    futures.on_rest(FUTURES_URL, snapshot(100))
    frame = depth(98, 100, bids=[["100.0", "7.0"]], pu=97)
    assert spot.on_frame(frame) == BookUpdate("BTCUSDT", 100, None, applied=False)
    assert top(spot)[0] == [(100.0, 1.0)]
    assert futures.on_frame(frame) == BookUpdate("BTCUSDT", 100, 1_700_000_000_100, applied=True)
    assert top(futures)[0] == [(100.0, 7.0)]


def test_futures_pu_chain_and_gap() -> None:
    sync = BinanceBookSync(futures=True)
    sync.on_rest(FUTURES_URL, snapshot(200))
    applied = BookUpdate("BTCUSDT", 205, 1_700_000_000_205, applied=True)
    assert sync.on_frame(depth(195, 205, asks=[["101.0", "4"]], pu=194)) == applied
    # U is not prev_u + 1 on futures; only pu == previous u matters
    applied = BookUpdate("BTCUSDT", 214, 1_700_000_000_214, applied=True)
    assert sync.on_frame(depth(210, 214, bids=[["100.5", "1"]], pu=205)) == applied
    assert top(sync) == ([(100.5, 1.0), (100.0, 1.0)], [(101.0, 4.0)])
    gap = sync.on_frame(depth(220, 230, pu=219))
    assert gap == Resync("BTCUSDT", ResyncReason.GAP, "rest_snapshot")
    assert sync.books.get("BTCUSDT") is None
    # the event that revealed the gap is kept: it straddles the next snapshot
    results = sync.on_rest(FUTURES_URL, snapshot(225, bids=[["99.0", "1"]]))
    assert [r.sequence for r in results if isinstance(r, BookUpdate) and r.applied] == [225, 230]
    assert sync.books.stats.resyncs == {"gap": 1}


def test_spot_gap_resync_then_rebuild() -> None:
    sync = BinanceBookSync()
    sync.on_rest(SPOT_URL, snapshot(10))
    sync.on_frame(depth(11, 12, bids=[["100.2", "1"]]))
    gap = sync.on_frame(depth(14, 15, bids=[["100.4", "1"]]))  # 13 is missing
    assert gap == Resync("BTCUSDT", ResyncReason.GAP, "rest_snapshot")
    assert sync.books.get("BTCUSDT") is None
    assert sync.books.book("BTCUSDT").bid_levels == 0  # cleared: no wrong book left
    assert sync.on_frame(depth(16, 16)) == BookUpdate("BTCUSDT", 16, 1_700_000_000_016, False)
    results = sync.on_rest(SPOT_URL, snapshot(14))
    assert [(r.sequence, r.applied) for r in results if isinstance(r, BookUpdate)] == [
        (14, True), (15, True), (16, True)
    ]  # fmt: skip
    assert top(sync)[0] == [(100.4, 1.0), (100.0, 1.0)]


def test_duplicate_is_dropped_and_overlap_is_out_of_order() -> None:
    sync = BinanceBookSync()
    sync.on_rest(SPOT_URL, snapshot(10))
    sync.on_frame(depth(11, 15, bids=[["100.5", "1"]]))
    again = sync.on_frame(depth(11, 15, bids=[["100.5", "9"]]))
    assert again == BookUpdate("BTCUSDT", 15, None, applied=False)
    assert top(sync)[0] == [(100.5, 1.0), (100.0, 1.0)]  # unchanged
    assert sync.books.stats.dropped == {"duplicate": 1}
    overlap = sync.on_frame(depth(14, 18))
    assert overlap == Resync("BTCUSDT", ResyncReason.OUT_OF_ORDER, "rest_snapshot")


def test_stale_snapshot_is_fetched_again_and_the_buffer_kept() -> None:
    sync = BinanceBookSync()
    sync.on_frame(depth(301, 305, bids=[["100.1", "1"]]))
    sync.on_frame(depth(306, 306, asks=[["100.9", "2"]]))
    stale = sync.on_rest(SPOT_URL, snapshot(250))  # lastUpdateId+1 < first buffered U
    assert stale[-1] == Resync("BTCUSDT", ResyncReason.STALE_SNAPSHOT, "rest_snapshot")
    assert sync.books.get("BTCUSDT") is None
    results = sync.on_rest(SPOT_URL, snapshot(303))
    assert [r.sequence for r in results if isinstance(r, BookUpdate) and r.applied] == [
        303, 305, 306
    ]  # fmt: skip
    assert top(sync) == ([(100.1, 1.0), (100.0, 1.0)], [(100.9, 2.0), (101.0, 1.0)])
    # a snapshot loaded before any event is stale when the first event starts after it
    later = BinanceBookSync()
    later.on_rest(SPOT_URL, snapshot(50))
    assert later.on_frame(depth(60, 61)) == Resync(
        "BTCUSDT", ResyncReason.STALE_SNAPSHOT, "rest_snapshot"
    )


def test_buffer_is_bounded() -> None:
    sync = BinanceBookSync(max_buffered=3)
    for first in (1, 2, 3):
        assert isinstance(sync.on_frame(depth(first, first)), BookUpdate)
    overflow = sync.on_frame(depth(4, 4))
    assert overflow == Resync("BTCUSDT", ResyncReason.BUFFER_OVERFLOW, "rest_snapshot")
    # only the newest event is kept for the next snapshot
    results = sync.on_rest(SPOT_URL, snapshot(3))
    assert [r.sequence for r in results if isinstance(r, BookUpdate) and r.applied] == [3, 4]


@pytest.mark.parametrize("bad", [["100.5", "NaN"], ["100.5", "-1"], ["abc", "1"], ["1e400", "1"]])
def test_bad_level_rejects_the_whole_frame_and_resyncs(bad: list[str]) -> None:
    sync = BinanceBookSync()
    sync.on_rest(SPOT_URL, snapshot(10))
    result = sync.on_frame(depth(11, 11, bids=[["100.2", "1"], bad]))
    assert result == Resync("BTCUSDT", ResyncReason.BAD_LEVEL, "rest_snapshot")
    assert sync.books.get("BTCUSDT") is None
    book = sync.books.book("BTCUSDT")
    assert (book.bid_levels, book.ask_levels) == (0, 0)  # the good first level was not applied
    assert sync.books.stats.resyncs == {"bad_level": 1}


def test_bad_snapshot_answers() -> None:
    sync = BinanceBookSync()
    assert sync.on_rest(SPOT_URL, snapshot(5, bids=[["1", "NaN"]])) == [
        Resync("BTCUSDT", ResyncReason.BAD_LEVEL, "rest_snapshot")
    ]  # fmt: skip
    assert sync.on_rest(SPOT_URL, b'{"code":-1003,"msg":"Too many requests"}') == [
        Resync("BTCUSDT", ResyncReason.BAD_SNAPSHOT, "rest_snapshot")
    ]  # fmt: skip
    assert sync.on_rest("https://api.binance.com/api/v3/exchangeInfo", b"{}") == []
    assert sync.on_rest(FUTURES_URL, snapshot(5)) == []  # the other venue's endpoint


def test_crossed_result_resyncs() -> None:
    sync = BinanceBookSync()
    sync.on_rest(SPOT_URL, snapshot(10))
    crossed = sync.on_frame(depth(11, 11, bids=[["101.5", "1"]]))
    assert crossed == Resync("BTCUSDT", ResyncReason.CROSSED, "rest_snapshot")
    assert sync.books.get("BTCUSDT") is None
    # the next event waits for a new snapshot
    assert sync.on_frame(depth(12, 12)) == BookUpdate("BTCUSDT", 12, 1_700_000_000_012, False)


def test_frame_forms_other_frames_requests_and_reconnect() -> None:
    sync = BOOKS["binance"].new(None)
    assert isinstance(sync, BinanceBookSync) and not sync.futures
    assert BOOKS["binance_futures"].new(None).books.max_depth == 1000
    sync.on_rest(SPOT_URL, snapshot(10))
    raw = sync.on_frame(depth(11, 11, bids=[["100.3", "1"]], combined=False))
    assert isinstance(raw, BookUpdate) and raw.applied
    trade = b'{"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","s":"BTCUSDT","p":"1","q":"1"}}'
    ticker = b'{"stream":"btcusdt@bookTicker","data":{"u":9,"s":"BTCUSDT","b":"1","B":"1","a":"2","A":"1"}}'
    assert sync.on_frame(trade) is None and sync.on_frame(ticker) is None
    assert sync.on_frame(b"not json") is None
    request = sync.snapshot_request("BTCUSDT")
    assert (request.path, request.params, request.weight) == (
        "/api/v3/depth", {"symbol": "BTCUSDT", "limit": "1000"}, 50
    )  # fmt: skip
    assert BinanceBookSync(futures=True).snapshot_request("ETHUSDT").path == "/fapi/v1/depth"
    assert sync.reconnect() == [Resync("BTCUSDT", ResyncReason.RECONNECT, "rest_snapshot")]
    assert sync.books.get("BTCUSDT") is None
    assert sync.on_frame(depth(12, 12)) == BookUpdate("BTCUSDT", 12, 1_700_000_000_012, False)


def test_real_capture_values() -> None:
    """NKNUSDT: the buffered 499869750..499869752 is covered by lastUpdateId 499869752 and
    dropped; 499869753..499869754 straddles. Values as the capture gives them (and as
    cryptofeed 3.0.1 reports after that update). LRCBTC: 259345540..259345543 arrives after
    its snapshot (lastUpdateId 259345543) and is dropped (spot: u <= lastUpdateId)."""
    path = shared_fixture("binance/ws/spot_depth_with_rest_snapshots.cryptofeed-2021.jsonl")
    tops: dict[tuple[str, int | None], Any] = {}

    def keep(update: BookUpdate, book: OrderBook) -> None:
        tops[update.symbol, update.sequence] = (
            book.best_bid(), book.best_ask(), book.bid_levels, book.ask_levels
        )  # fmt: skip

    sync = BinanceBookSync(on_applied=keep)
    results: list[Any] = []
    with path.open("rb") as handle:
        for line in handle:
            item = orjson.loads(line)
            if item["dir"] == "http":
                results += sync.on_rest(item["url"], item["frame"])
            elif item["dir"] == "recv":
                results.append(sync.on_frame(item["frame"]))
    nkn = [r for r in results if isinstance(r, BookUpdate) and r.symbol == "NKNUSDT"]
    assert [(r.sequence, r.applied) for r in nkn[:4]] == [
        (499869752, False), (499869752, True), (499869752, False), (499869754, True)
    ]  # fmt: skip
    assert not any(isinstance(r, Resync) for r in results)
    assert sync.books.stats.as_dict() == {"applied": 176, "resyncs": {}, "dropped": {"stale": 5}}
    lrc = [
        (r.sequence, r.applied)
        for r in results
        if isinstance(r, BookUpdate) and r.symbol == "LRCBTC"
    ]
    assert lrc[:5] == [
        (259345539, False), (259345543, True), (259345539, False), (259345543, False),
        (259345545, True),
    ]  # fmt: skip
    first = tops[("NKNUSDT", 499869754)]  # sets bid 0.3517 x 4265, ask 0.3529 x 10968
    assert first == ((0.3521, 672.0), (0.3525, 3959.0), 610, 1000)
    assert tops[("NKNUSDT", 499869752)][2:] == (609, 1000)  # the snapshot's level counts


def test_drop_forgets_the_sync_state() -> None:
    """An idle book dropped: its next event must not land on an empty book as if synced."""
    sync = BinanceBookSync()
    sync.on_rest(SPOT_URL, snapshot(10))
    sync.on_frame(depth(11, 11, bids=[["100.2", "1"]]))
    sync.drop("BTCUSDT")
    assert sync.books.get("BTCUSDT") is None
    assert sync.on_frame(depth(12, 12)) == BookUpdate("BTCUSDT", 12, 1_700_000_000_012, False)
    assert sync.books.get("BTCUSDT") is None


def test_bad_snapshot_on_a_live_book_stops_it() -> None:
    sync = BinanceBookSync()
    sync.on_rest(SPOT_URL, snapshot(10))
    sync.on_frame(depth(11, 11))
    assert sync.on_rest(SPOT_URL, b'{"code":-1003}') == [
        Resync("BTCUSDT", ResyncReason.BAD_SNAPSHOT, "rest_snapshot")
    ]
    assert sync.on_frame(depth(12, 12)) == BookUpdate("BTCUSDT", 12, 1_700_000_000_012, False)
    assert sync.books.get("BTCUSDT") is None


def test_the_snapshot_limit_covers_the_cap_at_its_documented_weight() -> None:
    """/api/v3/depth: 5 (<= 100), 25 (<= 500), 50 (<= 1000), 250 (<= 5000); /fapi/v1/depth:
    2 (<= 50), 5 (100), 10 (500), 20 (1000)."""
    for venue, cap, limit, weight in (
        ("binance", 0, "1000", 50), ("binance", 100, "100", 5), ("binance", 20, "100", 5),
        ("binance", 2000, "5000", 250), ("binance_futures", 0, "1000", 20),
        ("binance_futures", 50, "50", 2), ("binance_futures", 400, "500", 10),
    ):  # fmt: skip
        sync = BOOKS[venue].new(None, cap)
        assert isinstance(sync, BinanceBookSync)
        request = sync.snapshot_request("BTCUSDT")
        assert (request.params["limit"], request.weight) == (limit, weight), (venue, cap)
