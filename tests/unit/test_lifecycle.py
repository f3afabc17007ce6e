"""cancel_on_stop: work ends with its own result, or is cancelled (not awaited) on stop.

The signal side (first signal sets stop, second exits at once) runs against real processes in
tests/reliability/test_shutdown.py.
"""

from __future__ import annotations

import asyncio
import sys
import threading

import pytest

from microservices.common.lifecycle import cancel_on_stop
from microservices.common.redis_server import die_with_parent


async def test_work_that_ends_by_itself_returns() -> None:
    done: list[str] = []

    async def work() -> None:
        done.append("ran")

    await cancel_on_stop(asyncio.Event(), work())
    assert done == ["ran"]


async def test_stop_cancels_work_in_flight_and_runs_its_cleanup() -> None:
    stop = asyncio.Event()
    started, cleaned = asyncio.Event(), asyncio.Event()

    async def work() -> None:
        started.set()
        try:
            await asyncio.Event().wait()  # an answer that never comes
        finally:
            cleaned.set()

    runner = asyncio.create_task(cancel_on_stop(stop, work()))
    await started.wait()
    stop.set()
    await runner  # returns normally: being stopped is not an error
    assert cleaned.is_set()


async def test_errors_of_the_work_propagate() -> None:
    async def work() -> None:
        raise ValueError("bug")

    with pytest.raises(ValueError, match="bug"):
        await cancel_on_stop(asyncio.Event(), work())


async def test_cancelling_the_caller_cancels_the_work() -> None:
    started, cleaned = asyncio.Event(), asyncio.Event()

    async def work() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        finally:
            cleaned.set()

    runner = asyncio.create_task(cancel_on_stop(asyncio.Event(), work()))
    await started.wait()
    runner.cancel()
    with pytest.raises(asyncio.CancelledError):
        await runner
    assert cleaned.is_set()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux")
def test_parent_death_signal_is_armed_only_from_the_main_thread() -> None:
    assert die_with_parent() is not None
    from_thread: list[object] = []
    worker = threading.Thread(target=lambda: from_thread.append(die_with_parent()))
    worker.start()
    worker.join()
    assert from_thread == [None]  # a worker thread's exit would kill the child early
