"""`cancel_until_done` ends tasks that swallow cancellations, leaves well-behaved ones to end
on the first, gives up on a task that never ends, and retrieves the ended tasks' errors."""

from __future__ import annotations

import asyncio

from microservices.common.tasks import cancel_until_done


async def swallowing(times: int, log: list[str]) -> None:
    """Sleeps; swallows its first `times` cancellations."""
    while True:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            log.append("cancelled")
            if log.count("cancelled") > times:
                raise


async def test_each_task_is_cancelled_until_it_ends() -> None:
    logs: list[list[str]] = [[], [], []]
    tasks = [asyncio.create_task(swallowing(n, logs[n])) for n in range(3)]
    await asyncio.sleep(0)
    assert await cancel_until_done(tasks, rounds=4, round_s=0.05) == set()
    assert all(task.cancelled() for task in tasks)
    assert [len(log) for log in logs] == [1, 2, 3]  # well-behaved: cancelled once


async def test_a_task_that_never_ends_is_returned() -> None:
    log: list[str] = []
    released = asyncio.Event()

    async def stuck_until_released() -> None:
        while not released.is_set():
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                log.append("cancelled")  # swallowed, every time

    stuck = asyncio.create_task(stuck_until_released())
    await asyncio.sleep(0)
    assert await cancel_until_done([stuck], rounds=3, round_s=0.01) == {stuck}
    assert len(log) == 3  # one cancellation a round
    released.set()
    stuck.cancel()  # swallowed once more, then the loop sees the release
    await stuck


async def test_ended_tasks_errors_are_retrieved() -> None:
    async def failing() -> None:
        raise ValueError("boom")

    task = asyncio.create_task(failing())
    await asyncio.sleep(0)
    assert await cancel_until_done([task]) == set()
    assert isinstance(task.exception(), ValueError)
