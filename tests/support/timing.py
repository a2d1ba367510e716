"""Upper time bounds that hold on a loaded machine.

A test asserting "finished within X s" fails by chance when the box is busy (2 cores, several
suites at once): the code under test is on time, the event loop just ran late. `LoopLag` measures
that lateness while the timed block runs (a ticker that should wake every `tick` seconds), so an
assertion can read `elapsed < bound + lag.seconds`: the bound stays as tight as written on an idle
machine and grows only by delay the loop itself demonstrably suffered. Its `worst` bounds how
long any one step held the loop (a test of the worker's own fairness, not of the machine).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from worker.tasks import cancel_and_wait


@dataclass
class LoopLag:
    """Total lateness of the ticker's wake-ups (seconds) observed so far, and the largest one:
    `worst` is how long the loop was held at most, e.g. by one step of synchronous work."""

    seconds: float = 0.0
    worst: float = 0.0
    due: float = 0.0
    """When the ticker's pending wake-up is due (loop time)."""

    def late_by(self, now: float) -> None:
        late = max(0.0, now - self.due)
        self.seconds += late
        self.worst = max(self.worst, late)


@contextlib.asynccontextmanager
async def loop_lag(tick: float = 0.01) -> AsyncIterator[LoopLag]:
    lag = LoopLag()
    loop = asyncio.get_running_loop()

    async def ticker() -> None:
        while True:
            lag.due = loop.time() + tick
            await asyncio.sleep(tick)
            lag.late_by(loop.time())

    lag.due = loop.time() + tick
    task = asyncio.create_task(ticker())
    try:
        yield lag
    finally:
        # A block that ends the timed code is over before the ticker's overdue wake-up runs
        # (the code's own continuation is first in line): count that wake-up here.
        lag.late_by(loop.time())
        await cancel_and_wait(task)
