"""The collector process: WebSocket bridges + REST collector -> exchange.raw.

Owns one Redis client, one producer, one aiohttp session; runs every connection plan of the
configured venues, the REST poller, history sync and clock-skew polls, and a once-a-second
health publisher (`<prefix>collector.health`, a hash with a TTL that the engine's /health
reads) that also touches COLLECTOR_LIVE_FILE, the container's liveness signal.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import redis.asyncio as aredis
from prometheus_client import start_http_server

from microservices.common.backoff import Backoff
from microservices.common.errors import FatalError
from microservices.common.lifecycle import cancel_on_stop, run_until_stopped
from microservices.common.producer import StreamProducer, producing
from microservices.common.redis_io import TRANSIENT_REDIS_ERRORS, create_redis
from microservices.common.settings import Settings
from microservices.common.streams import COLLECTOR_HEALTH_TTL_S, collector_key
from microservices.data_collector import exchanges
from microservices.data_collector.book_feed import BookFeed, BookParams
from microservices.data_collector.book_loop import BookLoop
from microservices.data_collector.clock_poller import poll_clock_skew
from microservices.data_collector.connections import ConnectionPool
from microservices.data_collector.exchange_data_collector import KINDS, ExchangeDataCollector
from microservices.data_collector.exchanges.base import Exchange, WsConnectionPlan
from microservices.data_collector.following import Following
from microservices.data_collector.history_store import HistoryStore
from microservices.data_collector.options_poller import OptionsPoller
from microservices.data_collector.registry import build_exchanges
from microservices.data_collector.rest_client import RestClient, rest_timeout
from microservices.data_collector.stats24h import Stats24hPoller
from microservices.data_collector.venue_status import VenueStatus
from microservices.data_collector.ws_bridge import BridgeParams, WsConnectionRunner

logger = logging.getLogger(__name__)


def bridge_params(settings: Settings, exchange: Exchange) -> BridgeParams:
    limits = [v for v in (exchange.max_connection_age_s, settings.ws_rotate_after_s) if v]
    return BridgeParams(
        backoff=Backoff(base_s=settings.ws_reconnect_base_s, cap_s=settings.ws_reconnect_cap_s),
        healthy_reset_s=settings.ws_healthy_reset_s,
        silence_timeout_s=settings.silence_timeout_s(exchange.name),
        open_timeout_s=settings.ws_open_timeout_s,
        rotate_after_s=min(limits) if exchange.max_connection_age_s else None,
        ping_interval_s=settings.ws_ping_interval_s,
        geo_block_retry_s=settings.ws_geo_block_retry_s,
        latency_types=frozenset(exchanges.venue_specs()[exchange.name].latency_types),
    )


def make_producer(redis: aredis.Redis, settings: Settings) -> StreamProducer:
    return StreamProducer(
        redis,
        batch_size=settings.producer_batch_size,
        flush_interval_ms=settings.producer_flush_interval_ms,
        buffer_size=settings.producer_buffer_size,
    )


class Collector:
    """Everything the collector runs, built from settings (also used by the all-in-one run)."""

    def __init__(self, settings: Settings, redis: aredis.Redis, rest: bool = True) -> None:
        self.settings = settings
        self.redis = redis
        self.streams = settings.streams()
        self.producer = make_producer(redis, settings)
        self.exchanges = build_exchanges(settings)
        specs = exchanges.venue_specs()
        for name, exchange in self.exchanges.items():  # subscribe their books too
            exchange.books = settings.orderbook_enabled and specs[name].books is not None
        self.status = VenueStatus()
        self.rest = rest and settings.rest_enabled
        # the followed symbols (listings, SYMBOLS, top:N) and the connections that serve them
        self.following = Following(settings, self.exchanges, self.producer, redis)
        self.pool = ConnectionPool(self.exchanges, self._make_runner, self.status)
        self.runners = self.pool.runners  # the live list: it changes with the followed symbols
        self.prepared = False  # listings loaded, SYMBOLS resolved
        self.rest_collector: ExchangeDataCollector | None = None
        self.book_loop: BookLoop | None = None
        self.rest_client: RestClient | None = None  # set when running (/health's `rest`)
        self.options_poller: OptionsPoller | None = None  # option-chain summaries

    async def run(self, stop: asyncio.Event) -> None:
        logger.info(
            "collector.starting",
            extra={"venues": list(self.exchanges), "connections": len(self.runners),
                   "symbols": self.settings.symbols},
        )  # fmt: skip
        async with (
            aiohttp.ClientSession(timeout=rest_timeout(self.settings)) as session,
            producing(self.producer),
        ):
            # Stop cancels connects, requests and waits at once: only the producer's drain
            # (leaving `producing`) may use the shutdown grace period.
            await cancel_on_stop(stop, self._run_tasks(session, stop))
        logger.info("collector.stopped", extra=self.counters())

    async def prepare(self) -> None:
        """Load the listings and resolve SYMBOLS now (FatalError for an unknown symbol), so
        that `run` (all services in one process) fails before starting anything."""
        async with aiohttp.ClientSession(timeout=rest_timeout(self.settings)) as session:
            await self._prepare(RestClient(session, timeout_s=self.settings.rest_timeout_s))

    async def _prepare(self, client: RestClient) -> None:
        # listings (cache, venue or naming rule) and SYMBOLS resolved before any subscription
        await self.following.start(client if self.rest else None)
        await self.pool.apply(self.exchanges)
        self.prepared = True

    def _make_runner(self, exchange: Exchange, plan: WsConnectionPlan) -> WsConnectionRunner:
        params = bridge_params(self.settings, exchange)
        return WsConnectionRunner(
            exchange, plan, self.producer, self.streams.raw, self.status, params,
            books=self._book_feed(exchange),
        )  # fmt: skip

    def _book_feed(self, exchange: Exchange) -> BookFeed | None:
        spec = exchanges.venue_specs()[exchange.name].books
        if not exchange.books or spec is None:
            return None
        s = self.settings
        params = BookParams(levels=s.orderbook_levels, interval_ms=s.orderbook_interval_ms,
                            idle_ms=int(s.orderbook_idle_s * 1000),
                            max_depth=s.orderbook_max_depth)  # fmt: skip
        return BookFeed(exchange, spec, params)

    async def _run_tasks(self, session: aiohttp.ClientSession, stop: asyncio.Event) -> None:
        client = RestClient(
            session,
            timeout_s=self.settings.rest_timeout_s,
            circuit_failures=self.settings.rest_circuit_failures,
            circuit_reset_s=self.settings.rest_circuit_reset_s,
        )
        self.rest_client = client
        for exchange in self.exchanges.values():  # REST windows bind WebSocket URL requests
            exchange.rest_blocked_for = functools.partial(client.blocked_for, exchange.name)
        if not self.prepared:
            await self._prepare(client)
        async with asyncio.TaskGroup() as group:
            group.create_task(self.pool.run(stop), name="ws")
            group.create_task(self._health_loop(stop), name="health")
            if self.settings.orderbook_enabled:
                books = self.book_loop = BookLoop(
                    lambda: self.runners, client, self.producer, self.streams.orderbook,
                    self.redis, collector_key(self.settings.stream_prefix, "books"),
                    self.settings.orderbook_full_interval_ms,
                )  # fmt: skip
                group.create_task(books.run(stop), name="books")
            if self.rest:
                group.create_task(self.following.run(stop, self.pool.apply), name="symbols")
                stats = Stats24hPoller(
                    self.exchanges, client, self.redis,
                    collector_key(self.settings.stream_prefix, "stats24h"),
                    self.following.listings.catalog, self.settings.market_stats_refresh_s,
                )  # fmt: skip
                group.create_task(stats.run(stop), name="stats24h")
                if self.settings.options_poll_s:
                    options = self.options_poller = OptionsPoller(
                        self.exchanges, client, self.producer, self.streams.raw, self.redis,
                        collector_key(self.settings.stream_prefix, "options"),
                        self.settings.options_poll_s,
                    )  # fmt: skip
                    group.create_task(options.run(stop), name="options")
                rest = self.rest_collector = ExchangeDataCollector(
                    self.exchanges, client, self.redis,
                    collector_key(self.settings.stream_prefix, "cursor"),
                    error_log_interval_s=self.settings.rest_error_log_interval_s,
                )  # fmt: skip
                group.create_task(
                    rest.run_polling(self.producer, self.streams.raw, stop,
                                     self.settings.rest_poll_interval_s),
                    name="rest-poll",
                )  # fmt: skip
                if self.settings.rest_history_dir:
                    group.create_task(self._history_loop(rest, stop), name="rest-history")
                if self.settings.clock_skew_poll_s:
                    group.create_task(
                        poll_clock_skew(self.exchanges, client, self.status,
                                        self.settings.clock_skew_poll_s, stop,
                                        self.settings.rest_error_log_interval_s),
                        name="clock-skew",
                    )  # fmt: skip

    def produced(self) -> int:
        """Entries handed to the producer so far: every record the WS parsers emitted, the REST
        poller's, the options summaries, and the book loop's exchange.orderbook entries.
        produced == sent + dropped + buffered (+ re-sent, see producer)."""
        parsed = sum(sum(runner.parser.stats.emitted.values()) for runner in self.runners)
        parsed += self.pool.retired_records  # connections replaced when the symbols changed
        polled = 0 if self.rest_collector is None else self.rest_collector.published
        books = 0 if self.book_loop is None else self.book_loop.published
        options = 0 if self.options_poller is None else self.options_poller.published
        return parsed + polled + books + options

    def counters(self) -> dict[str, Any]:
        return {
            "produced": self.produced(),
            "sent": self.producer.sent,
            "dropped": self.producer.dropped,
            "buffered": self.producer.pending,
            "redis_connected": self.producer.connected,
        }

    async def _health_loop(self, stop: asyncio.Event) -> None:
        key = collector_key(self.settings.stream_prefix, "health")
        live_file = self.settings.collector_live_file
        live = Path(live_file) if live_file else None
        while not stop.is_set():
            if live is not None:
                live.touch()  # liveness (container healthcheck): before Redis, which may hang
            for runner in self.runners:
                runner.sync_stats()
            summary = self.status.summary()
            if self.book_loop is not None:
                for venue, books in self.book_loop.summary().items():
                    summary.setdefault(venue, {})["books"] = books
            if self.options_poller is not None:
                for venue, chains in self.options_poller.health().items():
                    summary.setdefault(venue, {})["options"] = chains
            if self.rest_client is not None:
                for venue in self.exchanges:
                    summary.setdefault(venue, {})["rest"] = self.rest_client.venue_health(venue)
            fields = {venue: orjson.dumps(item) for venue, item in summary.items()}
            fields["_producer"] = orjson.dumps(self.counters())
            try:
                pipe = self.redis.pipeline(transaction=False)
                pipe.hset(key, mapping=fields)  # type: ignore[arg-type]
                pipe.expire(key, COLLECTOR_HEALTH_TTL_S)
                await pipe.execute()
            except TRANSIENT_REDIS_ERRORS:
                pass  # the producer logs Redis outages; health resumes with Redis
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=1.0)

    async def _history_loop(self, rest: ExchangeDataCollector, stop: asyncio.Event) -> None:
        lookback_ms = int(self.settings.rest_history_lookback_h * 3_600_000)
        store = HistoryStore(Path(self.settings.rest_history_dir))
        while not stop.is_set():
            await sync_history_files(rest, store, lookback_ms, stop)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.settings.rest_poll_interval_s)


async def sync_history_files(
    rest: ExchangeDataCollector, store: HistoryStore, lookback_ms: int, stop: asyncio.Event
) -> int:
    """One pass over every venue, symbol and kind into `store`; returns the rows written.

    The files are the resume point (a Redis cursor dies with an embedded Redis); their I/O
    runs off the event loop.
    """
    written = 0
    for venue, exchange in rest.exchanges.items():
        for symbol in exchange.symbols:
            for kind in KINDS:
                since = await asyncio.to_thread(store.newest_ms, venue, kind, symbol)
                frame = await rest.safe_sync(kind, venue, symbol, lookback_ms, since)
                written += await asyncio.to_thread(store.write, venue, kind, symbol, frame)
            if stop.is_set():
                return written
    return written


def serve_metrics(settings: Settings) -> None:
    """Expose this process's Prometheus metrics on METRICS_PORT (0 = off)."""
    if settings.metrics_port:
        start_http_server(settings.metrics_port, addr=settings.api_host)
        logger.info("metrics.listening", extra={"port": settings.metrics_port})


async def collector_main(settings: Settings, stop: asyncio.Event, rest: bool = True) -> None:
    if settings.redis_url is None:
        raise FatalError("REDIS_URL is required here (`cross-exchange run` embeds a Redis)")
    redis = create_redis(
        settings.redis_url,
        socket_timeout_s=settings.redis_socket_timeout_s,
        cluster=settings.redis_cluster,
    )
    try:
        await Collector(settings, redis, rest=rest).run(stop)
    finally:
        await redis.aclose()


def run_collector(settings: Settings, rest: bool = True) -> int:
    if settings.redis_url is None:
        raise FatalError("REDIS_URL is required for `collector` (`run` embeds a Redis)")
    serve_metrics(settings)
    run_until_stopped(lambda stop: collector_main(settings, stop, rest=rest))
    return 0
