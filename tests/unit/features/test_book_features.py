"""Order-book features (issue 13): consolidated 10 bps depth and its imbalance, the NBBO
microprice offset and how long the NBBO stays crossed, on hand-worked snapshots."""

from __future__ import annotations

import pytest

from microservices.ai_engine.features.engine import FeatureEngine, FeatureParams
from microservices.common.records import NormalizedSnapshot, VenueQuote
from tests.unit.features.builders import snapshot

BOOK_NAMES = (
    "book_imbalance_10bps", "consolidated_depth_usd_10bps", "microprice_offset_bps",
    "nbbo_crossed_ms",
)  # fmt: skip


def test_consolidated_depth_imbalance_and_microprice() -> None:
    """Depth: binance 600 / 100, bybit 200 / 100 USD, coinbase without a book: 800 vs 200
    -> imbalance 0.6, depth 1,000. NBBO 100.00 x 3 / 100.02 x 1: microprice (100 x 1 +
    100.02 x 3) / 4 = 100.015, mid 100.01 -> +0.005 / 100.01 x 1e4 bps."""
    venues = {
        "binance": VenueQuote(price=100.0, bid_depth_10bps=600.0, ask_depth_10bps=100.0),
        "bybit": VenueQuote(price=100.01, bid_depth_10bps=200.0, ask_depth_10bps=100.0),
        "coinbase": VenueQuote(price=100.02),
    }
    snap = snapshot(venues, best_bid=100.0, best_bid_exchange="binance", best_bid_size=3.0,
                    best_ask=100.02, best_ask_exchange="bybit", best_ask_size=1.0)  # fmt: skip
    values = FeatureEngine(FeatureParams()).update(snap).values
    assert values["book_imbalance_10bps"] == pytest.approx(0.6)
    assert values["consolidated_depth_usd_10bps"] == 1_000.0
    assert values["microprice_offset_bps"] == pytest.approx(0.005 / 100.01 * 1e4)
    assert values["nbbo_crossed_ms"] == 0.0


def test_without_books_every_book_feature_is_zero() -> None:
    snap = snapshot({"binance": 100.0, "bybit": 100.1}, best_bid=100.0, best_ask=100.1)
    values = FeatureEngine(FeatureParams()).update(snap).values
    assert [values[name] for name in BOOK_NAMES] == [0.0, 0.0, 0.0, 0.0]


def nbbo_at(at: int, bid: float, ask: float, bid_venue: str = "binance",
            ask_venue: str = "bybit") -> NormalizedSnapshot:  # fmt: skip
    return snapshot({"binance": 100.0, "bybit": 100.0}, at, best_bid=bid, best_ask=ask,
                    best_bid_exchange=bid_venue, best_ask_exchange=ask_venue)  # fmt: skip


def test_nbbo_crossed_ms_measures_the_current_crossing() -> None:
    engine = FeatureEngine(FeatureParams())
    sequence = [
        (nbbo_at(0, 100.0, 100.02), 0.0),  # not crossed
        (nbbo_at(250, 100.05, 100.02), 0.0),  # crossed: starts now
        (nbbo_at(500, 100.05, 100.02), 250.0),
        (nbbo_at(750, 100.02, 100.02), 500.0),  # locked across venues still counts
        (nbbo_at(1_000, 100.0, 100.02), 0.0),  # over
        (nbbo_at(1_250, 100.05, 100.02), 0.0),  # a new crossing
        (nbbo_at(1_400 - 200, 100.05, 100.02), 0.0),  # late, before the crossing started
        (nbbo_at(1_500, 100.05, 100.02), 250.0),
        (nbbo_at(1_450, 100.05, 100.02), 200.0),  # late, inside it: scored, not recorded
        (nbbo_at(1_750, 100.05, 100.02, "bybit", "bybit"), 0.0),  # one venue: not across
        (nbbo_at(2_000, 100.05, 100.02), 0.0),
    ]
    got = [engine.update(snap).values["nbbo_crossed_ms"] for snap, _ in sequence]
    assert got == [expected for _, expected in sequence]
