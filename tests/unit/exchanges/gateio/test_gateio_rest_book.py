"""Gate.io v4 listings (the recorded REST answers), REST history parsers, server time and the
`order_book_update` book rules (real captures with their recorded REST snapshots, and
hand-written deltas for every rule)."""

from __future__ import annotations

import io
from pathlib import Path

import orjson
import pytest

from microservices.common.catalog import Catalog
from microservices.common.errors import BadMessage
from microservices.common.instruments import make_instrument
from microservices.common.orderbook.sync import BookUpdate, Resync
from microservices.data_collector.exchanges.gateio.book import GateBookSync
from microservices.data_collector.exchanges.gateio.exchange import GateFutures, GateSpot
from microservices.data_collector.exchanges.gateio.listing import parse_listing_body
from microservices.data_collector.exchanges.gateio.server_time import parse_server_time
from microservices.data_collector.normalize import normalize_file
from tests.fixture_paths import capture_frames, shared_fixture

RECV = 1_700_000_100_000


def test_futures_contracts_listing() -> None:
    body = shared_fixture("gateio/rest/api_v4_futures_usdt_contracts.TRIMMED.cryptofeed-2023.json")
    listing = parse_listing_body(body.read_bytes(), "gateio_futures", futures=True)
    assert [i.venue_symbol for i in listing.instruments] == [
        "KNC_USDT", "OOKI_USDT", "BIT_USDT", "SC_USDT", "ZEC_USDT"]  # fmt: skip
    knc = listing.instruments[0]
    assert (knc.symbol, knc.market, knc.inverse, knc.contract_size) == ("KNCUSDT", "perpetual",
                                                                        False, 1.0)  # fmt: skip
    assert (knc.tick_size, knc.funding_interval_h, knc.status, knc.settle) == (
        0.0001,
        8.0,
        "trading",
        "USDT",
    )
    assert listing.skipped == {}


def test_spot_currency_pairs_listing() -> None:
    body = shared_fixture("gateio/rest/api_v4_spot_currency_pairs.TRIMMED.cryptofeed-2021.json")
    listing = parse_listing_body(body.read_bytes(), "gateio", futures=False)
    assert len(listing.instruments) == 8 and listing.skipped == {}
    iht = listing.instruments[0]  # precision 9, amount_precision 1
    assert (iht.venue_symbol, iht.symbol, iht.quote) == ("IHT_ETH", "IHTETH", "ETH")
    assert iht.tick_size == pytest.approx(1e-9) and iht.lot_size == pytest.approx(0.1)
    error = b'{"label": "TOO_MANY_REQUESTS", "message": "Request Rate limit Exceeded"}'
    assert parse_listing_body(error, "gateio", futures=False).skipped == {"api_error": 1}


def venue() -> GateFutures:
    inst = make_instrument(venue="gateio_futures", venue_symbol="BTC_USDT", base="BTC",
                           quote="USDT", market="perpetual", contract_size=0.0001)  # fmt: skip
    return GateFutures(["BTCUSDT"], "", "", Catalog([inst], listed=["gateio_futures"]))


def test_rest_history_requests_and_parsers() -> None:
    futures = venue()
    request = futures.klines_request("BTCUSDT", 1_700_000_000_000, 1_800_000_000_000)
    assert request.path == "/futures/usdt/candlesticks"
    assert request.params == {"contract": "BTC_USDT", "interval": "1m", "from": "1700000000",
                              "to": str(1_700_000_000 + 999 * 60)}  # fmt: skip
    rows = [{"t": 1700000040, "v": 5000, "o": "10", "h": "12", "l": "9", "c": "11", "sum": "x"},
            {"t": 1700000100, "v": 1, "o": "11", "h": "11", "l": "11", "c": "11"}]  # fmt: skip
    bars = futures.parse_klines("BTCUSDT", rows, RECV)
    assert [(b.open_time_ms, b.volume, b.closed) for b in bars] == [
        (1700000040000, 0.5, True), (1700000100000, pytest.approx(0.0001), False)]  # fmt: skip
    spot = GateSpot(["BTCUSDT"], "", "")
    row = ["1700000040", "300", "11", "12", "9", "10", "27.5", "true"]
    (bar,) = spot.parse_klines("BTCUSDT", [row], RECV)
    assert (bar.open, bar.high, bar.low, bar.close, bar.volume, bar.closed) == (
        10.0,
        12.0,
        9.0,
        11.0,
        27.5,
        True,
    )
    funding = futures.parse_funding_history(
        "BTCUSDT", [{"t": 1700006400, "r": "-0.0002"}, {"t": 1699977600, "r": "0.0001"}], RECV
    )
    assert [(f.ts_ms, f.funding_rate) for f in funding] == [(1699977600000, 0.0001),
                                                           (1700006400000, -0.0002)]  # fmt: skip
    stats = [{"time": 1700000000, "open_interest": 1200, "open_interest_usd": 4100.5}]
    (oi,) = futures.parse_open_interest_history("BTCUSDT", stats, RECV)
    assert (oi.ts_ms, oi.open_interest, oi.open_interest_usd) == (1700000000000, 1200.0, 4100.5)
    tickers = [{"contract": "BTC_USDT", "funding_rate": "0.0001", "mark_price": "30000.1",
                "index_price": "30001", "total_size": "777"}]  # fmt: skip
    (current,) = futures.parse_current_funding("BTCUSDT", tickers, RECV)
    assert (current.funding_rate, current.mark_price, current.index_price) == (
        0.0001,
        30000.1,
        30001.0,
    )
    assert futures.parse_current_open_interest("BTCUSDT", tickers, RECV)[0].open_interest == 777
    assert spot.funding_history_request("BTCUSDT", 0, 1) is None
    with pytest.raises(BadMessage, match="TOO_MANY_REQUESTS"):
        futures.check_rest_payload({"label": "TOO_MANY_REQUESTS", "message": "slow down"})
    assert parse_server_time({"server_time": 1597026383085}) == 1597026383085.0
    with pytest.raises(BadMessage):
        parse_server_time({"server_time": "soon"})


# ------------------------------------------------------------------ books: real frames


def replay(sync: GateBookSync, capture: str, symbol: str, snapshot: str, snap_ms: int) -> None:
    """The symbol's deltas of a capture, with the recorded snapshot where it was taken."""
    body = shared_fixture(snapshot).read_bytes()
    loaded = False
    for text in capture_frames(shared_fixture(capture)):
        if f'"{symbol}"' not in text or '"update"' not in text or "order_book_update" not in text:
            continue
        if not loaded and orjson.loads(text)["result"]["t"] > snap_ms:
            results = sync.on_snapshot(symbol, body)
            assert not any(isinstance(r, Resync) for r in results)
            loaded = True
        result = sync.on_frame(text)
        assert isinstance(result, BookUpdate), result
    assert loaded


def test_futures_capture_syncs_from_its_recorded_snapshot() -> None:
    sync = GateBookSync(futures=True, max_depth=100)
    sync.sizes["RDNT_USDT"] = 10.0
    body = "gateio/rest/api_v4_futures_usdt_order_book.RDNT_USDT.cryptofeed-2023.json"
    replay(sync, "gateio/ws/futures_usdt_v4.cryptofeed-2023.jsonl", "RDNT_USDT", body,
           1684930166384)  # fmt: skip
    stats = sync.books.stats
    # id 203083287: the 9 buffered deltas up to u=203083287 are covered; the next has U=id+1
    assert stats.dropped == {"stale": 9} and dict(stats.resyncs) == {}
    book = sync.books.get("RDNT_USDT")
    assert book is not None and stats.applied > 1


def test_futures_snapshot_levels_in_base_units() -> None:
    sync = GateBookSync(futures=True)
    sync.sizes["RDNT_USDT"] = 10.0
    body = shared_fixture(
        "gateio/rest/api_v4_futures_usdt_order_book.RDNT_USDT.cryptofeed-2023.json"
    )
    (loaded,) = sync.on_snapshot("RDNT_USDT", body.read_bytes())
    assert isinstance(loaded, BookUpdate) and loaded.sequence == 203083287
    book = sync.books.get("RDNT_USDT")
    assert book is not None
    assert book.best_bid() == (0.2969, 53020.0) and book.best_ask() == (0.2974, 8030.0)
    assert (book.bid_levels, book.ask_levels) == (57, 76)


def test_spot_capture_syncs_from_its_recorded_snapshot() -> None:
    sync = GateBookSync()
    replay(sync, "gateio/ws/spot_v4_trades_obupdate_candles_ticker.cryptofeed-2021.jsonl",
           "HAI_ETH", "gateio/rest/api_v4_spot_order_book.HAI_ETH.cryptofeed-2021.json",
           1619093532978)  # fmt: skip
    # snapshot id 2691446 = the first delta's u: dropped; 2691447..2691448 straddles id + 1
    assert sync.books.stats.dropped == {"stale": 1} and dict(sync.books.stats.resyncs) == {}
    book = sync.books.get("HAI_ETH")
    assert book is not None and book.best_bid() is not None


# ------------------------------------------------------------------ books: every rule


def delta(first: int, last: int, bids: list[list[str]], asks: list[list[str]]) -> str:
    result = {"t": 1700000000000 + last, "e": "depthUpdate", "E": 1700000000, "s": "BTC_USDT",
              "U": first, "u": last, "b": bids, "a": asks}  # fmt: skip
    return orjson.dumps({"time": 1700000000, "channel": "spot.order_book_update",
                         "event": "update", "result": result}).decode()  # fmt: skip


SNAPSHOT = orjson.dumps({"id": 100, "current": 1, "update": 1,
                         "bids": [["99", "1"], ["98", "2"]], "asks": [["101", "1"]]})  # fmt: skip


def synced() -> GateBookSync:
    sync = GateBookSync()
    assert sync.on_frame(delta(95, 101, [["99", "3"]], [])) == BookUpdate(
        "BTC_USDT", 101, 1700000000101, applied=False)  # buffered  # fmt: skip
    results = sync.on_snapshot("BTC_USDT", SNAPSHOT)
    assert [r.applied for r in results if isinstance(r, BookUpdate)] == [True, True]
    return sync


def test_buffered_delta_straddling_the_snapshot_applies() -> None:
    book = synced().books.get("BTC_USDT")
    assert book is not None and book.best_bid() == (99.0, 3.0) and book.best_ask() == (101.0, 1.0)


@pytest.mark.parametrize(
    ("first", "last", "outcome"),
    [(102, 103, "applied"), (104, 105, "gap"), (101, 101, "duplicate"), (100, 102, "out_of_order")],
)
def test_chain_rules(first: int, last: int, outcome: str) -> None:
    sync = synced()
    result = sync.on_frame(delta(first, last, [["98", "0"]], []))
    if outcome == "applied":
        assert isinstance(result, BookUpdate) and result.applied and result.sequence == 103
    elif outcome == "duplicate":
        assert isinstance(result, BookUpdate) and not result.applied
        assert sync.books.stats.dropped == {"duplicate": 1}
    else:
        assert isinstance(result, Resync) and result.reason == outcome
        assert result.action == "rest_snapshot" and sync.books.get("BTC_USDT") is None


def test_stale_snapshot_bad_level_crossed_and_bad_snapshot() -> None:
    sync = GateBookSync()
    sync.on_frame(delta(150, 160, [], []))
    (stale,) = [r for r in sync.on_snapshot("BTC_USDT", SNAPSHOT) if isinstance(r, Resync)]
    assert stale.reason == "stale_snapshot"
    bad = synced().on_frame(delta(102, 102, [["99", "NaN"]], []))
    assert isinstance(bad, Resync) and bad.reason == "bad_level"
    crossed = synced().on_frame(delta(102, 102, [["102", "1"]], []))
    assert isinstance(crossed, Resync) and crossed.reason == "crossed"
    error = b'{"label": "INVALID_PARAM_VALUE", "message": "x"}'
    (refused,) = GateBookSync().on_snapshot("BTC_USDT", error)
    assert isinstance(refused, Resync) and refused.reason == "bad_snapshot"
    assert GateBookSync().on_frame('{"channel": "spot.trades", "event": "update"}') is None


def test_snapshot_request_and_recorded_rest_answer() -> None:
    spot, futures = GateBookSync(), GateBookSync(futures=True)
    assert spot.snapshot_request("BTC_USDT").params == {
        "currency_pair": "BTC_USDT", "limit": "100", "with_id": "true"}  # fmt: skip
    assert futures.snapshot_request("BTC_USDT").path == "/futures/usdt/order_book"
    url = (
        "https://api.gateio.ws/api/v4/spot/order_book?currency_pair=BTC_USDT&limit=100&with_id=true"
    )
    (loaded,) = spot.on_rest(url, SNAPSHOT)
    assert isinstance(loaded, BookUpdate) and loaded.snapshot
    assert futures.on_rest(url, SNAPSHOT) == []


def test_bound_exchange_gives_futures_contract_sizes() -> None:
    """The collector's BookFeed binds the venue: sizes come from its listing."""
    sync = GateBookSync(futures=True)
    sync.bind_exchange(venue())  # BTC_USDT: 0.0001 BTC per contract
    body = orjson.dumps({"id": 5, "bids": [{"p": "30000", "s": 25000}], "asks": [
        {"p": "30001", "s": 10}]})  # fmt: skip
    sync.on_snapshot("BTC_USDT", body)
    book = sync.books.get("BTC_USDT")
    assert book is not None
    assert book.best_bid() == (30000.0, 2.5) and book.best_ask() == (30001.0, 0.001)


def test_normalize_books_replays_the_capture_with_its_recorded_snapshot(tmp_path: Path) -> None:
    """`normalize --books`: the futures capture with the RDNT_USDT REST snapshot put where it
    was taken (a `"dir": "http"` line, built here from the two recordings)."""
    capture = shared_fixture("gateio/ws/futures_usdt_v4.cryptofeed-2023.jsonl")
    snapshot = shared_fixture(
        "gateio/rest/api_v4_futures_usdt_order_book.RDNT_USDT.cryptofeed-2023.json"
    ).read_text()
    url = "https://api.gateio.ws/api/v4/futures/usdt/order_book?contract=RDNT_USDT&limit=100&with_id=true"
    http = orjson.dumps({"ts": 1684930166.384, "dir": "http", "url": url, "frame": snapshot})
    lines = capture.read_bytes().splitlines()
    at = next(i for i, line in enumerate(lines) if orjson.loads(line)["ts"] > 1684930166.384)
    path = tmp_path / "gateio_futures_books.jsonl"
    path.write_bytes(b"\n".join([*lines[:at], http, *lines[at:]]) + b"\n")
    out, stats = io.StringIO(), io.StringIO()
    normalize_file("gateio_futures", str(path), out, stats, book_depth=3)
    books = [
        line for line in map(orjson.loads, out.getvalue().splitlines()) if line["type"] == "book"
    ]
    summary = orjson.loads(stats.getvalue())["books"]
    assert summary["resyncs"] == {} and summary["dropped"] == {"stale": 9}
    assert summary["applied"] == len(books) and books[0]["snapshot"] is True
    first = books[0]
    assert (first["venue_symbol"], first["sequence"]) == ("RDNT_USDT", 203083287)
    assert (first["best_bid"], first["best_bid_size"]) == (0.2969, 5302.0)  # contracts: no listing
    assert first["asks"] == [[0.2974, 803.0], [0.2975, 500.0], [0.2976, 8393.0]]
    assert books[1]["sequence"] == 203083299 and books[1]["timestamp"] == 1684930166441


def test_a_refused_book_subscription_drops_the_book_and_asks_for_a_resubscription() -> None:
    """Gate.io answers a book subscription it refuses with an error event echoing the payload:
    the book is dropped (counted `subscribe_failed`) and the channel is resubscribed, a
    capped backoff apart (book_loop) while Gate keeps refusing."""
    from microservices.data_collector.book_feed import BookFeed, BookParams
    from microservices.data_collector.exchanges import venue_specs

    spec = venue_specs()["gateio"].books
    assert spec is not None
    exchange = GateSpot(["BTCUSDT"], ws_url="", rest_url="")
    feed = BookFeed(exchange, spec, BookParams())
    refused = orjson.dumps({
        "time": 1700000000, "channel": "spot.order_book_update", "event": "subscribe",
        "payload": ["BTC_USDT", "100ms"], "error": {"code": 2, "message": "unknown pair"},
        "result": {"status": "fail"},
    })  # fmt: skip
    assert feed.is_book(refused) and feed.on_frame(refused, 1_000) is True
    assert feed.resubscribe_wanted == {"BTC_USDT"} and feed.snapshots_wanted == set()
    assert feed.sync.books.stats.resyncs == {"subscribe_failed": 1}
    frames = [orjson.loads(f) for f in exchange.book_resubscribe("BTC_USDT")]
    assert [(f["event"], f["channel"], f["payload"]) for f in frames] == [
        ("unsubscribe", "spot.order_book_update", ["BTC_USDT", "100ms"]),
        ("subscribe", "spot.order_book_update", ["BTC_USDT", "100ms"]),
    ]
