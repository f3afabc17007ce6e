"""The collector's book loop: serves what the connections' `BookFeed`s ask for.

Every TICK_S it publishes the `exchange.orderbook` entries due, sends the resubscriptions
Bybit, Coinbase and refused Gate.io books need (the same book again only after a capped
backoff), and starts the REST depth snapshots Binance books need (through
the collector's polite `RestClient`: its weight budget, Retry-After windows and circuit
breakers; a failed snapshot is asked again after a capped backoff per symbol, never in a
loop). Every ORDERBOOK_FULL_INTERVAL_MS it writes the changed books whole into the hash the
order-book API reads; every IDLE_CHECK_S it drops idle books; each second it turns the book
counters into Prometheus metrics. Redis being down costs only the hash writes (the producer
buffers the entries).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, Final

import orjson
import redis.asyncio as aredis

from microservices.common import metrics
from microservices.common.backoff import Backoff
from microservices.common.book_schema import (
    FULL_BOOKS_TTL_S,
    encode_full_book,
    full_book_field,
)
from microservices.common.clock import now_ms
from microservices.common.counter_sync import CounterSync
from microservices.common.errors import BadMessage, TransientError
from microservices.common.producer import StreamProducer
from microservices.common.redis_io import TRANSIENT_REDIS_ERRORS
from microservices.common.streams import Stream
from microservices.data_collector.book_feed import BookFeed
from microservices.data_collector.rest_client import RestClient
from microservices.data_collector.ws_bridge import WsConnectionRunner

logger = logging.getLogger(__name__)
TICK_S: Final = 0.05
IDLE_CHECK_S: Final = 10.0
SNAPSHOT_BACKOFF: Final = Backoff(base_s=1.0, cap_s=60.0)


class BookLoop:
    """The book side of the collector's connections (`runners()`: the live runner list)."""

    def __init__(
        self,
        runners: Callable[[], Sequence[WsConnectionRunner]],
        client: RestClient,
        producer: StreamProducer,
        stream: Stream[Any],
        redis: aredis.Redis,
        hash_key: str,
        full_interval_ms: int,
    ) -> None:
        self.runners = runners
        self.client = client
        self.producer = producer
        self.stream = stream
        self.redis = redis
        self.hash_key = hash_key
        self.full_interval_ms = full_interval_ms
        self._retry: dict[tuple[str, str], tuple[int, float]] = {}  # (conn, symbol) -> (n, at)
        # (conn, symbol) -> (resubscriptions sent, not before): forgotten once the book is live
        self._resubscribed: dict[tuple[str, str], tuple[int, float]] = {}
        self._exported = CounterSync()  # book totals already in the Prometheus counters
        self._tasks: set[asyncio.Task[None]] = set()
        self.published = 0  # exchange.orderbook entries handed to the producer

    async def run(self, stop: asyncio.Event) -> None:
        last_full = last_idle = last_metrics = 0.0
        try:
            while not stop.is_set():
                now = time.monotonic()
                feeds = [(r, r.books) for r in self.runners() if r.books is not None]
                await self.tick([(r, f) for r, f in feeds if f is not None])
                if (now - last_full) * 1000 >= self.full_interval_ms:
                    last_full = now
                    await self.write_full([f for _, f in feeds if f is not None])
                if now - last_idle >= IDLE_CHECK_S:
                    last_idle = now
                    self.drop_idle([f for _, f in feeds if f is not None])
                if now - last_metrics >= 1.0:
                    last_metrics = now
                    self.export_metrics([f for _, f in feeds if f is not None])
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=TICK_S)
        finally:
            for task in self._tasks:
                task.cancel()

    async def tick(self, feeds: list[tuple[WsConnectionRunner, BookFeed]]) -> None:
        """Publish the entries due; send resubscriptions; start snapshot requests."""
        now = now_ms()
        for runner, feed in feeds:
            for top in feed.entries(now):
                self.producer.publish(self.stream, top)
                self.published += 1
            for symbol in sorted(feed.resubscribe_wanted):
                await self._resubscribe(runner, feed, symbol)
            for symbol in sorted(feed.snapshots_wanted):
                self._maybe_fetch(runner, feed, symbol)

    async def _resubscribe(self, runner: WsConnectionRunner, feed: BookFeed, symbol: str) -> None:
        """Resubscribe a book on its open socket; again for the same book only after a capped
        backoff (a venue refusing the subscription is not asked in a loop)."""
        key = (runner.plan.label, symbol)
        sent, not_before = self._resubscribed.get(key, (0, 0.0))
        if time.monotonic() < not_before:
            return
        if await runner.send(runner.exchange.book_resubscribe(symbol)):
            feed.resubscribe_wanted.discard(symbol)
            delay = SNAPSHOT_BACKOFF.delay(sent)
            self._resubscribed[key] = (sent + 1, time.monotonic() + delay)

    def _maybe_fetch(self, runner: WsConnectionRunner, feed: BookFeed, symbol: str) -> None:
        key = (runner.plan.label, symbol)
        failures, retry_at = self._retry.get(key, (0, 0.0))
        if time.monotonic() < retry_at:
            return
        feed.snapshots_wanted.discard(symbol)
        feed.in_flight.add(symbol)
        task = asyncio.create_task(self._fetch(runner, feed, symbol, failures))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _fetch(
        self, runner: WsConnectionRunner, feed: BookFeed, symbol: str, failures: int
    ) -> None:
        exchange, key = runner.exchange, (runner.plan.label, symbol)
        request = feed.snapshot_request(symbol)
        try:
            payload = await self.client.get_json(exchange, request)
        except (TransientError, BadMessage) as exc:
            delay = SNAPSHOT_BACKOFF.delay(failures)
            self._retry[key] = (failures + 1, time.monotonic() + delay)
            metrics.BOOK_SNAPSHOTS.labels(exchange.name, "failed").inc()
            logger.warning(
                "book.snapshot_failed",
                extra={"exchange": exchange.name, "symbol": symbol, "error": str(exc)[:200],
                       "retry_in_s": round(delay, 1)},
            )  # fmt: skip
            feed.snapshot_failed(symbol)
            return
        self._retry.pop(key, None)
        metrics.BOOK_SNAPSHOTS.labels(exchange.name, "ok").inc()
        feed.on_snapshot(symbol, orjson.dumps(payload), now_ms())

    async def write_full(self, feeds: list[BookFeed]) -> None:
        """The changed books, whole, into the API's hash (which expires with the collector)."""
        fields = {
            full_book_field(top.exchange, top.group): encode_full_book(top)
            for feed in feeds
            for top in feed.full_books()
        }
        if not fields:
            return
        try:
            pipe = self.redis.pipeline(transaction=False)
            pipe.hset(self.hash_key, mapping=fields)  # type: ignore[arg-type]
            pipe.expire(self.hash_key, FULL_BOOKS_TTL_S)
            await pipe.execute()
        except TRANSIENT_REDIS_ERRORS:
            pass  # the producer logs Redis outages; the next write carries the books again

    def drop_idle(self, feeds: list[BookFeed]) -> None:
        live = {(r.plan.label, s) for r in self.runners() if r.books is not None
                for s in r.books.sync.books.symbols()}  # fmt: skip
        for key in [k for k in self._resubscribed if k in live]:
            del self._resubscribed[key]  # synced again: a later resync starts the backoff anew
        now = now_ms()
        for feed in feeds:
            for symbol in feed.drop_idle(now):
                logger.info("book.dropped_idle", extra={"exchange": feed.exchange.name,
                                                        "symbol": symbol})  # fmt: skip

    def export_metrics(self, feeds: list[BookFeed]) -> None:
        """Cumulative book counters -> Prometheus counters (deltas) and the live gauge."""
        live: dict[str, int] = {}
        for feed in feeds:
            venue, stats = feed.exchange.name, feed.sync.books.stats
            live[venue] = live.get(venue, 0) + sum(1 for _ in feed.sync.books.symbols())
            self._export(feed, "updates", "", stats.applied, metrics.BOOK_UPDATES.labels(venue))
            for reason, count in stats.resyncs.items():
                self._export(feed, "resync", reason, count,
                             metrics.BOOK_RESYNCS.labels(venue, reason))  # fmt: skip
            for cause, count in stats.dropped.items():
                self._export(feed, "dropped", cause, count,
                             metrics.BOOK_DROPPED.labels(venue, cause))  # fmt: skip
        for venue, count in live.items():
            metrics.BOOKS_LIVE.labels(venue).set(count)

    def summary(self) -> dict[str, dict[str, Any]]:
        """Per venue, for /health: books live, updates applied, resyncs and drops by reason
        (the current connections' counts: a replaced connection's go with it)."""
        out: dict[str, dict[str, Any]] = {}
        for runner in self.runners():
            feed = runner.books
            if feed is None:
                continue
            stats = feed.sync.books.stats
            item = out.setdefault(runner.exchange.name, {"live": 0, "updates": 0,
                                                         "resyncs": {}, "dropped": {}})  # fmt: skip
            item["live"] += sum(1 for _ in feed.sync.books.symbols())
            item["updates"] += stats.applied
            for name, counts in (("resyncs", stats.resyncs), ("dropped", stats.dropped)):
                for reason, count in counts.items():
                    item[name][reason] = item[name].get(reason, 0) + count
        return out

    def _export(self, feed: BookFeed, kind: str, label: str, total: int, counter: Any) -> None:
        if delta := self._exported.delta((id(feed), kind, label), total):
            counter.inc(delta)
