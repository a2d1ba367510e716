"""`cancel_and_wait` ends a background task, and never eats its caller's own cancellation."""

from __future__ import annotations

import asyncio

import pytest

from worker.tasks import cancel_and_wait


async def test_cancels_the_task_and_waits_for_its_cleanup() -> None:
    started, cleaned = asyncio.Event(), asyncio.Event()

    async def work() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        finally:
            await asyncio.sleep(0)  # cleanup that itself awaits
            cleaned.set()

    task = asyncio.create_task(work())
    await started.wait()
    await cancel_and_wait(task)
    assert task.cancelled()
    assert cleaned.is_set()


async def test_a_task_that_already_ended_is_left_as_it_ended() -> None:
    task = asyncio.create_task(asyncio.sleep(0, result=7))
    await task
    await cancel_and_wait(task)
    assert task.result() == 7


async def test_the_callers_own_cancellation_while_it_waits_propagates() -> None:
    cleanup_started, cleanup_may_end = asyncio.Event(), asyncio.Event()

    async def slow_to_stop() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            cleanup_started.set()
            await asyncio.shield(cleanup_may_end.wait())

    background = asyncio.create_task(slow_to_stop())
    await asyncio.sleep(0)
    after_wait = asyncio.Event()

    async def caller() -> None:
        await cancel_and_wait(background)
        after_wait.set()

    stopping = asyncio.create_task(caller())
    await cleanup_started.wait()
    stopping.cancel()  # the caller is cancelled while the background task cleans up
    cleanup_may_end.set()
    with pytest.raises(asyncio.CancelledError):
        await stopping
    assert not after_wait.is_set()
    assert background.done()
