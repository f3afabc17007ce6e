"""Retry-After windows, violations and the Binance 429 -> 418 escalation."""

from __future__ import annotations

from microservices.exchange_simulator.config import FaultConfig
from microservices.exchange_simulator.ratelimit import VenueLimiter

WALL = 1_700_000_000_000


def test_burst_window_violation_and_ban() -> None:
    cfg = FaultConfig(rate_limit_burst=1, retry_after_s=10, ban_after_violations=2, ban_s=120)
    limiter = VenueLimiter(6000, bans=True)
    limiter.arm(cfg)
    first = limiter.check(cfg, 2, now_s=0.0, wall_ms=WALL)
    assert (first.status, first.retry_after_s, first.violation) == (429, 10, False)
    second = limiter.check(cfg, 2, now_s=1.0, wall_ms=WALL)
    assert (second.status, second.retry_after_s, second.violation) == (429, 9, True)
    third = limiter.check(cfg, 2, now_s=2.0, wall_ms=WALL)
    assert (third.status, third.retry_after_s, third.violation) == (418, 120, True)
    banned = limiter.check(cfg, 2, now_s=50.0, wall_ms=WALL)
    assert (banned.status, banned.violation) == (418, True)
    after = limiter.check(cfg, 2, now_s=200.0, wall_ms=WALL + 60_000)
    assert (after.status, after.violation) == (200, False)


def test_a_client_that_waits_is_never_a_violator() -> None:
    cfg = FaultConfig(rate_limit_burst=2, retry_after_s=3)
    limiter = VenueLimiter(None, bans=True)
    limiter.arm(cfg)
    now, statuses = 0.0, []
    for _ in range(4):
        verdict = limiter.check(cfg, 1, now_s=now, wall_ms=WALL)
        assert not verdict.violation
        statuses.append(verdict.status)
        now += verdict.retry_after_s
    assert statuses == [429, 429, 200, 200]


def test_no_bans_keeps_answering_429() -> None:
    cfg = FaultConfig(rate_limit_burst=1, retry_after_s=10, ban_after_violations=1)
    limiter = VenueLimiter(None, bans=False)
    limiter.arm(cfg)
    limiter.check(cfg, 1, now_s=0.0, wall_ms=WALL)
    for t in (1.0, 2.0, 3.0):
        verdict = limiter.check(cfg, 1, now_s=t, wall_ms=WALL)
        assert (verdict.status, verdict.violation) == (429, True)


def test_weight_limit_per_minute() -> None:
    cfg = FaultConfig()
    limiter = VenueLimiter(10, bans=True)
    statuses = [limiter.check(cfg, 4, now_s=0.0, wall_ms=WALL + 30_000).status for _ in range(3)]
    assert statuses == [200, 200, 429]
    assert limiter.used_weight == 12
    retry = limiter.check(cfg, 1, now_s=0.5, wall_ms=WALL + 30_500)
    assert retry.violation and retry.status == 429
    fresh = limiter.check(cfg, 1, now_s=31.0, wall_ms=WALL + 61_000)
    assert (fresh.status, fresh.used_weight) == (200, 1)


def test_server_error_burst_and_rearm() -> None:
    cfg = FaultConfig(server_error_burst=2, server_error_every=3)
    limiter = VenueLimiter(None, bans=False)
    limiter.arm(cfg)
    statuses = [limiter.check(cfg, 1, now_s=float(i), wall_ms=WALL).status for i in range(8)]
    assert statuses == [503, 503, 200, 200, 200, 503, 503, 200]


def test_rate_limit_rearm_every_n_accepted() -> None:
    cfg = FaultConfig(rate_limit_burst=1, rate_limit_every=2, retry_after_s=1)
    limiter = VenueLimiter(None, bans=True)
    limiter.arm(cfg)
    now, statuses = 0.0, []
    for _ in range(6):
        verdict = limiter.check(cfg, 1, now_s=now, wall_ms=WALL)
        statuses.append(verdict.status)
        now += 5
    assert statuses == [429, 200, 200, 429, 200, 200]


def test_injected_ban_then_service_after_it() -> None:
    cfg = FaultConfig(ban_burst=1, ban_s=30)
    limiter = VenueLimiter(None, bans=True)
    limiter.arm(cfg)
    first = limiter.check(cfg, 1, now_s=0.0, wall_ms=WALL)
    assert (first.status, first.retry_after_s, first.violation) == (418, 30, False)
    inside = limiter.check(cfg, 1, now_s=29.0, wall_ms=WALL)
    assert (inside.status, inside.violation) == (418, True)
    after = limiter.check(cfg, 1, now_s=30.0, wall_ms=WALL)
    assert (after.status, after.violation) == (200, False)
    quiet = VenueLimiter(None, bans=False)  # venues without bans ignore the fault
    quiet.arm(cfg)
    assert quiet.check(cfg, 1, now_s=0.0, wall_ms=WALL).status == 200
