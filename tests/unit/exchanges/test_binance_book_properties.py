"""Property: whatever event the stream starts with and whenever the REST snapshot arrives,
Binance sync (spot and USDⓈ-M) ends with exactly the book of applying every event to the
empty book; a snapshot older than the first received event is refused (stale_snapshot)."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from microservices.common.orderbook.sync import BookUpdate, Resync, ResyncReason
from microservices.data_collector.exchanges.binance.book import BinanceBookSync

Side = dict[float, float]
# bids below 100, asks above: a random stream never crosses
LEVEL_SIDES = {"b": range(90, 100), "a": range(101, 111)}

changes = st.lists(st.tuples(st.sampled_from(["b", "a"]), st.integers(0, 9), st.integers(0, 3)),
                   min_size=0, max_size=4)  # fmt: skip
streams = st.lists(st.tuples(st.integers(1, 3), changes), min_size=2, max_size=25)


def events(stream: list[tuple[int, list[Any]]]) -> list[dict[str, Any]]:
    """Depth events with contiguous update ids (U, u, pu) from (id count, changes) pairs."""
    out, last = [], 0
    for count, levels in stream:
        b = [[str(LEVEL_SIDES["b"][i]), str(size)] for side, i, size in levels if side == "b"]
        a = [[str(LEVEL_SIDES["a"][i]), str(size)] for side, i, size in levels if side == "a"]
        out.append({"e": "depthUpdate", "E": 1_700_000_000_000, "s": "X", "U": last + 1,
                    "u": last + count, "pu": last, "b": b, "a": a})  # fmt: skip
        last += count
    return out


def book_after(evs: list[dict[str, Any]]) -> tuple[Side, Side]:
    """The book after `evs`, built independently: dicts, size 0 deletes."""
    bids: Side = {}
    asks: Side = {}
    for ev in evs:
        for side, key in ((bids, "b"), (asks, "a")):
            for price, size in ev[key]:
                if float(size):
                    side[float(price)] = float(size)
                else:
                    side.pop(float(price), None)
    return bids, asks


def snapshot(evs: list[dict[str, Any]]) -> bytes:
    bids, asks = book_after(evs)
    last = evs[-1]["u"] if evs else 0
    return orjson.dumps({"lastUpdateId": last, "bids": [[str(p), str(s)] for p, s in bids.items()],
                         "asks": [[str(p), str(s)] for p, s in asks.items()]})  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(streams, st.integers(0, 30), st.integers(0, 30), st.integers(0, 30), st.booleans())
def test_any_start_and_snapshot_time_gives_the_full_book(
    stream: list[tuple[int, list[Any]]], start: int, taken: int, delay: int, futures: bool
) -> None:
    evs = events(stream)
    start = start % len(evs)  # the first event this connection receives
    taken = -1 + taken % (len(evs) + 1)  # the snapshot is the book after event `taken`
    last_id = evs[taken]["u"] if taken >= 0 else 0
    # it is fetched once the connection has seen event `taken` (or right away)
    arrives = max(taken, start - 1) + 1 + delay % (len(evs) - max(taken, start - 1))
    sync = BinanceBookSync(futures=futures)
    body = snapshot(evs[: taken + 1])
    results: list[Any] = []
    for index in range(start, len(evs)):
        if index == arrives:
            results += sync.on_snapshot("X", body)
        frame = orjson.dumps({"stream": "x@depth@100ms", "data": evs[index]})
        results.append(sync.on_frame(frame))
    if arrives >= len(evs):
        results += sync.on_snapshot("X", body)
    # spot needs U <= lastUpdateId+1 of the first event applied, USDⓈ-M U <= lastUpdateId
    if evs[start]["U"] > last_id + (0 if futures else 1):
        assert Resync("X", ResyncReason.STALE_SNAPSHOT, "rest_snapshot") in results
        assert sync.books.get("X") is None
        return
    assert not any(isinstance(r, Resync) for r in results)
    book = sync.books.get("X")
    assert book is not None
    bids, asks = book_after(evs)
    assert dict(book.bids()) == bids and dict(book.asks()) == asks
    assert all(isinstance(r, BookUpdate) for r in results)
