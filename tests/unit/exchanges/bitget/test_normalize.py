"""`normalize --venue bitget|bitget_spot` (and `--books`) on the real 2024 v2 frames of
../shared/fixtures/bitget: exact records, and the v1 recordings recognised as nothing."""

from __future__ import annotations

import io
from typing import Any

import orjson

from microservices.data_collector import normalize
from tests.fixture_paths import shared_fixture

CAPTURE = "bitget/ws/tardis-node_mappers-test_samples.jsonl"


def run(venue: str, relative: str, depth: int | None = 5) -> tuple[list[dict[str, Any]], Any]:
    out, stats = io.StringIO(), io.StringIO()
    path = str(shared_fixture(relative))
    normalize.normalize_file(venue, path, out, stats_to=stats, book_depth=depth)
    return [orjson.loads(line) for line in out.getvalue().splitlines()], orjson.loads(
        stats.getvalue()
    )


def test_spot_trades_and_book() -> None:
    lines, summary = run("bitget_spot", CAPTURE)
    trades = [(r["venue_symbol"], r["price"], r["size"], r["side"], r["trade_id"]) for r in lines
              if r.get("type") == "trade"]  # fmt: skip
    assert trades == [("BTCUSDT", "72389.99", "0.001373", "buy", "1235671058980749319"),
                      ("SNEKUSDT", "0.0010074", "23617.11", "sell", "1235670809402884097"),
                      ("RENDERUSDT", "4.987", "22.75", "sell", "1235671063632220170")]  # fmt: skip
    (book,) = [r for r in lines if r.get("type") == "book"]
    assert (book["venue_symbol"], book["snapshot"], book["timestamp"]) == (
        "BRETTUSDT", True, 1_730_332_800_391)  # fmt: skip
    assert book["bids"] == [[0.09694, 1213.91]] and book["asks"] == [[0.09707, 1600.0],
                                                                     [0.09711, 511.87]]  # fmt: skip
    assert summary["emitted"] == {"trade": 3}
    assert summary["books"]["dropped"] == {"before_snapshot": 1}  # LMWRUSDT's update
    assert "unknown_symbol" not in summary["rejected"]


def test_futures_ticker_funding_open_interest_and_book() -> None:
    lines, summary = run("bitget", CAPTURE)
    ticker, funding, oi, book = lines
    assert (ticker["type"], ticker["bid"], ticker["ask"], ticker["last"]) == (
        "ticker", "0.4705", "0.4708", "0.4706")  # fmt: skip
    assert (funding["funding_rate"], funding["next_funding_time"], funding["mark_price"]) == (
        "0.0001", "1730361600.000", "0.4705")  # fmt: skip
    assert (oi["open_interest"], oi["timestamp"]) == ("8572031.1", "1730332823.155")
    assert (book["venue_symbol"], book["bids"]) == ("BELUSDT", [[0.542, 468.0], [0.5419, 1576.0]])
    assert summary["emitted"] == {"ticker": 1, "funding": 1, "open_interest": 1}
    assert set(summary["rejected"]) == {"ignored", "unknown_topic"}  # other markets, v3


def test_v1_recordings_are_recognised_as_nothing() -> None:
    for venue, relative in (
        ("bitget", "bitget/ws/LEGACY_v1_mix.cryptofeed-2022.jsonl"),
        ("bitget_spot", "bitget/ws/LEGACY_v1_spot.cryptofeed-2022.jsonl"),
    ):
        lines, summary = run(venue, relative, depth=None)  # fmt: skip
        assert lines == [] and summary["frames"] > 100
