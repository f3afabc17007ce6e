"""Cancelling asyncio tasks until they end.

A cancellation can be swallowed: redis-py (8.x, Python 3.11) loses one that lands inside a
command at the wrong moment, and the task carries on as if never cancelled (redis/redis-py
issues 2028 and 2551 describe the same class of bug). `cancel_until_done` sends the
cancellation again after each `round_s` until every task has ended, or gives up after
`rounds` and returns the ones still running, so a stop or a lost shard is never held up by
one swallowed cancellation.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from typing import Any, Final

# a task gets this long to end after each cancellation (its cleanup included) before the next
CANCEL_ROUNDS: Final = 4
CANCEL_ROUND_S: Final = 0.25


async def cancel_until_done(
    tasks: Collection[asyncio.Task[Any]],
    rounds: int = CANCEL_ROUNDS,
    round_s: float = CANCEL_ROUND_S,
) -> set[asyncio.Task[Any]]:
    """Cancel `tasks` until they end; the ones still running after `rounds` cancellations.
    The ended tasks' exceptions are retrieved (their owner logs them, if it wants)."""
    running = {task for task in tasks if not task.done()}
    for _ in range(rounds):
        if not running:
            break
        for task in running:
            task.cancel()
        _, running = await asyncio.wait(running, timeout=round_s)
    for task in tasks:
        if task.done() and not task.cancelled():
            task.exception()  # retrieved: no "exception was never retrieved" at exit
    return running
