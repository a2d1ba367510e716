"""Small asyncio helpers shared by the worker's layers (owns `cancel_and_wait`)."""

from __future__ import annotations

import asyncio
from typing import Any


async def cancel_and_wait(task: asyncio.Task[Any]) -> None:
    """Cancels `task` and waits until it has ended, swallowing the cancellation it ends with.

    A cancellation of the caller itself while it waits is not swallowed: it propagates, as an
    `await` should let it (Python 3.11's `Task.cancelling()` tells the two apart).
    """
    caller = asyncio.current_task()
    cancelling = caller.cancelling() if caller is not None else 0
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        if caller is not None and caller.cancelling() > cancelling:
            raise
