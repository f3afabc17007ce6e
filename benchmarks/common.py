"""Shared helpers: repeated timing with min/median/max, machine description, table output."""

from __future__ import annotations

import asyncio
import os
import platform
import shutil
import statistics
import subprocess
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

REPO = Path(__file__).resolve().parents[1]
SHARED_FIXTURES = Path(
    os.environ.get("SHARED_FIXTURES_DIR", str(REPO.parent / "shared" / "fixtures"))
)


@dataclass(frozen=True)
class Result:
    name: str
    unit: str
    runs: list[float]
    note: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.runs)

    def row(self) -> str:
        digits = 1 if max(abs(r) for r in self.runs) < 100 else 0
        low, mid, high = (f"{v:,.{digits}f}" for v in (min(self.runs), self.median, max(self.runs)))
        return f"| {self.name} | {low} | {mid} | {high} | {self.unit} | {self.note} |"


def repeat(fn: Callable[[], float], runs: int = 5) -> list[float]:
    """Call `fn` (which returns one measurement) `runs` times."""
    return [fn() for _ in range(runs)]


def rate(count: int, fn: Callable[[], object]) -> float:
    """count / seconds taken by fn()."""
    started = time.perf_counter()
    fn()
    return count / (time.perf_counter() - started)


async def timed_with_stall(work: Awaitable[T]) -> tuple[T, float, float]:
    """`work`'s result, the seconds it took, and the longest gap in ms between the ticks of a
    1 ms ticker meanwhile: how long `work` held the event loop at a stretch."""
    longest, done = 0.0, asyncio.Event()

    async def ticker() -> None:
        nonlocal longest
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            longest, last = max(longest, now - last), now

    task = asyncio.create_task(ticker())
    started = time.perf_counter()
    try:
        result = await work
    finally:
        seconds = time.perf_counter() - started
        done.set()
        await task
    return result, seconds, 1000 * longest


def machine() -> str:
    redis_version = "not installed"
    if shutil.which("redis-server"):
        out = subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout
        redis_version = out.split("v=")[1].split()[0] if "v=" in out else out.strip()
    return (
        f"{os.cpu_count()} cores ({platform.processor() or platform.machine()}), "
        f"Python {platform.python_version()}, Redis {redis_version}, {platform.system()}"
    )


def table(results: list[Result]) -> str:
    head = ["| benchmark | min | median | max | unit | note |", "|---|---|---|---|---|---|"]
    return "\n".join(head + [r.row() for r in results])
