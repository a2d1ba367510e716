"""Upper time bounds that hold on a loaded machine.

A test asserting "finished within X s" fails by chance when the box is busy (2 cores, several
suites at once): the code under test is on time, the event loop just ran late. `LoopLag` measures
that lateness while the timed block runs (a ticker that should wake every `tick` seconds), so an
assertion can read `elapsed < bound + lag.seconds`: the bound stays as tight as written on an idle
machine and grows only by delay the loop itself demonstrably suffered.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from worker.tasks import cancel_and_wait


@dataclass
class LoopLag:
    """Total lateness of the ticker's wake-ups (seconds) observed so far."""

    seconds: float = 0.0


@contextlib.asynccontextmanager
async def loop_lag(tick: float = 0.01) -> AsyncIterator[LoopLag]:
    lag = LoopLag()
    loop = asyncio.get_running_loop()

    async def ticker() -> None:
        while True:
            due = loop.time() + tick
            await asyncio.sleep(tick)
            lag.seconds += max(0.0, loop.time() - due)

    task = asyncio.create_task(ticker())
    try:
        yield lag
    finally:
        await cancel_and_wait(task)
