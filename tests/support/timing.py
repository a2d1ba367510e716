"""Upper time bounds that hold on a loaded machine.

A test asserting "finished within X s" fails by chance when the box is busy (2 cores, several
suites at once): the code under test is on time, the event loop just ran late. `LoopLag` measures
that lateness while the timed block runs (a ticker that should wake every `tick` seconds), so an
assertion can read `elapsed < bound + lag.seconds`: the bound stays as tight as written on an idle
machine and grows only by delay the loop itself demonstrably suffered. Its `held` is the most
CPU time the loop's thread spent between two wake-ups: how long one step of work held the loop
without yielding (a test of the worker's own fairness, whatever the machine's load).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from worker.tasks import cancel_and_wait


@dataclass
class LoopLag:
    """Total lateness of the ticker's wake-ups (seconds) observed so far, the largest one, and
    `held`: the most CPU time the loop's thread spent between two wake-ups, i.e. how long work
    held the loop without yielding. Lateness also counts time the machine gave to other
    processes; `held` does not, so a bound on it does not depend on the machine's load."""

    seconds: float = 0.0
    worst: float = 0.0
    held: float = 0.0
    due: float = 0.0
    """When the ticker's pending wake-up is due (loop time)."""
    cpu_since: float = 0.0
    """The thread's CPU time when the ticker last ran."""

    def woke(self, now: float) -> None:
        late = max(0.0, now - self.due)
        self.seconds += late
        self.worst = max(self.worst, late)
        self.held = max(self.held, time.thread_time() - self.cpu_since)


@contextlib.asynccontextmanager
async def loop_lag(tick: float = 0.01) -> AsyncIterator[LoopLag]:
    lag = LoopLag()
    loop = asyncio.get_running_loop()

    async def ticker() -> None:
        while True:
            lag.due, lag.cpu_since = loop.time() + tick, time.thread_time()
            await asyncio.sleep(tick)
            lag.woke(loop.time())

    lag.due, lag.cpu_since = loop.time() + tick, time.thread_time()
    task = asyncio.create_task(ticker())
    try:
        yield lag
    finally:
        # A block that ends the timed code is over before the ticker's overdue wake-up runs
        # (the code's own continuation is first in line): count that wake-up here.
        lag.woke(loop.time())
        await cancel_and_wait(task)
