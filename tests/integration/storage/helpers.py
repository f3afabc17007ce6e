"""Shared pieces of the storage tests: run the writer until a condition holds, count rows."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from microservices.storage.service import StoreService


async def count(url: str, table: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return int(await conn.fetchval(f"SELECT count(*) FROM {table}"))
    finally:
        await conn.close()


async def fetch(url: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(url)
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


async def run_store_until(
    service: StoreService, done: Callable[[], Awaitable[bool]], timeout_s: float = 30.0
) -> None:
    """Run the writer until `done()` holds (checked every 50 ms), then stop it."""
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    try:
        async with asyncio.timeout(timeout_s):
            while not await done():
                if task.done():
                    task.result()  # raises what stopped it
                    raise AssertionError("the writer stopped by itself")
                await asyncio.sleep(0.05)
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=30)
