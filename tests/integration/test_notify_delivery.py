"""Alert delivery end to end: a real redis-server, the notifier, a local HTTP receiver.

The receiver fails first (500s, then a 429 with Retry-After) and recovers: every alert
arrives at least once, with the same idempotency key on every attempt; a restart re-sends
nothing acknowledged; a stop during retries loses nothing. Secrets stay out of the logs and
of /health's notify block.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import orjson
import pytest
import redis.asyncio as aredis

from microservices.ai_engine.health import gather_health
from microservices.common.logs import JsonFormatter
from microservices.common.market_alerts import MarketAlert
from microservices.common.records import ExitAlert
from microservices.common.redis_io import xadd_record
from microservices.common.settings import Settings
from microservices.notify.formats import from_exitbrain, from_market, json_body
from microservices.notify.service import Notifier
from tests.integration.notify_receiver import Answer, Receiver, receiving

pytestmark = pytest.mark.integration
TOKEN = "123456:SECRET-bot-token-abc"
HOOK_SECRET = "T000/B000/SECRET-hook-xyz"
T0 = 1_764_950_400_000  # 2025-12-05T16:00:00Z


def targets(base: str) -> list[dict[str, Any]]:
    return [
        {"name": "ops", "format": "json", "url": f"{base}/json/{HOOK_SECRET}"},
        {"name": "chat", "format": "telegram", "bot_token": TOKEN, "chat_id": "-100200",
         "api_base": base},
        {"name": "depeg", "format": "slack", "url": f"{base}/slack/{HOOK_SECRET}",
         "types": ["DEPEG"], "min_severity": "warning", "streams": ["alerts"]},
    ]  # fmt: skip


def depeg(i: int, severity: str = "critical") -> MarketAlert:
    return MarketAlert(
        ts_ms=T0 + i, source="aggregator", type="DEPEG", severity=severity,  # type: ignore[arg-type]
        reason=f"USDC at 0.97{i} USD", symbol="USDCUSDT", venue="binance",
        data={"price": 0.97 + i / 1000},
    )  # fmt: skip


def fallback(i: int) -> ExitAlert:
    return ExitAlert(
        symbol="BTCUSDT", ts_ms=T0 + 100 + i, type="FALLBACK_TO_LOCAL",
        reason="no fresh cross-exchange data", fail_count=3 + i,
    )  # fmt: skip


async def eventually(check: Callable[[], bool], timeout_s: float = 20.0) -> None:
    async def loop() -> None:
        while not check():
            await asyncio.sleep(0.05)

    await asyncio.wait_for(loop(), timeout=timeout_s)


@asynccontextmanager
async def notifier_running(
    settings: Settings, redis: aredis.Redis, consumer: str = "notifier-test"
) -> AsyncIterator[Notifier]:
    notifier = Notifier(settings, redis, consumer=consumer)
    stop = asyncio.Event()
    task = asyncio.create_task(notifier.run(stop))
    await eventually(lambda: len(notifier.workers) == len(settings.alert_targets))
    await groups_ready(redis, settings)
    try:
        yield notifier
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=15)


async def groups_ready(redis: aredis.Redis, settings: Settings) -> None:
    streams = settings.streams()
    for _ in range(200):
        try:
            market = await redis.xinfo_groups(streams.market_alerts.name)
            exitbrain = await redis.xinfo_groups(streams.alerts.name)
        except aredis.ResponseError:
            market = exitbrain = []
        wanted = [t.streams for t in settings.alert_targets]
        if len(market) == sum("alerts" in s for s in wanted) and len(exitbrain) == sum(
            "exitbrain.alerts" in s for s in wanted
        ):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("consumer groups not created")


@pytest.fixture
def make_settings(settings_factory: Any, redis_server: Any) -> Callable[[str], Settings]:
    def make(base: str) -> Settings:
        settings: Settings = settings_factory(
            redis_url=redis_server.url, alert_targets=targets(base), notify_retry_base_s=0.05,
            notify_retry_cap_s=0.2, consumer_block_ms=100,
        )  # fmt: skip
        return settings

    return make


async def publish(
    redis: aredis.Redis, settings: Settings, market: list[MarketAlert], exits: list[ExitAlert]
) -> list[str]:
    """XADD the alerts; their idempotency keys, market ones first."""
    streams = settings.streams()
    keys = []
    for alert in market:
        entry_id = (await xadd_record(redis, streams.market_alerts, alert)).decode()
        keys.append(f"{streams.market_alerts.name}:{entry_id}")
    for exit_alert in exits:
        entry_id = (await xadd_record(redis, streams.alerts, exit_alert)).decode()
        keys.append(f"{streams.alerts.name}:{entry_id}")
    return keys


def script_failures(receiver: Receiver) -> None:
    receiver.script["/json/" + HOOK_SECRET] = [
        Answer(500), Answer(500), Answer(429, {"Retry-After": "0.3"}), Answer(503),
    ]  # fmt: skip
    retry = orjson.dumps({"ok": False, "error_code": 429, "parameters": {"retry_after": 0.2}})
    receiver.script[f"/bot{TOKEN}/sendMessage"] = [Answer(429, body=retry), Answer(502)]


async def test_failing_receiver_then_recovery_loses_nothing(
    real_redis: aredis.Redis, make_settings: Callable[[str], Settings],
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    caplog.set_level(logging.DEBUG)
    async with receiving() as receiver:
        script_failures(receiver)
        settings = make_settings(receiver.base_url)
        market = [depeg(0), depeg(1, "info"), depeg(2)]
        exits = [fallback(0), fallback(1)]
        async with notifier_running(settings, real_redis) as notifier:
            keys = await publish(real_redis, settings, market, exits)
            json_path, bot_path = "/json/" + HOOK_SECRET, f"/bot{TOKEN}/sendMessage"
            await eventually(lambda: len(receiver.delivered(json_path)) == 5)
            await eventually(lambda: len(receiver.delivered(bot_path)) == 5)
            await eventually(lambda: len(receiver.delivered("/slack/" + HOOK_SECRET)) == 2)
            await notifier.write_health()
            _, health = await gather_health(real_redis, settings, {})
        # every alert at least once per target, in stream order within a stream
        assert sorted(receiver.keys(json_path)) == sorted(keys)
        assert sorted(receiver.keys(bot_path)) == sorted(keys)
        assert receiver.keys("/slack/" + HOOK_SECRET) == [keys[0], keys[2]]  # warning+ DEPEG
        # the failed attempts carried the same keys as the deliveries that followed
        failed = [r for r in receiver.received if r.status != 200]
        assert len(failed) == 6 and {r.key for r in failed} <= set(keys)
        for record in receiver.received:
            assert record.body.get("idempotency_key", record.key) == record.key
        first = next(r for r in receiver.delivered(json_path) if r.key == keys[0])
        streams = settings.streams()
        entry_id = keys[0].rsplit(":", 1)[1]
        assert first.body == json_body(from_market(streams.market_alerts.name, entry_id, market[0]))
        telegram = next(r for r in receiver.delivered(bot_path) if r.key == keys[3])
        expected = from_exitbrain(streams.alerts.name, keys[3].rsplit(":", 1)[1], exits[0])
        assert telegram.body["chat_id"] == "-100200"
        assert telegram.body["text"].endswith(f"key {expected.key}")
    block = health["notify"]
    assert block["ops"]["sent"] == 5 and block["ops"]["failed"] == 4
    assert block["ops"]["retried"] == 4 and block["ops"]["dropped"] == 0
    assert block["chat"]["failed"] == 2 and block["depeg"]["filtered"] == 1
    assert block["depeg"]["lag"] == {"alerts": 0}
    assert_no_secrets(orjson.dumps(health).decode())
    formatter = JsonFormatter()
    logged = "\n".join(formatter.format(r) for r in caplog.records)
    assert "notify.retry" in logged and "notify.sent" in logged
    assert_no_secrets(logged)


def assert_no_secrets(text: str) -> None:
    assert TOKEN not in text and "SECRET" not in text


async def test_restart_resends_nothing_acknowledged(
    real_redis: aredis.Redis, make_settings: Callable[[str], Settings]
) -> None:
    async with receiving() as receiver:
        settings = make_settings(receiver.base_url)
        json_path = "/json/" + HOOK_SECRET
        async with notifier_running(settings, real_redis):
            first = await publish(real_redis, settings, [depeg(0)], [fallback(0)])
            await eventually(lambda: len(receiver.delivered(json_path)) == 2)
            await eventually(lambda: len(receiver.delivered("/slack/" + HOOK_SECRET)) == 1)
        # published while no notifier runs: delivered after the restart, exactly once
        later = await publish(real_redis, settings, [depeg(1)], [])
        async with notifier_running(settings, real_redis):
            await eventually(lambda: len(receiver.delivered(json_path)) == 3)
            await eventually(lambda: len(receiver.delivered("/slack/" + HOOK_SECRET)) == 2)
            await asyncio.sleep(0.5)  # time for any wrongful re-send to show
        got, sent = receiver.keys(json_path), first + later
        assert sorted(got) == sorted(sent)  # each once
        # in order within each stream; `alerts` and `exitbrain.alerts` are read side by side,
        # so entries a millisecond apart in the two may arrive either way round
        for stream in {key.rsplit(":", 1)[0] for key in sent}:
            assert [k for k in got if k.rsplit(":", 1)[0] == stream] == [
                k for k in sent if k.rsplit(":", 1)[0] == stream
            ]
        assert len(receiver.received) == 3 * 3 - 1  # json 3, telegram 3, slack 2


async def test_stop_during_retries_keeps_the_alert_pending(
    real_redis: aredis.Redis, make_settings: Callable[[str], Settings]
) -> None:
    async with receiving() as receiver:
        json_path = "/json/" + HOOK_SECRET
        receiver.script[json_path] = [Answer(500)] * 1000  # down until cleared
        settings = make_settings(receiver.base_url)
        async with notifier_running(settings, real_redis) as notifier:
            (key,) = await publish(real_redis, settings, [depeg(0)], [])
            await eventually(lambda: len(receiver.received) >= 6)  # retrying
            await eventually(lambda: notifier.workers[0].stats.retried >= 3)
        pending = await real_redis.xpending(settings.streams().market_alerts.name, "notify.ops")
        assert pending["pending"] == 1
        receiver.script[json_path].clear()
        async with notifier_running(settings, real_redis):
            await eventually(lambda: receiver.keys(json_path) == [key])
        assert receiver.keys("/slack/" + HOOK_SECRET) == [key]  # never re-sent: it was acked
        assert {r.key for r in receiver.received} == {key}


async def test_a_new_consumer_name_takes_over_what_the_old_left_pending(
    real_redis: aredis.Redis, settings_factory: Any, redis_server: Any
) -> None:
    """A recreated container has a new hostname, so a new consumer name: the pending alert of
    the old one is reclaimed (XAUTOCLAIM after CONSUMER_CLAIM_IDLE_MS) and delivered."""
    async with receiving() as receiver:
        json_path = "/json/" + HOOK_SECRET
        receiver.script[json_path] = [Answer(500)] * 1000
        settings: Settings = settings_factory(
            redis_url=redis_server.url, alert_targets=targets(receiver.base_url)[:1],
            notify_retry_base_s=0.05, notify_retry_cap_s=0.2, consumer_block_ms=100,
            consumer_claim_idle_ms=300,
        )  # fmt: skip
        async with notifier_running(settings, real_redis, consumer="host-a") as notifier:
            (key,) = await publish(real_redis, settings, [depeg(0)], [])
            await eventually(lambda: notifier.workers[0].stats.retried >= 2)
        receiver.script[json_path].clear()
        async with notifier_running(settings, real_redis, consumer="host-b"):
            await eventually(lambda: receiver.keys(json_path) == [key])
        pending = await real_redis.xpending(settings.streams().market_alerts.name, "notify.ops")
        assert pending["pending"] == 0


async def test_refused_alert_is_dropped_and_counted(
    real_redis: aredis.Redis, make_settings: Callable[[str], Settings]
) -> None:
    async with receiving() as receiver:
        json_path = "/json/" + HOOK_SECRET
        receiver.script[json_path] = [Answer(404)]
        settings = make_settings(receiver.base_url)
        async with notifier_running(settings, real_redis) as notifier:
            keys = await publish(real_redis, settings, [depeg(0), depeg(1)], [])
            await eventually(lambda: receiver.keys(json_path) == keys[1:])
            stats = notifier.workers[0].stats
            assert (stats.dropped, stats.sent, stats.retried) == (1, 1, 0)
            assert stats.last_error == "http_404"


async def test_unreadable_entries_are_counted_not_sent(
    real_redis: aredis.Redis, make_settings: Callable[[str], Settings]
) -> None:
    async with receiving() as receiver:
        settings = make_settings(receiver.base_url)
        name = settings.streams().market_alerts.name
        async with notifier_running(settings, real_redis) as notifier:
            await real_redis.xadd(name, {"type": "NOPE", "severity": "info"})
            (key,) = await publish(real_redis, settings, [depeg(0)], [])
            await eventually(lambda: receiver.keys("/json/" + HOOK_SECRET) == [key])
            assert notifier.workers[0].stats.dropped == 1
        assert await real_redis.exists(f"{name}:dead") == 0
