"""The WebSocket connections of the collected venues, kept equal to their connection plans.

A venue's plans (`Exchange.ws_connections()`: a label, a URL, subscribe frames, the symbols it
serves) change when its followed symbols change. `apply()` recomputes them: a connection whose
plan is unchanged keeps running untouched; one whose plan changed is replaced (the old socket
closed, a new one opened with the new subscriptions); one no longer planned is closed. That is
the one mechanism every venue supports (Binance puts its streams in the URL; Bybit and
Coinbase would need per-venue unsubscribe frames), and it touches only the connections whose
symbols changed: each symbol's streams stay on the connection that served them while the
symbols before it in the plan stay the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable, Mapping
from urllib.parse import parse_qs, urlsplit

import orjson

from microservices.data_collector.exchanges.base import Exchange, WsConnectionPlan
from microservices.data_collector.venue_status import VenueStatus
from microservices.data_collector.ws_bridge import WsConnectionRunner

logger = logging.getLogger(__name__)
MakeRunner = Callable[[Exchange, WsConnectionPlan], WsConnectionRunner]


class ConnectionPool:
    """Runs one `WsConnectionRunner` per plan of every venue; `runners` is the live list."""

    def __init__(
        self, exchanges: Mapping[str, Exchange], make_runner: MakeRunner, status: VenueStatus
    ) -> None:
        self.exchanges = exchanges
        self.make_runner = make_runner
        self.status = status
        self.runners: list[WsConnectionRunner] = []
        self.retired_records = 0  # records emitted by connections already replaced
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._group: asyncio.TaskGroup | None = None
        self._stop: asyncio.Event | None = None
        self._lock = asyncio.Lock()
        for exchange in exchanges.values():
            for plan in exchange.ws_connections():
                self._add(exchange, plan)

    async def run(self, stop: asyncio.Event) -> None:
        """Run every connection until `stop`; connections added later join this group."""
        self._stop = stop
        async with asyncio.TaskGroup() as group:
            self._group = group
            for runner in self.runners:
                self._start(runner)
            await stop.wait()
        self._group = None

    async def apply(self, venues: Iterable[str]) -> None:
        """Bring the connections of `venues` in line with their current plans."""
        async with self._lock:
            for venue in sorted(set(venues)):
                await self._apply(self.exchanges[venue])

    async def _apply(self, exchange: Exchange) -> None:
        plans = {plan.label: plan for plan in exchange.ws_connections()}
        current = {r.plan.label: r for r in self.runners if r.exchange is exchange}
        for label, runner in current.items():
            plan = plans.get(label)
            if plan is not None and _same(plan, runner.plan):
                continue
            await self._retire(runner)
            if plan is None:
                self.status.forget(label)
        replaced = 0
        for label, plan in plans.items():
            if label in current and _same(plan, current[label].plan):
                continue
            self._start(self._add(exchange, plan))
            replaced += 1
        if replaced or len(current) != len(plans):
            logger.info("ws.resubscribed", extra={"exchange": exchange.name, "opened": replaced,
                        "connections": len(plans), "symbols": len(exchange.symbols)})  # fmt: skip

    def _add(self, exchange: Exchange, plan: WsConnectionPlan) -> WsConnectionRunner:
        runner = self.make_runner(exchange, plan)
        timeout_s = runner.params.silence_timeout_s
        self.status.register(plan.label, exchange.name, timeout_s, subscriptions(plan))
        self.runners.append(runner)
        return runner

    def _start(self, runner: WsConnectionRunner) -> None:
        if self._group is None or self._stop is None:
            return  # started by run()
        task = self._group.create_task(runner.run(self._stop), name=runner.plan.label)
        self._tasks[runner.plan.label] = task

    async def _retire(self, runner: WsConnectionRunner) -> None:
        task = self._tasks.pop(runner.plan.label, None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        runner.sync_stats()
        self.retired_records += sum(runner.parser.stats.emitted.values())
        self.runners.remove(runner)


def _same(a: WsConnectionPlan, b: WsConnectionPlan) -> bool:
    return (a.url, a.subscribe, a.symbols) == (b.url, b.subscribe, b.symbols)


def subscriptions(plan: WsConnectionPlan) -> tuple[int, int, int]:
    """(streams, subscribe frames, most streams in one frame) of a plan, for /health: Binance
    streams in the URL (`?streams=a/b`), Bybit `args`, Coinbase `product_ids` x `channels`,
    KuCoin the symbols of a `topic`."""
    query = parse_qs(urlsplit(plan.url).query).get("streams", [""])[0]
    in_url = len(query.split("/")) if query else 0
    per_frame = [0]
    for frame in plan.subscribe:
        with contextlib.suppress(orjson.JSONDecodeError, AttributeError, TypeError):
            body = orjson.loads(frame)
            if "args" in body:
                per_frame.append(len(body["args"]))
            elif isinstance(body.get("topic"), str):  # KuCoin `<channel>:<sym>,<sym>`
                per_frame.append(len(body["topic"].partition(":")[2].split(",")))
            else:
                per_frame.append(len(body.get("product_ids", ())) * len(body.get("channels", ())))
    return in_url + sum(per_frame), len(plan.subscribe), max(per_frame)
