"""The engine runs the notifier exactly when ALERT_TARGETS is set and `--no-notify` is not."""

from __future__ import annotations

from typing import Any

import redis.asyncio as aredis

from microservices.ai_engine.engine import Engine
from microservices.cli import build_parser

TARGETS = [{"name": "ops", "format": "json", "url": "https://example.org/hook"}]


async def test_engine_includes_the_notifier_only_with_targets(
    settings_factory: Any, fake_redis: aredis.Redis
) -> None:
    with_targets = settings_factory(alert_targets=TARGETS)
    engine = Engine(with_targets, fake_redis)
    assert engine.notifier is not None
    assert [t.name for t in engine.notifier.settings.alert_targets] == ["ops"]
    assert Engine(with_targets, fake_redis, notify=False).notifier is None
    assert Engine(settings_factory(), fake_redis).notifier is None


def test_cli_has_notify_and_engine_no_notify() -> None:
    parser = build_parser()
    assert parser.parse_args(["engine", "--no-notify"]).no_notify is True
    assert parser.parse_args(["engine"]).no_notify is False
    assert parser.parse_args(["notify"]).command == "notify"
