"""BookFeed: one connection's books between its frames and what the collector sends
(entries at most every interval, whole books for the API, snapshot and resubscribe requests,
idle books dropped), on hand-written Binance and Bybit frames."""

from __future__ import annotations

import orjson

from microservices.data_collector.book_feed import BookFeed, BookParams
from microservices.data_collector.exchanges import venue_specs
from microservices.data_collector.exchanges.binance.spot import Binance
from microservices.data_collector.exchanges.bybit.exchange import Bybit

PARAMS = BookParams(levels=2, interval_ms=250, idle_ms=60_000)


def depth(first: int, last: int, bids: list[list[str]], asks: list[list[str]]) -> str:
    data = {"e": "depthUpdate", "E": 1_700_000_000_000 + last, "s": "BTCUSDT", "U": first,
            "u": last, "b": bids, "a": asks}  # fmt: skip
    return orjson.dumps({"stream": "btcusdt@depth@100ms", "data": data}).decode()


SNAPSHOT = orjson.dumps(
    {"lastUpdateId": 100,
     "bids": [["100.0", "1.0"], ["99.9", "2.0"], ["99.0", "5.0"]],
     "asks": [["100.1", "1.5"], ["100.2", "3.0"], ["101.0", "4.0"]]}
)  # fmt: skip


def binance_feed() -> BookFeed:
    spec = venue_specs()["binance"].books
    assert spec is not None
    return BookFeed(Binance(["BTCUSDT"], ws_url="", rest_url=""), spec, PARAMS)


def test_a_binance_book_asks_its_snapshot_once_and_publishes_at_most_every_interval() -> None:
    feed = binance_feed()
    assert feed.is_book(depth(99, 101, [], [])) and not feed.is_book('{"e":"aggTrade"}')
    assert feed.on_frame(depth(99, 101, [["100.0", "1.2"]], []), 1_000) is True
    assert feed.snapshots_wanted == {"BTCUSDT"} and feed.entries(1_000) == []
    request = feed.snapshot_request("BTCUSDT")
    assert request.path == "/api/v3/depth" and request.params["limit"] == "1000"
    feed.snapshots_wanted.clear()
    feed.in_flight.add("BTCUSDT")
    feed.on_frame(depth(102, 102, [], [["100.1", "0"]]), 1_050)  # still buffering
    assert feed.snapshots_wanted == set()  # asked already
    feed.on_snapshot("BTCUSDT", SNAPSHOT, 1_100)
    [top] = feed.entries(1_100)
    # the snapshot, then 99..101 (bid 100.0 -> 1.2) and 102 (ask 100.1 removed)
    assert top.bids == [(100.0, 1.2), (99.9, 2.0)] and top.asks == [(100.2, 3.0), (101.0, 4.0)]
    assert (top.sequence, top.ts_ms, top.bid_levels, top.ask_levels) == (
        102, 1_700_000_000_102, 3, 2)  # fmt: skip
    # mid 100.1; 10 bps = 0.1001: bids >= 100.0 -> 100 x 1.2; asks <= 100.2001 -> 100.2 x 3
    assert top.bid_depth_10bps == 120.0 and top.ask_depth_10bps == 300.6
    # 50 bps = 0.5005: bids >= 99.5995 (100, 99.9), asks <= 100.6005 (100.2)
    assert top.bid_depth_50bps == 120.0 + 199.8 and top.ask_depth_50bps == 300.6
    feed.on_frame(depth(103, 103, [["99.95", "1.0"]], []), 1_200)
    assert feed.entries(1_300) == []  # 200 ms after the last entry
    [later] = feed.entries(1_350)
    assert later.sequence == 103 and later.bids[1] == (99.95, 1.0)
    assert [t.bid_levels for t in feed.full_books()] == [4] and feed.full_books() == []


def test_a_gap_resyncs_from_a_new_snapshot_and_nothing_is_published_meanwhile() -> None:
    feed = binance_feed()
    feed.on_frame(depth(99, 101, [], []), 1_000)
    feed.on_snapshot("BTCUSDT", SNAPSHOT, 1_010)
    feed.snapshots_wanted.clear()
    feed.entries(1_010)
    feed.on_frame(depth(105, 106, [["100.0", "9.0"]], []), 2_000)  # 102..104 missing
    assert feed.sync.books.stats.resyncs == {"gap": 1}
    assert feed.snapshots_wanted == {"BTCUSDT"} and feed.entries(3_000) == []


def test_a_failed_snapshot_is_asked_again_and_idle_books_are_dropped() -> None:
    feed = binance_feed()
    feed.on_frame(depth(99, 101, [], []), 1_000)
    feed.snapshots_wanted.clear()
    feed.in_flight.add("BTCUSDT")
    feed.snapshot_failed("BTCUSDT")
    assert feed.snapshots_wanted == {"BTCUSDT"} and feed.in_flight == set()
    feed.on_snapshot("BTCUSDT", SNAPSHOT, 1_100)
    assert feed.sync.books.live("BTCUSDT")
    assert feed.drop_idle(60_000) == [] and feed.drop_idle(61_100) == ["BTCUSDT"]
    assert not feed.sync.books.live("BTCUSDT") and feed.entries(70_000) == []


def test_a_crossed_bybit_book_asks_for_a_resubscription() -> None:
    spec = venue_specs()["bybit"].books
    assert spec is not None
    exchange = Bybit(["BTCUSDT"], ws_url="", rest_url="")
    feed = BookFeed(exchange, spec, PARAMS)

    def frame(kind: str, u: int, bids: list[list[str]], asks: list[list[str]]) -> str:
        data = {"s": "BTCUSDT", "b": bids, "a": asks, "u": u, "seq": u}
        return orjson.dumps({"topic": "orderbook.50.BTCUSDT", "type": kind, "ts": 1_700_000_000_000,
                             "data": data}).decode()  # fmt: skip

    assert feed.on_frame(frame("snapshot", 5, [["100", "1"]], [["101", "1"]]), 1_000)
    [top] = feed.entries(1_000)
    assert (top.exchange, top.market, top.bids, top.asks) == (
        "bybit", "perp", [(100.0, 1.0)], [(101.0, 1.0)])  # fmt: skip
    feed.on_frame(frame("delta", 6, [["102", "1"]], []), 2_000)
    assert feed.resubscribe_wanted == {"BTCUSDT"} and feed.sync.books.stats.resyncs == {
        "crossed": 1
    }
    assert [orjson.loads(f)["op"] for f in exchange.book_resubscribe("BTCUSDT")] == [
        "unsubscribe", "subscribe"]  # fmt: skip
    feed.reconnected()
    assert feed.resubscribe_wanted == set()


def test_followed_books_add_one_subscription_per_symbol_on_every_venue() -> None:
    from microservices.data_collector.exchanges.coinbase.exchange import Coinbase

    binance = Binance(["BTCUSDT", "ETHUSDT"], ws_url="ws://b", rest_url="")
    bybit = Bybit(["BTCUSDT"], ws_url="ws://y", rest_url="")
    coinbase = Coinbase(["BTCUSDT"], ws_url="ws://c", rest_url="")
    before = [binance.ws_connections()[0].url, bybit.ws_connections()[0].subscribe]
    for exchange in (binance, bybit, coinbase):
        exchange.books = True
    streams = "/".join(f"{s}@{k}" for s in ("btcusdt", "ethusdt")
                       for k in ("aggTrade", "bookTicker", "kline_1m", "depth@100ms"))  # fmt: skip
    assert binance.ws_connections()[0].url == f"ws://b/stream?streams={streams}"
    assert "depth" not in before[0]
    [frame] = bybit.ws_connections()[0].subscribe
    assert orjson.loads(frame)["args"][-1] == "orderbook.50.BTCUSDT"
    assert before[1] != (frame,)
    [subscribe] = coinbase.ws_connections()[0].subscribe
    assert orjson.loads(subscribe)["channels"] == ["ticker", "matches", "heartbeat", "level2_batch"]


async def test_the_same_book_is_resubscribed_only_after_a_backoff() -> None:
    """A venue that keeps refusing a book is not asked in a loop; once the book is live again
    the next resync resubscribes at once."""
    from types import SimpleNamespace
    from typing import Any

    from microservices.common.clock import now_ms
    from microservices.data_collector.book_loop import BookLoop

    spec = venue_specs()["bybit"].books
    assert spec is not None
    feed = BookFeed(Bybit(["BTCUSDT"], ws_url="", rest_url=""), spec, PARAMS)
    sent: list[tuple[str, ...]] = []

    async def send(frames: tuple[str, ...]) -> bool:
        sent.append(frames)
        return True

    runner: Any = SimpleNamespace(plan=SimpleNamespace(label="bybit#0"), books=feed,
                                  exchange=feed.exchange, send=send)  # fmt: skip
    published: list[Any] = []
    producer: Any = SimpleNamespace(publish=lambda stream, top: published.append(top))
    loop = BookLoop(lambda: [runner], None, producer, None, None, "", 1_000)  # type: ignore[arg-type]
    for _ in range(2):
        feed.resubscribe_wanted.add("BTCUSDT")
        await loop.tick([(runner, feed)])
    assert len(sent) == 1 and feed.resubscribe_wanted == {"BTCUSDT"}  # the second one waits
    snapshot = orjson.dumps({"topic": "orderbook.50.BTCUSDT", "type": "snapshot", "ts": 1,
                             "data": {"s": "BTCUSDT", "b": [["100", "1"]], "a": [["101", "1"]],
                                      "u": 1, "seq": 1}})  # fmt: skip
    feed.on_frame(snapshot, now_ms())
    loop.drop_idle([feed])  # the book is live (and not idle): its backoff is forgotten
    assert feed.sync.books.live("BTCUSDT")
    feed.resubscribe_wanted.add("BTCUSDT")
    await loop.tick([(runner, feed)])
    assert len(sent) == 2 and feed.resubscribe_wanted == set()
    assert [top.bids for top in published] == [[(100.0, 1.0)]]


def test_the_book_router_answers_as_the_spec_router_for_one_and_two_markers() -> None:
    from microservices.common.orderbook.sync import BookSpec
    from microservices.data_collector.book_feed import book_router

    frames = ['{"e":"depthUpdate"}', '{"type":"l2update"}', '{"type":"snapshot"}',
              '{"e":"aggTrade"}', "", '"snapshot"']  # fmt: skip
    for markers in (("depthUpdate",), ("l2update", '"snapshot"')):
        spec = BookSpec(lambda *_: None, 10, markers)  # type: ignore[arg-type]
        reference, fast = spec.router(), book_router(markers)
        for frame in frames:
            for form in (frame, frame.encode()):
                assert fast(form) == reference(form), (markers, form)
    assert book_router(("depthUpdate",))(b'{"e":"depthUpdate"}') is True
    assert book_router(("l2update", '"snapshot"'))('{"type":"ticker"}') is False
