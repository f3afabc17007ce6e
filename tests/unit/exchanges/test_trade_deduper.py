"""TradeDeduper: repeats are seen until `capacity` later ids of the symbol or `max_age_s` have
passed (whichever first; at most 2 x capacity ids kept), nothing else."""

from __future__ import annotations

from microservices.data_collector.exchanges.dedupe import TradeDeduper


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


def test_ids_are_remembered_for_capacity_later_ids() -> None:
    d = TradeDeduper(capacity=3)
    for trade_id in ("1", "2", "3", "4", "5", "6"):
        assert not d.seen("X", trade_id)
    assert d.seen("X", "4") and d.seen("X", "6")  # within 3 later ids
    assert not d.seen("X", "7") and not d.seen("X", "1")  # "1": 6 later ids, forgotten
    assert d.seen("X", "6")


def test_ids_are_forgotten_after_max_age() -> None:
    now = [0.0]
    d = TradeDeduper(capacity=1000, max_age_s=120.0, clock=lambda: now[0])
    assert not d.seen("X", "1")
    now[0] = 119.0
    assert d.seen("X", "1")
    assert not d.seen("X", "2")
    now[0] = 121.0
    assert not d.seen("X", "3")  # a new generation; 1 and 2 are in the previous one
    assert d.seen("X", "1") and d.seen("X", "2")
    now[0] = 242.0
    assert not d.seen("X", "4")  # 1 and 2 are forgotten, 3 is still remembered
    assert not d.seen("X", "1") and d.seen("X", "3")
