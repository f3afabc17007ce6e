"""OKX v5 `books`: the CRC32 checksum verified on every real frame of the 2022 capture (290
frames, three books, no seqId yet), and every rule on hand-written frames: snapshot, the
seqId/prevSeqId chain (gap, unchanged heartbeat, maintenance reset), updates before a
snapshot, bad levels, a checksum mismatch, the deprecated checksum 0, a crossed book, a cap
below the 25 checked levels, a reconnect."""

from __future__ import annotations

import zlib
from typing import Any

import orjson
import pytest

from microservices.common.orderbook.sync import BookUpdate, Resync, ResyncReason
from microservices.data_collector.exchanges.okx.book import BOOKS, OkxBookSync, checksum
from tests.fixture_paths import capture_frames, shared_fixture
from tests.unit.exchanges.okx.helpers import listed

CAPTURE = "okx/ws/v5_public_tickers_trades_books.cryptofeed-2022.jsonl"
TS = 1_700_000_000_000
BIDS = [["100.5", "3", "0", "1"], ["100.4", "1.50", "0", "2"]]
ASKS = [["100.6", "2", "0", "1"], ["100.8", "0.1", "0", "1"]]


def crc_of(bids: list[list[str]], asks: list[list[str]]) -> int:
    """The checksum computed by hand: bid, ask, bid, ask... as `px:sz`, signed 32 bits (as
    many bids as asks)."""
    bid_texts = [f"{b[0]}:{b[1]}" for b in bids]
    ask_texts = [f"{a[0]}:{a[1]}" for a in asks]
    text = ":".join(x for pair in zip(bid_texts, ask_texts, strict=True) for x in pair)
    unsigned = zlib.crc32(text.encode())
    return unsigned - 2**32 if unsigned >= 2**31 else unsigned


def frame(action: str, bids: Any, asks: Any, seq: int | None = None, prev: int | None = None,
          crc: int = 0, symbol: str = "BTC-USDT") -> bytes:  # fmt: skip
    data: dict[str, Any] = {"asks": asks, "bids": bids, "ts": str(TS), "checksum": crc}
    if seq is not None:
        data |= {"seqId": seq, "prevSeqId": prev}
    return orjson.dumps({"arg": {"channel": "books", "instId": symbol}, "action": action,
                         "data": [data]})  # fmt: skip


def applied(result: Any) -> bool:
    return isinstance(result, BookUpdate) and result.applied


def resynced(result: Any, reason: ResyncReason) -> bool:
    return isinstance(result, Resync) and result.reason == reason and result.action == "resubscribe"


def test_checksum_formula_by_hand() -> None:
    # 2 bids and 2 asks: "100.5:3:100.6:2:100.4:1.50:100.8:0.1", strings exactly as sent
    text = "100.5:3:100.6:2:100.4:1.50:100.8:0.1"
    expected = zlib.crc32(text.encode())
    assert checksum(["100.5:3", "100.4:1.50"], ["100.6:2", "100.8:0.1"]) == expected - 2**32 * (
        expected >= 2**31
    )
    # a side that runs out leaves the other's levels in order
    assert checksum(["1:1"], ["2:1", "3:1"]) == zlib.crc32(b"1:1:2:1:3:1") - 2**32 * (
        zlib.crc32(b"1:1:2:1:3:1") >= 2**31
    )


def test_checksum_of_every_real_frame() -> None:
    """Every snapshot and update of the capture, applied in order, matches its checksum."""
    sync = OkxBookSync()
    results = [sync.on_frame(f) for f in capture_frames(shared_fixture(CAPTURE))]
    books = [r for r in results if r is not None]
    assert len(books) == 290 and all(applied(r) for r in books)
    assert sum(1 for r in books if isinstance(r, BookUpdate) and r.snapshot) == 3
    assert sync.books.stats.resyncs == {} and sync.books.stats.applied == 290
    btc = sync.books.get("BTC-USDT")
    assert btc is not None and btc.bid_levels == 400 and btc.ask_levels == 400


def test_a_corrupted_real_frame_fails_its_checksum() -> None:
    frames = list(capture_frames(shared_fixture(CAPTURE)))
    first_update = next(i for i, f in enumerate(frames) if '"action":"update"' in f)
    sync = OkxBookSync()
    for f in frames[:first_update]:
        sync.on_frame(f)
    msg = orjson.loads(frames[first_update])  # BTC-USD-220527: ask 30261 size "4"
    assert msg["data"][0]["asks"][1] == ["30261", "4", "0", "1"]
    msg["data"][0]["asks"][1][1] = "5"
    result = sync.on_frame(orjson.dumps(msg))
    assert resynced(result, ResyncReason.CHECKSUM)
    assert sync.books.get("BTC-USD-220527") is None


def test_snapshot_update_and_sequence_chain() -> None:
    sync = OkxBookSync()
    snap = sync.on_frame(frame("snapshot", BIDS, ASKS, 100, -1, crc_of(BIDS, ASKS)))
    assert applied(snap) and isinstance(snap, BookUpdate) and snap.sequence == 100
    bids = [["100.5", "0", "0", "0"], ["100.45", "7", "0", "3"]]
    after_bids = [["100.45", "7", "0", "3"], ["100.4", "1.50", "0", "2"]]
    result = sync.on_frame(frame("update", bids, [], 107, 100, crc_of(after_bids, ASKS)))
    assert applied(result) and isinstance(result, BookUpdate) and result.sequence == 107
    book = sync.books.get("BTC-USDT")
    assert book is not None and book.best_bid() == (100.45, 7.0) and book.best_ask() == (100.6, 2)
    # nothing changed: equal ids, no levels (OKX's keep-alive of a quiet book)
    quiet = sync.on_frame(frame("update", [], [], 107, 107))
    assert isinstance(quiet, BookUpdate) and not quiet.applied
    assert sync.books.stats.dropped == {"unchanged": 1}
    # a maintenance reset: seqId below prevSeqId, chained on the last id, then from it
    assert applied(sync.on_frame(frame("update", [["100.1", "1", "0", "1"]], [], 3, 107)))
    assert applied(sync.on_frame(frame("update", [["100.1", "2", "0", "1"]], [], 9, 3)))


def test_a_gap_resyncs_and_the_next_snapshot_recovers() -> None:
    sync = OkxBookSync()
    sync.on_frame(frame("snapshot", BIDS, ASKS, 100, -1))
    assert resynced(sync.on_frame(frame("update", [], ASKS[:1], 120, 110)), ResyncReason.GAP)
    assert sync.books.get("BTC-USDT") is None
    late = sync.on_frame(frame("update", [], ASKS[:1], 130, 120))
    assert isinstance(late, BookUpdate) and not late.applied  # waits for the snapshot
    assert sync.books.stats.dropped == {"before_snapshot": 1}
    assert applied(sync.on_frame(frame("snapshot", BIDS, ASKS, 200, -1)))
    assert sync.books.stats.resyncs == {"gap": 1}


def test_bad_levels_resync_and_are_never_applied_in_part() -> None:
    sync = OkxBookSync()
    sync.on_frame(frame("snapshot", BIDS, ASKS, 1, -1))
    bad = frame("update", [["100.45", "7", "0", "1"], ["nan", "1", "0", "1"]], [], 2, 1)
    assert resynced(sync.on_frame(bad), ResyncReason.BAD_LEVEL)
    sync.on_frame(frame("snapshot", BIDS, ASKS, 3, -1))
    negative = frame("update", [["100.4", "-1", "0", "1"]], [], 4, 3)
    assert resynced(sync.on_frame(negative), ResyncReason.BAD_LEVEL)
    sync.on_frame(frame("snapshot", BIDS, ASKS, 5, -1))
    wrong_type = orjson.dumps(
        {
            "arg": {"channel": "books", "instId": "BTC-USDT"},
            "action": "update",
            "data": [{"asks": [[1, 2]], "bids": []}],
        }
    )
    assert resynced(sync.on_frame(wrong_type), ResyncReason.BAD_LEVEL)


def test_crossed_result_resyncs() -> None:
    sync = OkxBookSync()
    sync.on_frame(frame("snapshot", BIDS, ASKS, 1, -1))
    assert resynced(sync.on_frame(frame("update", [["100.7", "1", "0", "1"]], [], 2, 1)),
                    ResyncReason.CROSSED)  # fmt: skip


def test_deprecated_zero_checksum_and_a_small_cap_are_not_checked() -> None:
    sync = OkxBookSync()
    assert applied(sync.on_frame(frame("snapshot", BIDS, ASKS, 1, -1, crc=0)))
    capped = OkxBookSync(max_depth=10)  # the top 25 are not kept: no verification
    assert not capped.verify
    assert applied(capped.on_frame(frame("snapshot", BIDS, ASKS, 1, -1, crc=12345)))
    checked = OkxBookSync(max_depth=25)
    assert resynced(checked.on_frame(frame("snapshot", BIDS, ASKS, 1, -1, crc=12345)),
                    ResyncReason.CHECKSUM)  # fmt: skip


def test_other_frames_are_not_book_frames() -> None:
    sync = OkxBookSync()
    ack = b'{"event":"subscribe","arg":{"channel":"books","instId":"BTC-USDT"},"connId":"1"}'
    books5 = frame("snapshot", BIDS, ASKS).replace(b'"books"', b'"books5"')
    assert sync.on_frame(ack) is None and sync.on_frame(books5) is None
    assert sync.on_frame(b"pong") is None and sync.on_rest("x", b"{}") == []
    assert BOOKS["okx"].router()(frame("snapshot", BIDS, ASKS))
    assert not BOOKS["okx"].router()(b'{"arg":{"channel":"trades","instId":"BTC-USDT"}}')


def test_reconnect_and_drop() -> None:
    sync = OkxBookSync()
    sync.on_frame(frame("snapshot", BIDS, ASKS, 1, -1))
    sync.on_frame(frame("snapshot", BIDS, ASKS, 1, -1, symbol="ETH-USDT"))
    assert [r.symbol for r in sync.reconnect()] == ["BTC-USDT", "ETH-USDT"]
    assert sync.books.stats.resyncs == {"reconnect": 2}
    sync.on_frame(frame("snapshot", BIDS, ASKS, 1, -1))
    sync.drop("BTC-USDT")
    late = sync.on_frame(frame("update", BIDS[:1], [], 2, 1))
    assert isinstance(late, BookUpdate) and not late.applied


def test_swap_sizes_in_base_units_given_the_listing() -> None:
    """BTC-USDT-SWAP: 0.01 BTC a contract; BTC-USD-SWAP: 100 USD a contract, so 10 contracts
    at 50,000 are 10 x 100 / 50,000 = 0.02 BTC. The checksum still covers the sizes as sent."""
    bids, asks = [["50000", "10", "0", "1"]], [["50001", "12", "0", "1"]]
    sync = OkxBookSync()
    sync.bind_exchange(listed())
    sync.on_frame(frame("snapshot", bids, asks, 1, -1, crc_of(bids, asks), "BTC-USDT-SWAP"))
    sync.on_frame(frame("snapshot", bids, asks, 1, -1, crc_of(bids, asks), "BTC-USD-SWAP"))
    linear, inverse = sync.books.get("BTC-USDT-SWAP"), sync.books.get("BTC-USD-SWAP")
    assert linear is not None and inverse is not None
    assert linear.best_bid() == (50000.0, pytest.approx(0.1))
    assert linear.best_ask() == (50001.0, pytest.approx(0.12))
    assert inverse.best_bid() == (50000.0, pytest.approx(0.02))
    assert inverse.best_ask() == (50001.0, pytest.approx(12 * 100 / 50001))
    spot = OkxBookSync()
    spot.bind_exchange(listed("okx_spot"))
    spot.on_frame(frame("snapshot", bids, asks, 1, -1, crc_of(bids, asks)))
    book = spot.books.get("BTC-USDT")
    assert book is not None and book.best_bid() == (50000.0, 10.0)
