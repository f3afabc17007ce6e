"""The simulator's aiohttp application, its control API and the ways to run it.

`create_app(config)` builds the application (venue routes, REST middleware for faults and
rate limits, `/_sim/*` control API, the market pump). `start_simulator(config)` runs it for
tests (`async with ... as sim`); `run_simulator(config, stop)` runs it until `stop` is set;
`serve_until_signalled(config)` until SIGINT/SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import random
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import orjson
from aiohttp import WSCloseCode, web

from microservices.common.clock import now_ms
from microservices.data_collector import exchanges
from microservices.exchange_simulator.config import SimulatorConfig
from microservices.exchange_simulator.faults import FaultState
from microservices.exchange_simulator.market import MarketModel
from microservices.exchange_simulator.ratelimit import VenueLimiter, Verdict
from microservices.exchange_simulator.replay import ReplayLibrary
from microservices.exchange_simulator.runtime import CTX_KEY, Hub, SimContext, ctx_of
from microservices.exchange_simulator.stats import VenueStats
from microservices.exchange_simulator.venues.base import RestError, RestSpec, json_response
from microservices.exchange_simulator.venues.registry import (
    build_dialects,
    market_venues,
    sim_venues,
)
from microservices.exchange_simulator.venues.spec import SimVenue

logger = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_ARMING = frozenset(
    {
        "rate_limit_burst",
        "rate_limit_every",
        "server_error_burst",
        "server_error_every",
        "ban_burst",
    }
)


def _limiter(config: SimulatorConfig, venue: SimVenue) -> VenueLimiter:
    limiter = VenueLimiter(venue.weight_limit(config), bans=venue.rest.bans)
    limiter.arm(config.faults_for(venue.url_venue))
    return limiter


def build_context(config: SimulatorConfig) -> SimContext:
    market = MarketModel(config.market, now_ms(), market_venues(config.venues))
    served = sim_venues()
    return SimContext(
        config=config,
        market=market,
        hub=Hub(market, build_dialects(config.venues, market)),
        faults=FaultState(config.faults, config.venue_faults, config.venues),
        limiters={v: _limiter(config, served[v]) for v in config.venues},
        rest_specs={v: served[v].rest for v in config.venues},
        replay=ReplayLibrary.load(config.replay),
        _rng=random.Random(f"{config.market.seed}:connections"),
    )


def apply_faults(ctx: SimContext, venue: str | None, changes: Mapping[str, Any]) -> list[str]:
    """Change fault settings at runtime (ValueError on bad input); re-arm REST bursts."""
    venues = ctx.faults.update(venue, changes)
    if _ARMING & set(changes):
        for name in venues:
            ctx.limiters[name].arm(ctx.faults.for_venue(name))
    logger.info("simulator.faults_changed", extra={"venues": venues, "changes": dict(changes)})
    return venues


def reset_faults(ctx: SimContext) -> None:
    """Every venue healthy again, pending 429/418/5xx bursts included."""
    ctx.faults.reset()
    for name, limiter in ctx.limiters.items():
        limiter.arm(ctx.faults.for_venue(name))


# ------------------------------------------------------------------------------ middleware


@web.middleware
async def rest_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Per-venue REST accounting, latency, 429/418/5xx faults and Binance weight headers."""
    venue = request.path.split("/", 2)[1]
    ctx = ctx_of(request)
    spec = ctx.rest_specs.get(venue)
    if spec is None or venue not in ctx.limiters or _is_upgrade(request):
        return await handler(request)
    path, stats = request.path[len(venue) + 1 :], ctx.stats.venue(venue)
    faults = ctx.faults.for_venue(venue)
    stats.rest_total += 1
    stats.rest_requests[path] = stats.rest_requests.get(path, 0) + 1
    weight = spec.weight(path, request.query)
    verdict = ctx.limiters[venue].check(faults, weight, time.monotonic(), now_ms())
    if verdict.violation:
        stats.rest_inside_retry_after += 1
    if faults.latency_ms:
        await asyncio.sleep(faults.latency_ms / 1000)
    headers = {}
    if spec.weight_header:
        used = str(verdict.used_weight)
        headers = {"X-MBX-USED-WEIGHT-1M": used, "X-MBX-USED-WEIGHT": used}
    response = await _answer(request, handler, spec, verdict, stats)
    response.headers.update(headers)
    return response


def _is_upgrade(request: web.Request) -> bool:
    return request.headers.get("Upgrade", "").lower() == "websocket"


async def _answer(
    request: web.Request, handler: Handler, spec: RestSpec, verdict: Verdict, stats: VenueStats
) -> web.StreamResponse:
    """The refusal the verdict asks for, or the handler's answer (venue errors included)."""
    if verdict.status == 418:
        stats.rest_418 += 1
        return spec.limited(verdict)
    if verdict.status == 429:
        stats.rest_429 += 1
        return spec.limited(verdict)
    if verdict.status >= 500:
        stats.rest_5xx += 1
        return spec.server_error()
    try:
        return await handler(request)
    except RestError as exc:
        return json_response(exc.body, status=exc.status)
    except web.HTTPException as exc:  # unknown path (404) or method (405): keep the headers
        return web.Response(status=exc.status, text=exc.text, content_type="text/plain")


# ------------------------------------------------------------------------------ control API


async def _health(request: web.Request) -> web.Response:
    return json_response({"ok": True})


async def _stats(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    return json_response({**ctx.stats.snapshot(), "active_connections": len(ctx.hub.sessions)})


async def _reset_stats(request: web.Request) -> web.Response:
    ctx_of(request).stats.reset()
    return json_response({"ok": True})


async def _get_faults(request: web.Request) -> web.Response:
    return json_response(ctx_of(request).faults.snapshot())


async def _post_faults(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    try:
        body = orjson.loads(await request.read())
        if not isinstance(body, dict):
            raise ValueError("body must be a JSON object")
        if body.pop("reset", False):
            reset_faults(ctx)
        venue = body.pop("venue", None)
        if body:
            apply_faults(ctx, venue, body)
    except (ValueError, orjson.JSONDecodeError) as exc:
        return json_response({"error": str(exc)}, status=400)
    return json_response(ctx.faults.snapshot())


def _control_routes() -> list[web.RouteDef]:
    return [
        web.get("/_sim/health", _health),
        web.get("/_sim/stats", _stats),
        web.post("/_sim/stats/reset", _reset_stats),
        web.get("/_sim/faults", _get_faults),
        web.post("/_sim/faults", _post_faults),
    ]


# ------------------------------------------------------------------------------ app


async def _pump(app: web.Application) -> AsyncIterator[None]:
    ctx = app[CTX_KEY]
    task = asyncio.create_task(ctx.hub.run(ctx.config.tick_ms), name="sim.pump")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _close_sessions(app: web.Application) -> None:
    for session in list(app[CTX_KEY].hub.sessions):
        await session.close(WSCloseCode.GOING_AWAY, b"server shutdown")


def create_app(config: SimulatorConfig) -> web.Application:
    """The simulator as an aiohttp application (run it with any aiohttp runner)."""
    app = web.Application(middlewares=[rest_middleware])
    app[CTX_KEY] = build_context(config)
    for url_venue, served in sim_venues().items():
        if url_venue in config.venues:
            app.add_routes(served.routes())
    for module in exchanges.polled_simulators().values():  # delayed venues: CME settlements
        app.add_routes(importlib.import_module(module).routes())
    app.add_routes(_control_routes())
    app.cleanup_ctx.append(_pump)
    app.on_shutdown.append(_close_sessions)
    return app


class SimulatorHandle:
    """A running simulator, for tests and benchmarks."""

    def __init__(self, ctx: SimContext, host: str, port: int) -> None:
        self.ctx, self.host, self.port = ctx, host, port
        self.base_url = f"http://{host}:{port}"
        self.ws_base = f"ws://{host}:{port}"

    def rest_url(self, venue: str) -> str:
        """REST base URL of a venue (what a collector's `<venue>_rest_url` should be)."""
        return f"{self.base_url}/{venue}"

    def ws_url(self, venue: str) -> str:
        """WebSocket base URL of a venue (what a collector's `<venue>_ws_url` should be)."""
        return f"{self.ws_base}/{venue}"

    def endpoints(self) -> dict[str, str]:
        """Endpoint setting name -> URL for every served venue (`binance_ws_url`: ...)."""
        return exchanges.simulator_endpoints(self.base_url, self.ws_base, self.ctx.config.venues)

    def endpoint_env(self) -> dict[str, str]:
        """The same as environment variables (BINANCE_WS_URL=...), for child processes."""
        return {name.upper(): url for name, url in self.endpoints().items()}

    def stats(self) -> dict[str, Any]:
        return {**self.ctx.stats.snapshot(), "active_connections": len(self.ctx.hub.sessions)}

    def set_faults(self, venue: str | None = None, **changes: Any) -> None:
        """Change the faults of one venue (all when None): set_faults("binance", drop_every=5)."""
        apply_faults(self.ctx, venue, changes)

    def reset_faults(self) -> None:
        reset_faults(self.ctx)


@contextlib.asynccontextmanager
async def start_simulator(config: SimulatorConfig) -> AsyncIterator[SimulatorHandle]:
    """Serve on config.host:config.port (0 = a free port) until the block exits."""
    runner = web.AppRunner(
        create_app(config), handle_signals=False, access_log=None, shutdown_timeout=2.0
    )
    await runner.setup()
    try:
        site = web.TCPSite(runner, config.host, config.port)
        await site.start()
        port = int(runner.addresses[0][1])
        ctx = runner.app[CTX_KEY]
        yield SimulatorHandle(ctx, config.host, port)
    finally:
        await runner.cleanup()


async def serve_until_signalled(config: SimulatorConfig) -> None:
    """Run until SIGINT or SIGTERM (what `python -m microservices.exchange_simulator` does)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await run_simulator(config, stop)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


async def run_simulator(config: SimulatorConfig, stop_event: asyncio.Event) -> None:
    """Serve until `stop_event` is set; logs where each venue is reachable."""
    async with start_simulator(config) as sim:
        logger.info(
            "simulator.started",
            extra={
                "base_url": sim.base_url,
                "ws_base": sim.ws_base,
                "venues": ",".join(config.venues),
                "symbols": ",".join(config.market.symbols),
            },
        )
        await stop_event.wait()
    logger.info("simulator.stopped")
