"""The dashboard's pure parts: events from records, venue display states, the token check,
the bounded client queue, and API_TOKEN validation."""

from __future__ import annotations

import asyncio

import pytest

from microservices.ai_engine.dashboard import events
from microservices.ai_engine.dashboard.auth import is_open, presented_token, token_ok
from microservices.ai_engine.dashboard.hub import ClientQueue, converters, entry_event
from microservices.common.errors import FatalError
from microservices.common.market_alerts import MarketAlert
from microservices.common.settings import load_settings
from microservices.common.streams import build_streams
from tests.factories import alert, features, snapshot, status

TOKEN = "s3cret-token-0123456789"


def test_normalized_event_carries_the_snapshot_values() -> None:
    event = events.normalized_event(snapshot(ts_ms=1_700_000_000_250, arb_bps=1.5))
    assert event["t"] == 1_700_000_000.25
    assert event["ref"] == 100.0  # the median of the included venue prices
    assert event["prices"] == {"binance": 99.0, "bybit": 100.0, "coinbase": 101.0}
    assert event["divergence_bps"] == pytest.approx(200.0)  # 0.02 of the median
    assert event["funding"] == {"bybit": -0.025}  # perp venues with fresh funding only
    assert event["funding_delta"] == -0.02 and event["avg_funding"] == -0.015
    assert (event["best_bid"], event["best_bid_venue"]) == (98.9, "binance")
    assert (event["best_ask"], event["arb_bps"], event["n"]) == (99.1, 1.5, 3)
    assert event["excluded"] == {"okx": "stale"}


def test_non_finite_numbers_become_null() -> None:
    event = events.normalized_event(snapshot(volatility_factor=float("nan")))
    assert event["vol"] is None


def test_status_and_alert_events() -> None:
    event = events.status_event(status(cross_exchange_active=False))
    assert (event["mode"], event["atr"], event["tp"], event["sl"]) == (
        "local", 2.08, 1.00096, 1.0168,
    )  # fmt: skip
    exit_alert = events.exit_alert_event(alert(type="RECOVERED"))
    assert (exit_alert["origin"], exit_alert["severity"]) == ("exitbrain", "info")
    market = MarketAlert(
        ts_ms=1_700_000_000_000, source="aggregator", type="DEPEG", severity="critical",
        reason="USDC at 0.97", symbol="", venue="",
    )  # fmt: skip
    got = events.market_alert_event(market)
    assert (got["origin"], got["type"], got["severity"], got["t"]) == (
        "market", "DEPEG", "critical", 1_700_000_000.0,
    )  # fmt: skip
    assert events.features_event(features())["values"]["avg_price"] == 0.0


def test_row_event_parses_numbers_and_keeps_text() -> None:
    got = events.row_event(
        "large_trades", "1700000000123-0",
        {"symbol": "BTCUSDT", "value_usd": "150000.5", "side": "buy", "odd": "nan"},
    )  # fmt: skip
    assert got["t"] == 1_700_000_000.123
    assert got["values"] == {
        "symbol": "BTCUSDT",
        "value_usd": 150000.5,
        "side": "buy",
        "odd": "nan",
    }


@pytest.mark.parametrize(
    ("block", "status", "cause"),
    [
        ({"state": "connected", "last_message_age_s": 0.2, "silence_timeout_s": 30}, "connected", ""),
        ({"state": "silent", "last_message_age_s": 4.5, "silence_timeout_s": 3, "last_cause": "silent 3s"},
         "stale", "no data for 4.5 s; last cause: silent 3s"),
        ({"state": "connected", "last_message_age_s": 40, "silence_timeout_s": 30}, "stale", "no data for 40 s"),
        ({"state": "connecting", "last_message_age_s": None}, "stale", "no data yet"),
        ({"state": "degraded", "live": 1, "connections": 2}, "degraded", "1/2 connections live"),
        ({"state": "disconnected", "last_cause": "refused"}, "down", "disconnected; last cause: refused"),
        ({"state": "disconnected", "last_cause": "silent 3s"}, "stale",
         "reconnecting after silence; last cause: silent 3s"),
        (None, "unknown", "no collector report"),
    ],
)  # fmt: skip
def test_venue_health(block: dict[str, object] | None, status: str, cause: str) -> None:
    got = events.venue_health(block)
    assert (got["status"], got["cause"]) == (status, cause)


def test_bad_entries_are_dropped_not_raised() -> None:
    known = converters(build_streams("t:"))
    assert entry_event(known, {}, "t:exchange.normalized", "1-0", {b"symbol": b"BTCUSDT"}) is None
    good = {k.encode(): v.encode() for k, v in build_streams("t:").normalized.schema.encode(
        snapshot()).items()}  # fmt: skip
    event = entry_event(known, {}, "t:exchange.normalized", "1-0", good)
    assert event is not None and event["ref"] == 100.0


def test_token_check() -> None:
    header = {"type": "http", "path": "/health", "headers": [(b"authorization", b"Bearer abc")]}
    assert presented_token(header) == "abc"
    basic = {"type": "http", "path": "/health", "headers": [(b"authorization", b"Basic abc")]}
    assert presented_token(basic) is None
    query = {
        "type": "http",
        "path": "/api/v1/stream",
        "headers": [],
        "query_string": b"token=x%2By",
    }
    assert presented_token(query) == "x+y"
    elsewhere = {"type": "http", "path": "/health", "headers": [], "query_string": b"token=abc"}
    assert presented_token(elsewhere) is None  # only the live stream takes ?token=
    assert token_ok(TOKEN, TOKEN) and not token_ok(TOKEN, TOKEN[:-1]) and not token_ok(TOKEN, None)
    assert is_open("/") and is_open("/health/live") and is_open("/static/dashboard/app.js")
    assert not is_open("/health") and not is_open("/docs")
    assert is_open("/metrics")  # scraped on the private network; Caddy refuses it outside


async def test_client_queue_drops_the_oldest_when_full() -> None:
    queue = ClientQueue(8)
    for i in range(20):
        queue.put({"kind": "n", "i": i})
    assert queue.dropped == 12
    got = [await queue.get(1.0) for _ in range(8)]
    assert [e["i"] for e in got if e] == list(range(12, 20))
    with pytest.raises(TimeoutError):
        await queue.get(0.05)
    waiter = asyncio.create_task(queue.get(5.0))
    await asyncio.sleep(0)
    queue.put(None)  # close
    assert await waiter is None


def test_api_token_validation() -> None:
    assert load_settings(env_file=None, api_token=f"  {TOKEN} ").api_token == TOKEN
    assert load_settings(env_file=None, api_token="").api_token == ""
    for bad in ("short", "has a space in the middle!"):
        with pytest.raises(FatalError, match="API_TOKEN must be at least 16 characters"):
            load_settings(env_file=None, api_token=bad)


def test_venue_age_is_measured_from_the_last_message_time() -> None:
    block = {"state": "connected", "last_message_ms": 1_000_000, "last_message_age_s": 0.1,
             "silence_timeout_s": 3}  # fmt: skip
    assert events.venue_health(block, now_ms=1_002_000)["status"] == "connected"
    stale = events.venue_health(block, now_ms=1_003_500)  # published 0.1 s, 3.5 s by now
    assert (stale["status"], stale["cause"], stale["age_s"]) == ("stale", "no data for 3.5 s", 3.5)
    event = events.venues_event({"bybit": block}, ["bybit", "okx"], 1_003_500)
    assert event["t"] == 1_003.5 and event["venues"]["okx"]["status"] == "unknown"
