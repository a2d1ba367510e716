"""The tests' clocks: `FakeClock`, which moves only when a test (or a fake sleep) moves it, and
`ShiftedClock`, real time plus an offset the test moves forward.

`FakeClock` is the clock (call it), its `sleep` (advances the clock by what the code under test
waits, and records it) and `sleep_after(gate)` (a sleep that first waits for `gate`); pass
`clock=fake, sleep=fake.sleep` to the code under test. One module for every suite, so a test
never imports another test module's double.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field


@dataclass
class FakeClock:
    """Seconds (monotonic or epoch: whatever the test starts it at) that move by hand."""

    now: float = 0.0
    sleeps: list[float] = field(default_factory=list)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    async def sleep(self, seconds: float) -> None:
        """What the code under test waits: recorded, and the clock moves on by it."""
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.now += seconds

    def sleep_after(self, gate: asyncio.Event) -> Callable[[float], Awaitable[None]]:
        """A sleep that returns only once `gate` is set, then moves this clock on."""

        async def sleep(seconds: float) -> None:
            await gate.wait()
            self.now += seconds

        return sleep


@dataclass
class ShiftedClock:
    """Real epoch time plus `offset`, which the test moves forward (a simulator and the code
    under test can share it)."""

    offset: float = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset
