"""Bitget v2 `books` rules (book.py): the checksum formula on the documentation's two
examples, snapshot and update merging, `seq` order, a checksum mismatch resyncing by
resubscription, crossed and malformed frames, other markets' frames, and the real 2024
frames of ../shared/fixtures/bitget (their snapshots state checksum 0)."""

from __future__ import annotations

import zlib
from typing import Any

import orjson
import pytest

from microservices.common.orderbook.sync import BookUpdate, Resync, ResyncReason
from microservices.data_collector.exchanges.bitget import PACKAGE
from microservices.data_collector.exchanges.bitget.book import BitgetBookSync, checksum
from microservices.data_collector.exchanges.bitget.exchange import Bitget, BitgetSpot
from tests.fixture_paths import shared_fixture, tardis_frames


def signed(text: str) -> int:
    crc = zlib.crc32(text.encode())
    return crc - 2**32 if crc >= 2**31 else crc


def test_checksum_interleaves_bids_and_asks_as_documented() -> None:
    # Bitget "Depth Channel": more than 25 levels, and a side shorter than the other
    bids, asks = [("43231.1", "4"), ("43231", "6")], [("43232.8", "9"), ("43232.9", "8")]
    assert checksum(bids, asks) == signed("43231.1:4:43232.8:9:43231:6:43232.9:8")
    short = checksum([("3366.1", "7")], [("3366.8", "9"), ("3368", "8"), ("3372", "8")])
    assert short == signed("3366.1:7:3366.8:9:3368:8:3372:8")


def test_checksum_covers_25_levels_and_is_signed() -> None:
    bids = [(f"{100 - i}", "1") for i in range(30)]
    asks = [(f"{101 + i}", "2") for i in range(30)]
    text = ":".join(f"{100 - i}:1:{101 + i}:2" for i in range(25))
    assert checksum(bids, asks) == signed(text)
    # CRC32("1:1") is 0xAE9F88F6 = 2,929,690,870 unsigned: above 2^31, so negative
    assert zlib.crc32(b"1:1") == 0xAE9F88F6
    assert checksum([("1", "1")], []) == 0xAE9F88F6 - 2**32 == -1_365_276_426


def book_frame(action: str, bids: list[list[str]], asks: list[list[str]], crc: int | None = None,
               seq: int | None = None, inst_type: str = "USDT-FUTURES",
               symbol: str = "BTCUSDT") -> str:  # fmt: skip
    """A frame whose checksum is right for `book` after it unless `crc` is given."""
    data: dict[str, Any] = {"asks": asks, "bids": bids, "checksum": 0 if crc is None else crc,
                            "ts": "1700000000000"}  # fmt: skip
    if seq is not None:
        data["seq"] = seq
    arg = {"instType": inst_type, "channel": "books", "instId": symbol}
    return orjson.dumps({"action": action, "arg": arg, "data": [data], "ts": 1}).decode()


SNAP_BIDS = [["100.10", "1.500"], ["100.0", "2"]]
SNAP_ASKS = [["100.20", "0.5"], ["100.3", "4.25"]]
AFTER = signed("100.10:1.500:100.20:0.5:100.0:2:100.3:4.25")


def loaded() -> BitgetBookSync:
    sync = BitgetBookSync("USDT-FUTURES")
    result = sync.on_frame(book_frame("snapshot", SNAP_BIDS, SNAP_ASKS, seq=10))
    assert isinstance(result, BookUpdate) and result.applied and result.snapshot
    return sync


def test_snapshot_then_updates_keep_the_strings_for_the_checksum() -> None:
    sync = loaded()
    # a new bid, a deleted ask, a changed size: the strings stay as sent ("1.500", "0.50")
    update = book_frame("update", [["100.15", "0.50"], ["100.0", "0"]], [["100.20", "0.7"]],
                        signed("100.15:0.50:100.20:0.7:100.10:1.500:100.3:4.25"), seq=11)  # fmt: skip
    result = sync.on_frame(update)
    assert result == BookUpdate("BTCUSDT", 11, 1_700_000_000_000, applied=True)
    book = sync.books.get("BTCUSDT")
    assert book is not None
    assert book.bids() == [(100.15, 0.5), (100.1, 1.5)] and book.asks() == [(100.2, 0.7),
                                                                           (100.3, 4.25)]  # fmt: skip
    assert sync.books.stats.applied == 2


def test_a_checksum_mismatch_resyncs_by_resubscribing() -> None:
    sync = loaded()
    result = sync.on_frame(book_frame("update", [["100.11", "1"]], [], AFTER, seq=11))
    assert result == Resync("BTCUSDT", ResyncReason.CHECKSUM, "resubscribe")
    assert sync.books.get("BTCUSDT") is None
    assert sync.on_frame(book_frame("update", [], [], AFTER, seq=12)) == BookUpdate(
        "BTCUSDT", 12, None, applied=False
    )  # waits for the resubscription's snapshot
    assert sync.books.stats.dropped == {"before_snapshot": 1}
    again = sync.on_frame(book_frame("snapshot", SNAP_BIDS, SNAP_ASKS, AFTER, seq=13))
    assert isinstance(again, BookUpdate) and again.applied  # a stated snapshot sum is checked


def test_a_snapshot_with_a_wrong_stated_checksum_is_refused() -> None:
    sync = BitgetBookSync("USDT-FUTURES")
    result = sync.on_frame(book_frame("snapshot", SNAP_BIDS, SNAP_ASKS, AFTER + 1))
    assert isinstance(result, Resync) and result.reason == ResyncReason.CHECKSUM


def test_seq_must_increase() -> None:
    sync = loaded()
    same = book_frame("update", [], [], AFTER, seq=10)
    assert sync.on_frame(same) == BookUpdate("BTCUSDT", 10, None, applied=False)
    assert sync.books.stats.dropped == {"out_of_order": 1}
    no_seq = sync.on_frame(book_frame("update", [], [], AFTER))  # older frames had no seq
    assert isinstance(no_seq, BookUpdate) and no_seq.applied


def test_crossed_and_malformed_frames_resync() -> None:
    sync = loaded()
    crossed_crc = signed("100.25:1:100.20:0.5:100.10:1.500:100.3:4.25:100.0:2")
    crossed = sync.on_frame(book_frame("update", [["100.25", "1"]], [], crossed_crc, seq=11))
    assert crossed == Resync("BTCUSDT", ResyncReason.CROSSED, "resubscribe")
    sync = loaded()
    bad = sync.on_frame(book_frame("update", [["NaN", "1"]], [], AFTER, seq=11))
    assert bad == Resync("BTCUSDT", ResyncReason.BAD_LEVEL, "resubscribe")
    assert sync.books.get("BTCUSDT") is None


def test_other_frames_are_not_book_frames() -> None:
    sync = loaded()
    spot = book_frame("update", [["1", "1"]], [], seq=99, inst_type="SPOT")
    books1 = spot.replace('"SPOT","channel":"books"', '"USDT-FUTURES","channel":"books1"')
    ack = orjson.dumps(
        {
            "event": "subscribe",
            "arg": {"instType": "USDT-FUTURES", "channel": "books", "instId": "BTCUSDT"},
        }
    )
    for text in (spot, books1, ack.decode(), "pong"):
        assert sync.on_frame(text) is None
    assert sync.books.live("BTCUSDT")


def test_reconnect_and_drop_forget_the_books() -> None:
    sync = loaded()
    assert sync.reconnect() == [Resync("BTCUSDT", ResyncReason.RECONNECT, "resubscribe")]
    sync = loaded()
    sync.drop("BTCUSDT")
    assert sync.on_frame(book_frame("update", [], [], AFTER, seq=11)) == BookUpdate(
        "BTCUSDT", 11, None, applied=False)  # fmt: skip


def test_a_deep_book_keeps_its_checksum_through_the_depth_cap() -> None:
    sync = BitgetBookSync("SPOT", max_depth=30)
    bids = [[f"{1000 - i}.5", "1"] for i in range(40)]
    asks = [[f"{1001 + i}.5", "2"] for i in range(40)]
    assert isinstance(sync.on_frame(book_frame("snapshot", bids, asks, inst_type="SPOT")),
                      BookUpdate)  # fmt: skip
    for step in range(1, 200):  # churn the top level: the strings' table stays bounded
        size = f"{step}.0"
        expected = checksum([("1000.5", size), *[(b[0], b[1]) for b in bids[1:25]]],
                            [(a[0], a[1]) for a in asks[:25]])  # fmt: skip
        result = sync.on_frame(book_frame("update", [["1000.5", size]], [], expected,
                                          inst_type="SPOT"))  # fmt: skip
        assert isinstance(result, BookUpdate) and result.applied, step
    assert sync.books.get("BTCUSDT") is not None
    assert sum(len(side) for side in sync._strings["BTCUSDT"]) <= 4 * 30 + 2


def test_the_real_2024_frames() -> None:
    capture = shared_fixture("bitget/ws/tardis-node_mappers-test_samples.jsonl")
    frames = [f for f, _ in tardis_frames(capture, "bitget-futures messages")]
    spec = PACKAGE.venues[0].books
    assert spec is not None and PACKAGE.venues[0].venue == "bitget"
    sync = spec.new()
    assert isinstance(sync, BitgetBookSync)
    results = [r for r in (sync.on_frame(f) for f in frames) if r is not None]
    snapshot, early = results
    assert isinstance(snapshot, BookUpdate) and snapshot.snapshot  # BELUSDT, checksum 0
    book = sync.books.get("BELUSDT")
    assert book is not None and book.bids() == [(0.542, 468.0), (0.5419, 1576.0)]
    assert book.asks() == [(0.5426, 51.0)]
    assert early == BookUpdate("AXSUSDT", None, None, applied=False)  # before its snapshot


@pytest.mark.parametrize(("exchange", "inst_type"), [(Bitget, "USDT-FUTURES"),
                                                     (BitgetSpot, "SPOT")])  # fmt: skip
def test_the_exchange_resubscribes_books(exchange: type[Bitget], inst_type: str) -> None:
    venue = exchange(["BTCUSDT"], "wss://x", "https://x")
    unsub, sub = (orjson.loads(f) for f in venue.book_resubscribe("BTCUSDT"))
    arg = {"instType": inst_type, "channel": "books", "instId": "BTCUSDT"}
    assert unsub == {"op": "unsubscribe", "args": [arg]}
    assert sub == {"op": "subscribe", "args": [arg]}
