"""Process lifecycle: SIGTERM/SIGINT set a stop event, then a grace period, then cancel.

`run_until_stopped(main)` is what every `__main__` uses: it runs `main(stop)` under asyncio,
turns the first signal into `stop.set()` (loops drain and return), and cancels the main task
if it has not finished `grace_s` later (arq's wait-then-cancel).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Coroutine
from typing import Any

logger = logging.getLogger(__name__)
MainFn = Callable[[asyncio.Event], Coroutine[Any, Any, None]]


def install_signal_handlers(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, _on_signal, stop, sig)


def _on_signal(stop: asyncio.Event, sig: signal.Signals) -> None:
    if not stop.is_set():
        logger.info("lifecycle.stopping", extra={"signal": sig.name})
    stop.set()


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
