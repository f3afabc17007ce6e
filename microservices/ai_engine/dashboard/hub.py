"""The live stream's fan-out: one Redis reader per engine, one bounded queue per client.

`LiveHub.subscribe()` gives a client its own `ClientQueue` (DASHBOARD_CLIENT_QUEUE events); the
first subscriber starts the reader task and the last one leaving stops it, so an engine with no
dashboard open reads nothing. The reader XREADs exchange.normalized, exchange.features,
exitbrain.status, exitbrain.alerts, alerts and the optional streams (large trades, model
signals: whichever `Streams` declares), every shard of each, from the newest entry on, turns
entries into events (`events.py`) and offers each to every queue. A full queue drops its
oldest event and counts it (`ce_dashboard_dropped_total`): a slow client loses history, never
blocks the reader or the engine. Twice a second it also sends the venues' health from the
collector's hash. Entries that fail to decode are counted per stream and sampled in the log.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from typing import Any, Final

import orjson
import redis.asyncio as aredis

from microservices.ai_engine.dashboard import events
from microservices.common import metrics
from microservices.common.clock import now_ms
from microservices.common.errors import SchemaError
from microservices.common.logs import SampledLogger
from microservices.common.redis_io import TRANSIENT_REDIS_ERRORS
from microservices.common.settings import Settings
from microservices.common.shard_read import exists_any, keys
from microservices.common.streams import Stream, Streams, collector_key
from microservices.common.xread import StreamReader

logger = logging.getLogger(__name__)
sampled = SampledLogger(logger)
OPTIONAL_SOURCES: Final = ("large_trades", "signals")  # see `optional_streams`
VENUES_EVERY_S: Final = 0.5
READ_COUNT: Final = 1_000
Converter = Callable[[Any], events.Event]
Known = dict[str, tuple[str, Stream[Any], Converter]]


class ClientQueue:
    """A bounded FIFO of the events a client wants (`symbols`: empty for all; events without a
    symbol always pass); `put` never waits (drops the oldest when full), so a filtered client
    never loses its events to other symbols' traffic."""

    def __init__(self, size: int, symbols: frozenset[str] = frozenset()) -> None:
        self._items: deque[events.Event | None] = deque(maxlen=size)
        self._ready = asyncio.Event()
        self.symbols = symbols
        self.dropped = 0

    def wants(self, event: events.Event) -> bool:
        symbol = event.get("symbol")
        return not self.symbols or not symbol or symbol in self.symbols

    def put(self, event: events.Event | None) -> None:
        if len(self._items) == self._items.maxlen:
            self.dropped += 1
            metrics.DASHBOARD_DROPPED.inc()
        self._items.append(event)
        self._ready.set()

    async def get(self, timeout_s: float) -> events.Event | None:
        """The next event; None after `close`; raises TimeoutError when none came in time."""
        if not self._items:
            self._ready.clear()
            await asyncio.wait_for(self._ready.wait(), timeout_s)
        return self._items.popleft()


def optional_streams(streams: Streams) -> dict[str, Stream[Any]]:
    """The optional panels' streams: they exist in Redis only once their producer runs (the
    large-trade watcher, a promoted model)."""
    return {"large_trades": streams.large_trades, "signals": streams.signals}


def converters(streams: Streams) -> Known:
    """Stream key -> (label, stream, record -> event) of every stream the hub reads (every
    shard's key of a sharded stream)."""
    known: list[tuple[str, Stream[Any], Converter]] = [
        ("normalized", streams.normalized, events.normalized_event),
        ("features", streams.features, events.features_event),
        ("status", streams.status, events.status_event),
        ("exitbrain_alerts", streams.alerts, events.exit_alert_event),
        ("alerts", streams.market_alerts, events.market_alert_event),
    ]
    return {name: (label, stream, conv) for label, stream, conv in known for name in keys(stream)}


async def venue_blocks(redis: aredis.Redis, settings: Settings) -> dict[str, Any]:
    raw: Any = await redis.hgetall(collector_key(settings.stream_prefix, "health"))
    out: dict[str, Any] = {}
    for key, value in raw.items():
        name = key.decode() if isinstance(key, bytes) else str(key)
        try:
            out[name] = orjson.loads(value)
        except orjson.JSONDecodeError:
            metrics.DASHBOARD_BAD_ENTRIES.labels("collector.health").inc()
    return out


class LiveHub:
    def __init__(self, redis: aredis.Redis, settings: Settings) -> None:
        self.redis, self.settings = redis, settings
        streams = settings.streams()
        self._known = converters(streams)
        self._optional = {
            name: label for label, s in optional_streams(streams).items() for name in keys(s)
        }
        self._clients: set[ClientQueue] = set()
        self._task: asyncio.Task[None] | None = None
        self.closed = False

    @property
    def clients(self) -> int:
        return len(self._clients)

    def subscribe(self, symbols: frozenset[str] = frozenset()) -> ClientQueue:
        client = ClientQueue(self.settings.dashboard_client_queue, symbols)
        if self.closed:
            client.put(None)
            return client
        self._clients.add(client)
        metrics.DASHBOARD_CLIENTS.set(len(self._clients))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="dashboard.hub")
        return client

    def unsubscribe(self, client: ClientQueue) -> None:
        self._clients.discard(client)
        metrics.DASHBOARD_CLIENTS.set(len(self._clients))
        if not self._clients and self._task is not None:
            self._task.cancel()
            self._task = None

    def close(self) -> None:
        """Ends every client's stream (the engine is stopping); later subscribers get none."""
        self.closed = True
        for client in list(self._clients):
            client.put(None)
        if self._task is not None:
            self._task.cancel()
            self._task = None

    def publish(self, event: events.Event) -> None:
        metrics.DASHBOARD_EVENTS.labels(event["kind"]).inc()
        for client in list(self._clients):
            if client.wants(event):
                client.put(event)

    async def sources(self) -> dict[str, bool]:
        """Which optional sources exist now: declared by `Streams` and present in Redis."""
        declared = optional_streams(self.settings.streams())
        out = {name: False for name in OPTIONAL_SOURCES}
        for name, stream in declared.items():
            out[name] = await exists_any(self.redis, stream)  # any shard
        return out

    async def _run(self) -> None:
        while True:
            try:
                await self._read_loop()
            except TRANSIENT_REDIS_ERRORS as exc:
                sampled.warning("redis", "dashboard.redis_error", error=type(exc).__name__)
                await asyncio.sleep(1.0)

    async def _read_loop(self) -> None:
        names = [*self._known, *self._optional]
        last = {name: await self._newest_id(name) for name in names}
        next_venues = 0.0
        loop = asyncio.get_running_loop()
        async with StreamReader(self.redis) as reader:  # on a cluster: one XREAD per slot
            while True:
                if loop.time() >= next_venues:
                    next_venues = loop.time() + VENUES_EVERY_S
                    await self._send_venues()
                block = self.settings.dashboard_poll_ms
                for key, entries in await reader.read(last, READ_COUNT, block):
                    name = key.decode() if isinstance(key, bytes) else str(key)
                    for entry_id, fields in entries:
                        last[name] = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
                        self._dispatch(name, last[name], fields)

    async def _newest_id(self, name: str) -> str:
        rows: Any = await self.redis.xrevrange(name, "+", "-", count=1)
        if not rows:
            return "0-0"
        entry_id = rows[0][0]
        return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)

    async def _send_venues(self) -> None:
        blocks = await venue_blocks(self.redis, self.settings)
        venues = list(self.settings.venues)
        self.publish(events.venues_event(blocks, venues, now_ms()))

    def _dispatch(self, name: str, entry_id: str, fields: dict[bytes, bytes]) -> None:
        event = entry_event(self._known, self._optional, name, entry_id, fields)
        if event is not None:
            self.publish(event)


def entry_event(
    known: Known,
    optional: dict[str, str],
    name: str,
    entry_id: str,
    fields: dict[bytes, bytes],
) -> events.Event | None:
    """The event of one stream entry; None (counted, sampled in the log) when it is invalid."""
    if name in optional:
        text = {k.decode(errors="replace"): v.decode(errors="replace") for k, v in fields.items()}
        return events.row_event(optional[name], entry_id, text)
    label, stream, convert = known[name]
    try:
        return convert(stream.schema.decode(fields))
    except (SchemaError, ValueError, KeyError, UnicodeDecodeError) as exc:
        metrics.DASHBOARD_BAD_ENTRIES.labels(label).inc()
        sampled.warning(label, "dashboard.bad_entry", stream=name, id=entry_id, error=str(exc))
        return None
