"""The seeded chaos timeline of a run: when to kill a worker, run a second one, restart the broker,
and which offerings the simulator sells out.

Times are seconds from the start of publishing. Kills are spread by drawing one moment in each
of `kills` equal segments of the kill window, so they never bunch up; the second worker joins
early and leaves (SIGTERM) after the middle, so the group rebalances both ways while requests
flow; the broker restart falls in the middle of publishing. Capacity changes every 2-6 s over
the same window: each `sold-out` step replaces the simulator's sold-out offerings with another
subset of the candidates (some, all, or none: capacity comes back), never the same twice in a
row.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

Action = Literal["kill", "start-second", "stop-second", "restart-broker", "sold-out"]


@dataclass(frozen=True)
class Step:
    at: float
    action: Action
    pick: float
    """A uniform draw in [0, 1) for choices made at run time (which worker to kill)."""
    pause: float
    """Seconds to wait before restarting a killed worker."""
    sold_out: tuple[str, ...] = ()
    """`sold-out`: the offerings sold out from now on (FLAVOR@ZONE; none: capacity is back)."""


def make_schedule(
    seed: int,
    *,
    publish_seconds: float,
    kills: int,
    restart_broker: bool,
    second_worker: bool,
    sold_out_candidates: tuple[str, ...] = (),
) -> list[Step]:
    rng = random.Random(seed ^ 0xC4A05)
    steps: list[Step] = []
    window_start, window_end = 2.0, publish_seconds + 10.0
    steps += _capacity_changes(random.Random(seed ^ 0x50D0), sold_out_candidates, window_end)
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


def _capacity_changes(rng: random.Random, candidates: tuple[str, ...], end: float) -> list[Step]:
    """`sold-out` steps from 1 s to `end`, each selling out another subset of `candidates`."""
    if not candidates:
        return []
    subsets = [
        tuple(c for i, c in enumerate(candidates) if mask >> i & 1)
        for mask in range(2 ** len(candidates))
    ]
    steps: list[Step] = []
    at, current = 1.0, None
    while at < end:
        chosen = rng.choice(
            [s for s in subsets if s != current] if current is not None else subsets[1:]
        )
        steps.append(Step(at, "sold-out", 0.0, 0.0, chosen))
        current = chosen
        at += rng.uniform(2.0, 6.0)
    return steps


def describe(steps: list[Step]) -> str:
    return ", ".join(_described(s) for s in steps)


def _described(step: Step) -> str:
    if step.action != "sold-out":
        return f"{step.action}@{step.at:.1f}s"
    offerings = "+".join(step.sold_out) or "none"
    return f"sold-out[{offerings}]@{step.at:.1f}s"
