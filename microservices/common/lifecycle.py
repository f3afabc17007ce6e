"""Process lifecycle: SIGTERM/SIGINT set a stop event, then a grace period, then cancel.

`run_until_stopped(main)` is what every `__main__` uses: it runs `main(stop)` under asyncio,
turns the first signal into `stop.set()` (loops drain and return), and cancels the main task
if it has not finished `grace_s` later (arq's wait-then-cancel). A second signal exits the
process at once (`lifecycle.forced_exit`, exit code 128 + signal number), skipping drains.
`cancel_on_stop` is for work that holds nothing worth finishing (in-flight requests,
connects, sleeps): it is cancelled when `stop` is set instead of using the grace period.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, NoReturn, TypeVar

T = TypeVar("T")
logger = logging.getLogger(__name__)
MainFn = Callable[[asyncio.Event], Coroutine[Any, Any, None]]


def install_signal_handlers(stop: asyncio.Event) -> None:
    """The first SIGTERM/SIGINT sets `stop`; the second exits the process at once."""
    loop = asyncio.get_running_loop()
    received: list[signal.Signals] = []

    def on_signal(sig: signal.Signals) -> None:
        received.append(sig)
        if len(received) > 1:
            force_exit(sig)
        logger.info("lifecycle.stopping", extra={"signal": sig.name})
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, on_signal, sig)


def force_exit(sig: signal.Signals) -> NoReturn:
    """Exit now without draining or cleaning up (the second Ctrl-C). Children that must not
    outlive this process die with it on their own (see redis_server's parent-death signal)."""
    code = 128 + int(sig)
    logger.warning("lifecycle.forced_exit", extra={"signal": sig.name, "exit_code": code})
    for handler in logging.getLogger().handlers:
        with contextlib.suppress(Exception):  # a broken log pipe must not stop the exit
            handler.flush()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


async def cancel_on_stop(stop: asyncio.Event, work: Awaitable[T]) -> T | None:
    """Run `work` until it returns (its result) or `stop` is set (None), then cancel it and
    wait for it to unwind (its `finally` blocks run; they must be short). Errors of `work`
    propagate."""
    task = asyncio.ensure_future(work)
    stopper = asyncio.create_task(stop.wait(), name="stop-wait")
    try:
        await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
        task.cancel()
        await asyncio.wait({task})
    if task.cancelled():
        return None
    return task.result()


async def supervise(main: MainFn, grace_s: float = 10.0) -> None:
    stop = asyncio.Event()
    install_signal_handlers(stop)
    task: asyncio.Task[None] = asyncio.create_task(main(stop), name="main")
    stopper = asyncio.create_task(stop.wait(), name="stop-wait")
    await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    if not task.done():
        done, _ = await asyncio.wait({task}, timeout=grace_s)
        if not done:
            logger.warning("lifecycle.grace_expired", extra={"grace_s": grace_s})
            task.cancel()
    stopper.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def run_until_stopped(main: MainFn, grace_s: float = 10.0) -> None:
    asyncio.run(supervise(main, grace_s))
