"""The ExitBrain refresh loop: every interval, refresh each symbol's cross-exchange adjustments.

Owns only scheduling and stopping. At start it waits (`wait_for_fresh_data`) until fresh
normalized data exists or a warm-up time has passed, so that a cold start does not publish a
FALLBACK_TO_LOCAL alert per symbol just because the aggregator has not emitted yet; data that
never comes is still reported, after the warm-up. The adapter turns Redis read errors into
fail-safe outcomes and swallows publish errors, so anything reaching this loop is logged and
the loop goes on. With shards, an instance refreshes only the symbols whose home shard it
owns (`owned_only`, role `exitbrain`; `exitbrain_shards.py` is the refresher then: it skips a
shard still resuming or lost meanwhile).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Final, Protocol

from redis.exceptions import RedisError

from microservices.common.errors import CrossExchangeError
from microservices.common.metrics import EXITBRAIN_LOCAL_MODE

logger = logging.getLogger(__name__)

# Errors that must not kill the loop; anything else is a bug and propagates.
LOOP_ERRORS: Final = (RedisError, OSError, CrossExchangeError)
# a fixed list, or a coroutine function giving the followed symbols each round
Symbols = Sequence[str] | Callable[[], Awaitable[Sequence[str]]]


class Refresher(Protocol):
    """What the loop needs from the adapter (CrossExchangeAdapter satisfies it)."""

    async def refresh(self, symbol: str) -> object: ...

    def in_local_mode(self, symbol: str) -> bool | None: ...  # None: not refreshed here


async def wait_for_fresh_data(
    fresh: Callable[[], Awaitable[bool]], warmup_s: float, stop: asyncio.Event, poll_s: float = 0.5
) -> bool:
    """Poll `fresh()` until it is true (True), or `warmup_s` passed or `stop` was set (False).
    Errors of `fresh()` (Redis not up yet) count as "not yet"."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + warmup_s
    while not stop.is_set():
        try:
            if await fresh():
                return True
        except LOOP_ERRORS as exc:
            logger.debug("exitbrain.warmup_probe_failed", extra={"error": type(exc).__name__})
        remaining = deadline - loop.time()
        if remaining <= 0:
            logger.info("exitbrain.warmup_over", extra={"fresh": False, "after_s": warmup_s})
            return False
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=min(poll_s, remaining))
    return False


def owned_only(
    source: Symbols, owns: Callable[[str], bool]
) -> Callable[[], Awaitable[Sequence[str]]]:
    """The symbols of `source` whose home shard is owned here (`ShardRole.owns`), asked
    again each round (leases move shards)."""

    async def symbols() -> Sequence[str]:
        current = await source() if callable(source) else source
        return [symbol for symbol in current if owns(symbol)]

    return symbols


async def _current(source: Symbols, last: Sequence[str]) -> Sequence[str]:
    """The symbols of this round: a fixed list, or what `source()` says (the followed set,
    which `top:N` changes); on a read error the previous round's."""
    if not callable(source):
        return source
    try:
        return await source()
    except LOOP_ERRORS as exc:
        logger.debug("exitbrain.symbols_unread", extra={"error": type(exc).__name__})
        return last


async def run_exitbrain_loop(
    adapter: Refresher, symbols: Symbols, interval_s: float, stop: asyncio.Event
) -> None:
    """Refresh every symbol, then wait `interval_s` (or until `stop` is set); until stopped."""
    current: Sequence[str] = await _current(symbols, ())
    logger.info(
        "exitbrain.loop_started", extra={"symbols": ",".join(current), "interval_s": interval_s}
    )
    while not stop.is_set():
        current = await _current(symbols, current)
        for symbol in current:
            if stop.is_set():
                break
            try:
                await adapter.refresh(symbol)
            except LOOP_ERRORS:
                logger.exception("exitbrain.refresh_failed", extra={"symbol": symbol})
            local = adapter.in_local_mode(symbol)
            if local is not None:
                EXITBRAIN_LOCAL_MODE.labels(symbol).set(1.0 if local else 0.0)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval_s)
    logger.info("exitbrain.loop_stopped")
