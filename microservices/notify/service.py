"""The notifier: `exitbrain.alerts` and `alerts` -> every configured webhook target.

Each target reads each of its streams through its own consumer group (`notify.<name>`,
created at `$`: a new target starts with new alerts), one entry at a time, acknowledged only
after its delivery ended (delivered, filtered out or refused): a failing target holds back
only itself, and a restart re-sends nothing acknowledged. Every 5 s the targets' counters
(no URL, no token) go to the `<prefix>notify.health` hash that /health shows, and the
groups' lag to `ce_consumer_lag`. `cross-exchange notify` runs it alone; the engine runs it
when ALERT_TARGETS is set (unless `engine --no-notify`). `alerts` is one stream; with
STREAM_SHARDS > 1 `exitbrain.alerts` is one per shard and each target reads every shard
(`Stream.shards_all`; notifiers on several hosts share each shard's group).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable
from functools import partial
from typing import Any, Final

import aiohttp
import orjson
import redis.asyncio as aredis

from microservices.common import metrics
from microservices.common.backoff import Backoff
from microservices.common.consumer import Entry, StreamConsumer, consumer_lag
from microservices.common.errors import FatalError
from microservices.common.lifecycle import run_until_stopped
from microservices.common.redis_io import TRANSIENT_REDIS_ERRORS, create_redis
from microservices.common.settings import Settings
from microservices.common.streams import Stream
from microservices.notify.formats import Alert, from_exitbrain, from_market
from microservices.notify.targets import AlertTarget
from microservices.notify.worker import DeliveryInterrupted, TargetWorker

logger = logging.getLogger(__name__)
HEALTH_TTL_S: Final = 15
REPORT_EVERY_S: Final = 5.0
NEVER_POISON: Final = 1 << 62  # a pending alert is retried, never dead-lettered


def health_key(prefix: str) -> str:
    """The hash of the targets' delivery state (field = target name, value = JSON)."""
    return f"{prefix}notify.health"


def group_name(target: AlertTarget) -> str:
    return f"notify.{target.name}"


class _AlertConsumer(StreamConsumer[Any]):
    """A consumer whose handler may be interrupted by stop (the entry stays pending, quietly)
    and whose unreadable entries are counted as the target's drops, not copied to the
    stream's dead letters (every target would copy them again)."""

    def __init__(self, *args: Any, on_bad: Callable[[int], None], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._on_bad = on_bad

    async def _handle(self, good: list[Entry[Any]]) -> bool:
        try:
            return await super()._handle(good)
        except DeliveryInterrupted:
            return False

    async def _acknowledge(self, ids: list[str], dead: list[tuple[str, Any, str]]) -> None:
        await super()._acknowledge(ids, [])
        for entry_id, _, error in dead:
            logger.warning(
                "notify.bad_entry",
                extra={"stream": self.stream.name, "id": entry_id, "error": error[:200]},
            )
        if dead:
            self._on_bad(len(dead))


def _alerts(stream: Stream[Any], is_market: bool, entries: list[Entry[Any]]) -> list[Alert]:
    convert = from_market if is_market else from_exitbrain
    return [convert(stream.name, entry_id, record) for entry_id, record in entries]


class Notifier:
    def __init__(self, settings: Settings, redis: aredis.Redis, consumer: str | None = None):
        if not settings.alert_targets:
            raise FatalError("ALERT_TARGETS is empty: no target to deliver alerts to")
        self.settings = settings
        self.redis = redis
        self.consumer = consumer or f"notifier-{socket.gethostname()}"
        self.workers: list[TargetWorker] = []

    def _streams(self) -> dict[str, tuple[Stream[Any], bool]]:
        streams = self.settings.streams()
        return {
            "alerts": (streams.market_alerts, True),
            "exitbrain.alerts": (streams.alerts, False),
        }

    async def run(self, stop: asyncio.Event) -> None:
        s = self.settings
        backoff = Backoff(base_s=s.notify_retry_base_s, cap_s=s.notify_retry_cap_s, jitter=0.5)
        default = aiohttp.ClientTimeout(total=s.notify_timeout_s)  # each POST passes it too
        async with (
            aiohttp.ClientSession(timeout=default) as session,
            asyncio.TaskGroup() as group,
        ):
            self.workers = [
                TargetWorker(target, session, backoff=backoff, timeout_s=s.notify_timeout_s,
                             max_retry_after_s=s.notify_max_retry_after_s)
                for target in s.alert_targets
            ]  # fmt: skip
            for worker in self.workers:
                for key in worker.target.streams:
                    stream, is_market = self._streams()[key]
                    for shard in stream.shards_all():
                        consumer = self._consumer(worker, shard, is_market, stop)
                        group.create_task(consumer.run(stop), name=f"notify-{worker.target.name}")
            group.create_task(self._report(stop), name="notify-health")
            logger.info("notify.started", extra={"targets": [t.name for t in s.alert_targets]})

    def _consumer(
        self, worker: TargetWorker, stream: Stream[Any], is_market: bool, stop: asyncio.Event
    ) -> _AlertConsumer:
        async def handle(entries: list[Entry[Any]]) -> None:
            await worker.handle(_alerts(stream, is_market, entries), stop)

        consumer = _AlertConsumer(
            self.redis, stream, handle, group=group_name(worker.target), consumer=self.consumer,
            batch_size=1, block_ms=self.settings.consumer_block_ms,
            claim_idle_ms=self.settings.consumer_claim_idle_ms, max_deliveries=NEVER_POISON,
            start_id="$", on_bad=worker.drop_unreadable,
        )  # fmt: skip
        return consumer

    async def _report(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(*TRANSIENT_REDIS_ERRORS):
                await self.write_health()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=REPORT_EVERY_S)

    async def _lag(self, stream: Stream[Any], group: str) -> int | None:
        """The group's lag summed over the stream's shards (None when none is known)."""
        total: int | None = None
        for shard in stream.shards_all():
            lag = await consumer_lag(self.redis, shard, group)
            if lag is not None:
                metrics.CONSUMER_LAG.labels(shard.name, group).set(lag)
                total = (total or 0) + lag
        return total

    async def write_health(self) -> None:
        rows: dict[str, bytes] = {}
        for worker in self.workers:
            lags: dict[str, int | None] = {}
            for key in worker.target.streams:
                lags[key] = await self._lag(self._streams()[key][0], group_name(worker.target))
            row = worker.target.public() | worker.stats.public() | {"lag": lags}
            rows[worker.target.name] = orjson.dumps(row)
        hash_key = health_key(self.settings.stream_prefix)
        pipe = self.redis.pipeline(transaction=False)
        pipe.delete(hash_key)
        pipe.hset(hash_key, mapping=rows)  # type: ignore[arg-type]
        pipe.expire(hash_key, HEALTH_TTL_S)
        await pipe.execute()


async def notify_health(redis: aredis.Redis, prefix: str) -> dict[str, Any]:
    """The targets' state as the notifier last wrote it ({} when none runs)."""
    raw: Any = await redis.hgetall(health_key(prefix))
    return {k.decode(): orjson.loads(v) for k, v in sorted(raw.items())}


async def notify_main(settings: Settings, stop: asyncio.Event) -> None:
    if settings.redis_url is None:
        raise FatalError("REDIS_URL is required for `notify`")
    redis = create_redis(
        settings.redis_url,
        socket_timeout_s=settings.redis_socket_timeout_s,
        cluster=settings.redis_cluster,
    )
    try:
        await Notifier(settings, redis).run(stop)
    finally:
        await redis.aclose()


def run_notify(settings: Settings) -> int:
    from microservices.data_collector.service import serve_metrics

    if not settings.alert_targets:
        raise FatalError("ALERT_TARGETS is empty: no target to deliver alerts to")
    serve_metrics(settings)
    run_until_stopped(partial(notify_main, settings))
    return 0
