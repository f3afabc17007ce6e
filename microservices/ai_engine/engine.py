"""The engine process: aggregator (optional), feature adapter, ExitBrain loop and the HTTP API.

uvicorn runs inside our event loop with its signal handling disabled: SIGTERM sets our stop
event (lifecycle.py), the loops drain, and the HTTP server is told to exit.

With STREAM_SHARDS > 1 the aggregator, feature adapter, ExitBrain, anomaly monitor and
large-trade watcher each own shards (OWNED_SHARDS, or SHARD_LEASES per role; see
docs/SCALING.md); the storage writer and alert delivery read every shard.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import redis.asyncio as aredis
import uvicorn

from backend.domains.exits.exit_brain_v3.cross_exchange_adapter import CrossExchangeAdapter
from backend.domains.exits.exit_brain_v3.models import ExitParams
from microservices.ai_engine.aggregator_service import AggregatorService
from microservices.ai_engine.app import EngineContext, create_app
from microservices.ai_engine.exitbrain_loop import (
    owned_only,
    run_exitbrain_loop,
    wait_for_fresh_data,
)
from microservices.ai_engine.exitbrain_shards import ExitBrainShards
from microservices.ai_engine.features.exchange_feature_adapter import FeatureAdapter
from microservices.ai_engine.features.feature_loader import FeatureLoader
from microservices.ai_engine.large_trades.service import LargeTradeService, rabbit_from_settings
from microservices.ai_engine.symbols_api import followed_symbols
from microservices.common.clock import now_ms
from microservices.common.errors import FatalError
from microservices.common.lifecycle import run_until_stopped
from microservices.common.producer import StreamProducer, producing
from microservices.common.redis_io import create_redis
from microservices.common.settings import Settings
from microservices.common.shard_publisher import fenced_writer
from microservices.common.shard_roles import ShardRole
from microservices.ml.anomaly_service import AnomalyService
from microservices.ml.signal_service import SignalService
from microservices.notify.service import Notifier
from microservices.storage.service import store_service

logger = logging.getLogger(__name__)
EXITBRAIN_ROLE = "exitbrain"


def exit_params(settings: Settings) -> ExitParams:
    return ExitParams(
        atr_coef=settings.exitbrain_atr_coef,
        tp_coef=settings.exitbrain_tp_coef,
        tp_multiplier_min=settings.exitbrain_tp_multiplier_min,
        tp_multiplier_max=settings.exitbrain_tp_multiplier_max,
        sl_coef=settings.exitbrain_sl_coef,
        trailing_max_vol=settings.exitbrain_trailing_max_vol,
        vol_cap=settings.exitbrain_vol_cap,
        divergence_cap=settings.exitbrain_divergence_cap,
        divergence_alert=settings.exitbrain_divergence_alert,
        stale_after_s=settings.exitbrain_stale_after_s,
        max_failures=settings.exitbrain_max_failures,
        default_use_trailing=settings.exitbrain_default_use_trailing,
        min_tp_pct=settings.exitbrain_min_tp_pct,
        min_sl_pct=settings.exitbrain_min_sl_pct,
        min_exchanges=settings.exitbrain_min_exchanges,
    )


class _EmbeddedServer(uvicorn.Server):
    """uvicorn without its own signal handlers (the process lifecycle owns them)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class Engine:
    def __init__(
        self,
        settings: Settings,
        redis: aredis.Redis,
        with_aggregator: bool = True,
        notify: bool = True,
    ):
        self.settings = settings
        self.redis = redis
        self.producer = StreamProducer(redis, batch_size=settings.producer_batch_size)
        self.aggregator = (
            AggregatorService(settings, redis, self.producer) if with_aggregator else None
        )
        self.features = FeatureAdapter(settings, redis, self.producer)
        # online signals of the promoted model (none promoted: nothing is published)
        self.signals = (
            SignalService(settings, self.features.publisher)
            if settings.ml_signals_enabled
            else None
        )
        if self.signals is not None:
            self.features.listeners.append(self.signals.observe)
        # the PostgreSQL writer when a database is configured (else /health says so)
        self.store = store_service(settings, redis)
        # alert delivery rides along when targets are configured (`engine --no-notify`: not)
        self.notifier = Notifier(settings, redis) if notify and settings.alert_targets else None
        # its own producer: it writes a batch's outputs before acknowledging the batch
        self.anomalies = AnomalyService(settings, redis) if settings.anomaly_enabled else None
        self.large_trades = (
            LargeTradeService(settings, redis, rabbit=rabbit_from_settings(settings))
            if settings.large_trades_enabled
            else None
        )
        # ExitBrain refreshes the symbols whose home shard it owns, writes fenced when leased;
        # a lost shard's state is dropped, a gained one's resumed (`exitbrain_shards`)
        self.exitbrain_role = ShardRole(EXITBRAIN_ROLE, settings, redis)
        self.adapter = CrossExchangeAdapter(
            redis,
            settings.streams(),
            exit_params(settings),
            enabled=settings.cross_exchange_enabled,
            writer=partial(fenced_writer, self.exitbrain_role),
        )
        self.exitbrain = ExitBrainShards(self.exitbrain_role, self.adapter, settings.streams())
        rates = None if self.aggregator is None else self.aggregator.rates
        self.context = EngineContext(
            settings,
            redis,
            self.adapter,
            FeatureLoader(redis, settings.streams()),
            rates,
            ml=self.signals,
            health_blocks={
                "anomalies": _health_of(self.anomalies),  # ANOMALY_ENABLED
                "large_trades": _health_of(self.large_trades),  # LARGE_TRADES_ENABLED
            },
        )
        self.app = create_app(self.context)

    async def run(self, stop: asyncio.Event, serve_http: bool = True) -> None:
        async with producing(self.producer), asyncio.TaskGroup() as group:
            if self.aggregator is not None:
                group.create_task(self.aggregator.run(stop), name="aggregator")
            group.create_task(self.features.run(stop), name="features")
            if self.signals is not None:
                group.create_task(self.signals.run(stop), name="signals")
            if self.store is not None:
                group.create_task(self.store.run(stop), name="store")
            if self.anomalies is not None:
                group.create_task(self.anomalies.run(stop), name="anomalies")
            if self.large_trades is not None:
                group.create_task(self.large_trades.run(stop), name="large-trades")
            group.create_task(self._exitbrain(stop), name="exitbrain")
            if self.notifier is not None:
                group.create_task(self.notifier.run(stop), name="notify")
            if serve_http:
                group.create_task(self._serve(stop), name="http")

    async def _exitbrain(self, stop: asyncio.Event) -> None:
        async with asyncio.TaskGroup() as group:  # per shard: resuming a gained one
            group.create_task(self.exitbrain_role.run(stop, self.exitbrain.start))
            await self._exitbrain_loop(stop)

    async def _exitbrain_loop(self, stop: asyncio.Event) -> None:
        s = self.settings
        if self.adapter.enabled:  # disabled: always local mode, nothing to wait for
            await wait_for_fresh_data(self._fresh_normalized, s.exitbrain_warmup_s, stop)
        followed = partial(followed_symbols, self.redis, s)  # top:N: the set changes
        owned = owned_only(followed, self.exitbrain.owns)
        await run_exitbrain_loop(self.exitbrain, owned, s.exitbrain_interval_s, stop)

    async def _fresh_normalized(self) -> bool:
        """True when the newest entry of an owned shard of exchange.normalized is younger
        than the staleness limit (by its entry id, i.e. when Redis added it)."""
        stream = self.settings.streams().normalized
        for shard in self.exitbrain_role.owned:
            rows: Any = await self.redis.xrevrange(stream.shard(shard).name, count=1)
            if not rows:
                continue
            entry_id = rows[0][0]
            text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
            if now_ms() - int(text.split("-")[0]) < self.settings.exitbrain_stale_after_s * 1000:
                return True
        return False

    async def _serve(self, stop: asyncio.Event) -> None:
        config = uvicorn.Config(
            self.app, host=self.settings.api_host, port=self.settings.api_port,
            log_level="warning", access_log=False, lifespan="off",
        )  # fmt: skip
        server = _EmbeddedServer(config)
        serving = asyncio.create_task(server.serve())
        stopper = asyncio.create_task(stop.wait())
        await asyncio.wait({serving, stopper}, return_when=asyncio.FIRST_COMPLETED)
        server.should_exit = True
        self.app.state.live_hub.close()  # ends the open live streams, so uvicorn can exit
        stopper.cancel()
        await serving
        if not stop.is_set():
            raise FatalError(
                f"HTTP server on {self.settings.api_host}:{self.settings.api_port} stopped"
            )


async def engine_main(
    settings: Settings, stop: asyncio.Event, with_aggregator: bool = True, notify: bool = True
) -> None:
    if settings.redis_url is None:
        raise FatalError("REDIS_URL is required here (`cross-exchange run` embeds a Redis)")
    redis = create_redis(
        settings.redis_url,
        socket_timeout_s=settings.redis_socket_timeout_s,
        cluster=settings.redis_cluster,
    )
    try:
        await Engine(settings, redis, with_aggregator, notify).run(stop)
    finally:
        await redis.aclose()


def run_engine(settings: Settings, with_aggregator: bool = True, notify: bool = True) -> int:
    if settings.redis_url is None:
        raise FatalError("REDIS_URL is required for `engine` (`run` embeds a Redis)")
    run_until_stopped(lambda stop: engine_main(settings, stop, with_aggregator, notify))
    return 0


def _health_of(service: AnomalyService | LargeTradeService | None) -> Callable[[], dict[str, Any]]:
    """A service's /health block; `{"enabled": false}` when it does not run here."""
    if service is None:
        return lambda: {"enabled": False}
    return service.health
