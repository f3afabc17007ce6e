"""`normalize --books`: the book replay of a capture, and THE ORACLE TEST against cryptofeed.

The oracle: replaying binance/ws/spot_depth_with_rest_snapshots.cryptofeed-2021.jsonl (depth
frames with the four REST depth snapshots the recording client fetched, merged in at arrival)
must give, for every applied update, the same sequence, best bid/ask, their sizes and level
counts as cryptofeed 3.0.1's `l2_update` callbacks on the same capture
(binance/reference/cryptofeed-3.0.1.BINANCE.ws.1.0.normalized.jsonl). They agree on all 172
updates, and on the four snapshots. Where the two could have parted, both follow Binance's
documented spot procedure (exchange-protocols.md 1.2): every event buffered before its
symbol's snapshot (NKNUSDT 499869750..499869752, BLZETH ..627, LRCBTC ..539, RUNEEUR ..511)
ends at or before lastUpdateId and is dropped, and LRCBTC 259345540..259345543, which arrives
after its snapshot with `u == lastUpdateId`, is dropped too (spot drops `u <= lastUpdateId`;
only USDⓈ-M, whose rule is `u < lastUpdateId`, would apply it). No update differs, so there
is no disagreement to arbitrate.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from microservices.data_collector import exchanges, normalize
from microservices.data_collector.normalize_books import book_rules, write_books
from tests.fixture_paths import local_fixture, shared_fixture
from tests.unit.platform.throwaway_exchange import PACKAGE as THROWAWAY

CAPTURE = "binance/ws/spot_depth_with_rest_snapshots.cryptofeed-2021.jsonl"
ORACLE = "binance/reference/cryptofeed-3.0.1.BINANCE.ws.1.0.normalized.jsonl"
COMPARED = ("sequence", "best_bid", "best_bid_size", "best_ask", "best_ask_size",
            "bid_levels", "ask_levels")  # fmt: skip


def run(venue: str, path: Path, depth: int | None = 20) -> tuple[list[dict[str, Any]], Any]:
    """(output lines, summary) of normalize_file with the books replayed."""
    out, err = io.StringIO(), io.StringIO()
    assert normalize.normalize_file(venue, str(path), out, stats_to=err, book_depth=depth) == 0
    return [orjson.loads(line) for line in out.getvalue().splitlines()], orjson.loads(
        err.getvalue()
    )


def books_of(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [line for line in lines if line.get("type") == "book"]


def oracle_rows(kind: str) -> Iterator[dict[str, Any]]:
    """cryptofeed's callbacks of `kind`, in our line's terms (venue symbol, floats)."""
    with shared_fixture(ORACLE).open("rb") as handle:
        for raw in handle:
            row = orjson.loads(raw)
            if row["type"] != kind:
                continue
            yield {"venue_symbol": row["symbol"].replace("-", ""), "sequence": int(row["seq"]),
                   "best_bid": float(row["best_bid"]), "best_bid_size": float(row["best_bid_size"]),
                   "best_ask": float(row["best_ask"]), "best_ask_size": float(row["best_ask_size"]),
                   "bid_levels": row["bid_levels"], "ask_levels": row["ask_levels"],
                   "bids": row["bids"], "asks": row["asks"]}  # fmt: skip


def test_oracle_every_update_matches_cryptofeed() -> None:
    lines, summary = run("binance", shared_fixture(CAPTURE))
    ours = [b for b in books_of(lines) if not b["snapshot"]]
    theirs = list(oracle_rows("l2_update"))
    assert len(theirs) == 172
    assert len(ours) == len(theirs)
    for mine, oracle in zip(ours, theirs, strict=True):
        assert mine["venue_symbol"] == oracle["venue_symbol"]
        assert {k: mine[k] for k in COMPARED} == {k: oracle[k] for k in COMPARED}, mine
    assert summary["books"] == {"rules": True, "applied": 176, "resyncs": {},
                                "dropped": {"stale": 5}}  # fmt: skip


def test_oracle_snapshots_match_cryptofeed() -> None:
    lines, _ = run("binance", shared_fixture(CAPTURE), depth=5)
    ours = [b for b in books_of(lines) if b["snapshot"]]
    theirs = list(oracle_rows("l2_snapshot"))
    assert [b["venue_symbol"] for b in ours] == ["NKNUSDT", "BLZETH", "LRCBTC", "RUNEEUR"]
    for mine, oracle in zip(ours, theirs, strict=True):
        assert {k: mine[k] for k in COMPARED} == {k: oracle[k] for k in COMPARED}
        assert mine["bids"] == [[float(p), float(s)] for p, s in oracle["bids"][:5]]
        assert mine["asks"] == [[float(p), float(s)] for p, s in oracle["asks"][:5]]


def test_book_line_fields_and_depth() -> None:
    lines, _ = run("binance", shared_fixture(CAPTURE), depth=3)
    first = next(b for b in books_of(lines) if not b["snapshot"])
    assert first == {
        "type": "book", "venue": "binance", "venue_symbol": "NKNUSDT", "sequence": 499869754,
        "timestamp": 1633998512568, "snapshot": False,
        "best_bid": 0.3521, "best_bid_size": 672.0, "best_ask": 0.3525, "best_ask_size": 3959.0,
        "bid_levels": 610, "ask_levels": 1000,
        "bids": [[0.3521, 672.0], [0.352, 1144.0], [0.3519, 3260.0]],
        "asks": [[0.3525, 3959.0], [0.3526, 3199.0], [0.3527, 4201.0]],  # the snapshot's, unchanged by 499869753..54
    }  # fmt: skip
    snapshot = books_of(lines)[0]
    assert snapshot["snapshot"] and snapshot["timestamp"] == 1633998512320  # capture time
    everything, _ = run("binance", shared_fixture(CAPTURE), depth=0)
    assert len(books_of(everything)[0]["bids"]) == 609


def test_records_are_unchanged_and_come_first(tmp_path: Path) -> None:
    path = shared_fixture(CAPTURE)
    plain, plain_summary = run("binance", path, depth=None)
    with_books, summary = run("binance", path)
    assert with_books[: len(plain)] == plain and books_of(plain) == []
    assert all(line.get("type") == "book" for line in with_books[len(plain) :])
    assert "books" not in plain_summary and summary["emitted"] == plain_summary["emitted"]


BINANCE_CAPTURE = [  # hand-written: a buffered event, the REST snapshot, then live events
    {"ts": 1700000000.1, "dir": "recv", "frame": {"stream": "btcusdt@depth@100ms", "data": {
        "e": "depthUpdate", "E": 1700000000100, "s": "BTCUSDT", "U": 8, "u": 10,
        "b": [["36000.10", "1.0"]], "a": []}}},
    {"ts": 1700000000.2, "dir": "http", "url": "https://api.binance.com/api/v3/depth?symbol=BTCUSDT&limit=1000",
     "frame": '{"lastUpdateId":10,"bids":[["36000.00","2.0"]],"asks":[["36000.50","0.5"]]}'},
    {"ts": 1700000000.3, "dir": "recv", "frame": {"stream": "btcusdt@depth@100ms", "data": {
        "e": "depthUpdate", "E": 1700000000300, "s": "BTCUSDT", "U": 11, "u": 12,
        "b": [["36000.20", "0.7"]], "a": [["36000.50", "0"], ["36000.60", "1.5"]]}}},
    {"ts": 1700000000.4, "dir": "recv", "frame": {"stream": "btcusdt@depth@100ms", "data": {
        "e": "depthUpdate", "E": 1700000000400, "s": "BTCUSDT", "U": 14, "u": 14,
        "b": [], "a": [["36000.70", "1"]]}}},
]  # fmt: skip


def test_hand_written_binance_capture_with_a_gap(tmp_path: Path) -> None:
    """Runs without ../shared: the buffered 8..10 is in the snapshot; 11..12 applies; 14
    skips 13, so the book is dropped (resync by `gap`) and no line follows it."""
    path = tmp_path / "capture.jsonl"
    path.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in BINANCE_CAPTURE))
    lines, summary = run("binance", path)
    tops = [(b["sequence"], b["bids"], b["asks"]) for b in books_of(lines)]
    assert tops == [
        (10, [[36000.0, 2.0]], [[36000.5, 0.5]]),
        (12, [[36000.2, 0.7], [36000.0, 2.0]], [[36000.6, 1.5]]),
    ]  # fmt: skip
    assert summary["books"] == {"rules": True, "applied": 2, "resyncs": {"gap": 1},
                                "dropped": {"stale": 1}}  # fmt: skip


def test_bybit_spot_repo_frames() -> None:
    """The repo's bybit_spot frames hold one orderbook.50 snapshot (the orderbook.1 frames are
    the ticker stream, not a book of this depth)."""
    lines, summary = run("bybit_spot", local_fixture("exchanges/bybit_spot/ws_orderbook.jsonl"))
    assert [(b["venue_symbol"], b["sequence"], b["best_bid"], b["best_ask"]) for b in
            books_of(lines)] == [("BTCUSDT", 59438060, 36512.1, 36512.3)]  # fmt: skip
    assert books_of(lines)[0]["timestamp"] == 1700000000040
    assert summary["books"]["applied"] == 1


def test_every_venue_has_book_rules_and_a_package_without_gives_none() -> None:
    for venue in exchanges.venue_ids():
        factory = book_rules(venue)
        assert factory is not None, venue
        assert factory.new(None).books.stats.applied == 0
    with exchanges.registered(THROWAWAY):
        assert book_rules("throwaway") is None
        assert write_books("throwaway", [b'{"frame": "{}"}'], lambda chunk: None, 20) == {
            "rules": False
        }


@pytest.mark.parametrize("venue", ["binance", "coinbase"])
def test_stdin_replay_matches_the_file(venue: str, tmp_path: Path) -> None:
    path = tmp_path / "capture.jsonl"
    path.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in BINANCE_CAPTURE)
                     if venue == "binance" else COINBASE_CAPTURE)  # fmt: skip
    from_file, _ = run(venue, path)
    out = io.StringIO()
    normalize.normalize_file(venue, "-", out, stdin=io.BytesIO(path.read_bytes()), book_depth=20)
    assert [orjson.loads(line) for line in out.getvalue().splitlines()] == from_file
    assert books_of(from_file)


COINBASE_CAPTURE = (
    b'{"ts": 1700000000.0, "dir": "recv", "frame": "{\\"type\\":\\"snapshot\\",\\"product_id\\":'
    b'\\"BTC-USD\\",\\"bids\\":[[\\"36000.00\\",\\"1\\"]],\\"asks\\":[[\\"36001.00\\",\\"2\\"]]}"}\n'
    b'{"ts": 1700000000.5, "dir": "recv", "frame": "{\\"type\\":\\"l2update\\",\\"product_id\\":'
    b'\\"BTC-USD\\",\\"changes\\":[[\\"sell\\",\\"36000.50\\",\\"0.1\\"]],'
    b'\\"time\\":\\"2023-11-14T22:13:20.500000Z\\"}"}\n'
)
