"""A small independent L2 client for the simulator's depth tests (no production book code).

`stepped_simulator` starts the simulator with its pump timer parked, so a test moves the
market itself (`Stepper.step`) and knows which frames belong to which step: after a step it
sends a control message and reads until the answer, which the server queues behind them.
`Book` is a dict per side, price text -> size text, as the venues send them.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import aiohttp
from websockets.asyncio.client import ClientConnection

from microservices.exchange_simulator.config import FaultConfig, MarketConfig, SimulatorConfig
from microservices.exchange_simulator.server import SimulatorHandle, start_simulator

TIMEOUT_S = 10.0
STEP_MS = 100


class Stepper:
    """Moves the simulator's market by hand, STEP_MS at a time."""

    def __init__(self, sim: SimulatorHandle) -> None:
        self.sim = sim

    def step(self, times: int = 1) -> None:
        for _ in range(times):
            self.sim.ctx.hub.pump(self.sim.ctx.market.now_ms + STEP_MS)


@asynccontextmanager
async def stepped_simulator(**faults: Any) -> AsyncIterator[tuple[SimulatorHandle, Stepper]]:
    config = SimulatorConfig(
        port=0,
        tick_ms=3_600_000,  # the pump runs once at start, then the test steps the market
        market=MarketConfig(rate=20.0, seed=7),
        faults=FaultConfig(**faults),
    )
    async with start_simulator(config) as sim:
        yield sim, Stepper(sim)


async def until(ws: ClientConnection, done: Callable[[Any], bool]) -> list[Any]:
    """Frames received before the first one for which `done` holds (that one excluded)."""
    frames: list[Any] = []
    async with asyncio.timeout(TIMEOUT_S):
        while True:
            frame = json.loads(await ws.recv())
            if done(frame):
                return frames
            frames.append(frame)


async def wait_for(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(TIMEOUT_S):
        while not condition():
            await asyncio.sleep(0.01)


async def get_json(http: aiohttp.ClientSession, url: str) -> tuple[int, Any, Any]:
    async with http.get(url) as response:
        return response.status, await response.json(content_type=None), response.headers


class Book:
    """Both sides of one reconstructed book: price text -> size text."""

    def __init__(self, bids: list[list[str]], asks: list[list[str]]) -> None:
        self.bids: dict[str, str] = {}
        self.asks: dict[str, str] = {}
        self.apply(bids, asks)

    def apply(self, bids: list[list[str]], asks: list[list[str]]) -> None:
        for side, rows in ((self.bids, bids), (self.asks, asks)):
            for price, size in rows:
                if Decimal(size) == 0:
                    side.pop(price, None)
                else:
                    side[price] = size

    def best(self) -> tuple[str, str, str, str]:
        """(best bid, its size, best ask, its size)."""
        bid = max(self.bids, key=Decimal)
        ask = min(self.asks, key=Decimal)
        return bid, self.bids[bid], ask, self.asks[ask]

    def levels(self) -> tuple[dict[str, str], dict[str, str]]:
        return dict(self.bids), dict(self.asks)


def as_decimal(levels: dict[str, str]) -> dict[Decimal, Decimal]:
    """Compare books written with different decimals (Coinbase sizes, Bybit spot)."""
    return {Decimal(p): Decimal(q) for p, q in levels.items()}
