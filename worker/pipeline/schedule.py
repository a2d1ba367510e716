"""When to check a job: the `JobSchedule` protocol and the adaptive default, `PollSchedule`.

The first check comes soon (fast failures and instant jobs are seen quickly), then the interval
grows by a factor up to a cap, so a 4-minute job costs about 17 calls and its end is seen within
the cap.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol


class JobSchedule(Protocol):
    """When to check a job: an endless series of delays in seconds (`rng` for any jitter).

    `follow_job` waits each delay before a check and cuts the last one at the deadline.
    """

    def delays(self, rng: random.Random) -> Iterator[float]: ...


@dataclass(frozen=True)
class PollSchedule:
    """Delays between job checks: initial, growing by factor, capped; ±10% jitter."""

    initial: float
    factor: float
    cap: float

    def delays(self, rng: random.Random) -> Iterator[float]:
        delay = self.initial
        while True:
            yield delay * rng.uniform(0.9, 1.1)
            delay = min(self.cap, delay * self.factor)
