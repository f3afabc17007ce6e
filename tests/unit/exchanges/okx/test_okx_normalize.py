"""`cross-exchange normalize --venue okx|okx_spot [--books]` on the real 2022 OKX capture
(one public connection carrying spot BTC-USDT, the inverse swap UNI-USD-SWAP and the dated
future BTC-USD-220527): each venue emits its instruments' records with exact values, and the
books of all three replay with every checksum matching (no seqId in 2022 frames)."""

from __future__ import annotations

import io
from typing import Any

import orjson
import pytest

from microservices.data_collector import normalize
from tests.fixture_paths import shared_fixture

CAPTURE = "okx/ws/v5_public_tickers_trades_books.cryptofeed-2022.jsonl"


def run(venue: str, depth: int | None = 5) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    out, err = io.StringIO(), io.StringIO()
    path = str(shared_fixture(CAPTURE))
    assert normalize.normalize_file(venue, path, out, stats_to=err, book_depth=depth) == 0
    return [orjson.loads(x) for x in out.getvalue().splitlines()], orjson.loads(err.getvalue())


def test_spot_records_and_books() -> None:
    lines, summary = run("okx_spot")
    assert summary["emitted"] == {"ticker": 25, "trade": 69}
    assert summary["rejected"] == {"ignored": 308, "unknown_symbol": 8}  # acks and books
    assert summary["books"] == {"rules": True, "applied": 290, "resyncs": {}, "dropped": {}}
    ticker = next(x for x in lines if x["type"] == "ticker")
    assert (ticker["symbol"], ticker["bid"], ticker["bid_size"], ticker["ask"]) == (
        "BTCUSDT",
        "30228.6",
        "0.23393",
        "30228.7",
    )
    trade = next(x for x in lines if x["type"] == "trade")
    assert (trade["trade_id"], trade["price"], trade["size"], trade["side"]) == (
        "338476307",
        "30236.0",
        "0.0002",
        "buy",
    )
    book = next(x for x in lines if x["type"] == "book" and x["venue_symbol"] == "BTC-USDT")
    assert (book["snapshot"], book["best_bid"], book["best_ask"], book["best_ask_size"]) == (
        True,
        30243.4,
        30243.5,
        1.44679,
    )
    assert (book["bid_levels"], book["ask_levels"]) == (400, 400)


def test_swap_records_in_base_units() -> None:
    lines, summary = run("okx", depth=None)
    assert summary["emitted"] == {"ticker": 1, "trade": 1}  # UNI-USD-SWAP
    trade = next(x for x in lines if x["type"] == "trade")
    assert (trade["symbol"], trade["group"], trade["quote"], trade["market"]) == (
        "UNIUSD.INV",
        "UNIUSDT",
        "USD",
        "perp",
    )
    assert float(trade["size"]) == pytest.approx(100 * 10 / 5.123)  # 100 x 10 USD at 5.123
    assert "books" not in summary
