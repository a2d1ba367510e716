"""The seeded chaos timeline of a run: when to kill a worker, run a second one, restart the broker.

Times are seconds from the start of publishing. Kills are spread by drawing one moment in each
of `kills` equal segments of the kill window, so they never bunch up; the second worker joins
early and leaves (SIGTERM) after the middle, so the group rebalances both ways while requests
flow; the broker restart falls in the middle of publishing.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

Action = Literal["kill", "start-second", "stop-second", "restart-broker"]


@dataclass(frozen=True)
class Step:
    at: float
    action: Action
    pick: float
    """A uniform draw in [0, 1) for choices made at run time (which worker to kill)."""
    pause: float
    """Seconds to wait before restarting a killed worker."""


def make_schedule(
    seed: int, *, publish_seconds: float, kills: int, restart_broker: bool, second_worker: bool
) -> list[Step]:
    rng = random.Random(seed ^ 0xC4A05)
    steps: list[Step] = []
    window_start, window_end = 2.0, publish_seconds + 10.0
    segment = (window_end - window_start) / max(1, kills)
    for i in range(kills):
        at = window_start + segment * (i + rng.uniform(0.1, 0.9))
        steps.append(Step(at, "kill", rng.random(), rng.uniform(0.5, 2.0)))
    if second_worker:
        steps.append(Step(publish_seconds * rng.uniform(0.1, 0.25), "start-second", 0.0, 0.0))
        steps.append(Step(publish_seconds * rng.uniform(0.6, 0.8), "stop-second", 0.0, 0.0))
    if restart_broker:
        steps.append(Step(publish_seconds * rng.uniform(0.35, 0.55), "restart-broker", 0.0, 0.0))
    return sorted(steps, key=lambda s: s.at)


def describe(steps: list[Step]) -> str:
    return ", ".join(f"{s.action}@{s.at:.1f}s" for s in steps)
