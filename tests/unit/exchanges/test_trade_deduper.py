"""TradeDeduper: repeats within the last `capacity` ids of a symbol are seen, nothing else."""

from __future__ import annotations

from microservices.data_collector.exchanges.base import TradeDeduper


def test_repeats_are_seen_per_symbol() -> None:
    d = TradeDeduper()
    assert not d.seen("BTCUSDT", "17")
    assert d.seen("BTCUSDT", "17")
    assert not d.seen("ETHUSDT", "17")
    assert not d.seen("BTCUSDT", "a1b2-uuid")
    assert d.seen("BTCUSDT", "a1b2-uuid")


def test_distinct_strings_stay_distinct() -> None:
    d = TradeDeduper()
    assert not d.seen("X", "7")
    for other in ("07", "007", " 7", "7.0", "\u0667", "+7", "0"):
        assert not d.seen("X", other), other
    assert d.seen("X", "0") and d.seen("X", "07") and d.seen("X", "\u0667")


def test_only_the_last_capacity_ids_are_remembered() -> None:
    d = TradeDeduper(capacity=3)
    for trade_id in ("1", "2", "3", "4"):
        assert not d.seen("X", trade_id)
    assert not d.seen("X", "1")  # evicted: the fifth id pushed it out
    assert d.seen("X", "4") and d.seen("X", "3")
