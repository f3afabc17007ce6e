"""The simulator's shared runtime: its context object and the hub that pumps the market.

Every `tick_ms` the hub steps the market model to wall-clock now, lets each venue dialect
render the events its clients asked for, and hands each connection one batch. Frames are
rendered and encoded once per tick and shared by all connections that want them.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import defaultdict
from dataclasses import dataclass, field

from aiohttp import web

from microservices.common.clock import now_ms, wall_ms
from microservices.exchange_simulator.config import SimulatorConfig
from microservices.exchange_simulator.faults import FaultState
from microservices.exchange_simulator.market import Event, MarketModel
from microservices.exchange_simulator.ratelimit import VenueLimiter
from microservices.exchange_simulator.replay import ReplayLibrary
from microservices.exchange_simulator.session import DATA, Item, WsSession
from microservices.exchange_simulator.stats import SimStats
from microservices.exchange_simulator.venues.base import Dialect, Rendered, RestSpec


class Hub:
    """Fans synthetic frames out to the live sessions."""

    def __init__(self, market: MarketModel, dialects: dict[str, Dialect]) -> None:
        self.market = market
        self.dialects = dialects  # market venue -> dialect
        self.sessions: set[WsSession] = set()

    def add(self, session: WsSession) -> None:
        self.sessions.add(session)

    def remove(self, session: WsSession) -> None:
        self.sessions.discard(session)

    async def run(self, tick_ms: int) -> None:
        """Pump forever (cancel to stop), one step per tick, without drifting."""
        loop = asyncio.get_running_loop()
        tick = tick_ms / 1000
        due = loop.time()
        while True:
            self.pump(now_ms())
            due += tick
            delay = due - loop.time()
            if delay < 0:  # overloaded: skip the missed ticks rather than burst
                due, delay = loop.time(), 0.0
            await asyncio.sleep(delay)

    def pump(self, now: int) -> int:
        """One market step at `now` (epoch ms); returns the number of frames queued."""
        live = [s for s in self.sessions if s.live and not s.closing]
        active = {(s.dialect.market_venue, sym) for s in live for sym in s.symbols}
        events = self.market.step(now, active)
        if not live:
            return 0
        by_venue: dict[str, list[Event]] = defaultdict(list)
        for event in events:
            by_venue[event.venue].append(event)
        groups: dict[str, list[WsSession]] = defaultdict(list)
        for session in live:
            groups[session.dialect.market_venue].append(session)
        queued = 0
        for venue, sessions in groups.items():
            dialect = self.dialects[venue]
            wanted = set().union(*(s.subs for s in sessions))
            rendered = dialect.render(by_venue.get(venue, []), wanted)
            if rendered:
                queued += _dispatch(dialect, rendered, sessions)
        return queued


def _dispatch(dialect: Dialect, rendered: Rendered, sessions: list[WsSession]) -> int:
    encoded: dict[tuple[int, str], bytes] = {}
    queued = 0
    for session in sessions:
        subs, mode = session.subs, session.mode
        batch: list[Item] = []
        for index, (key, payload) in enumerate(rendered):
            if key not in subs:
                continue
            data = encoded.get((index, mode))
            if data is None:
                data = encoded[(index, mode)] = dialect.encode(key, payload, mode)
            batch.append((DATA, key, data))
        if batch:
            session.enqueue(batch)
            queued += len(batch)
    return queued


@dataclass
class SimContext:
    """Everything a request handler or connection needs, built once by `create_app`."""

    config: SimulatorConfig
    market: MarketModel
    hub: Hub
    faults: FaultState
    limiters: dict[str, VenueLimiter]
    rest_specs: dict[str, RestSpec]  # URL venue -> how it prices and refuses REST requests
    replay: ReplayLibrary
    stats: SimStats = field(default_factory=SimStats)
    _rng: random.Random = field(default_factory=lambda: random.Random(0))

    def next_connection(self) -> tuple[str, int]:
        """(conn_id, fault-rng seed) of a new connection, deterministic for a seed."""
        bits = self._rng.getrandbits(128)
        return str(uuid.UUID(int=bits)), bits & 0xFFFFFFFF


CTX_KEY: web.AppKey[SimContext] = web.AppKey("exchange_simulator.ctx", SimContext)


def ctx_of(request: web.Request) -> SimContext:
    return request.app[CTX_KEY]


def venue_clock_ms(request: web.Request) -> float:
    """The venue's clock (epoch ms) for a REST answer: our wall time plus the `clock_skew_ms`
    fault of the URL venue the path starts with."""
    venue = request.path.split("/", 2)[1]
    faults = ctx_of(request).faults
    skew_ms = faults.for_venue(venue).clock_skew_ms if venue in faults.venues else 0.0
    return wall_ms() + skew_ms
