"""`ecs-provisioner run` collects garbage rarely by count and on a clock, and leaves its start-up
objects out of it (see worker/ops/gc_tuning.py: the collector was ~25 % of the worker's CPU at
CPython's defaults, and counting alone let aiokafka's dropped fetches pile up)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

from worker.ops.gc_tuning import (
    MIDDLE_THRESHOLD,
    OLD_THRESHOLD,
    YOUNG_THRESHOLD,
    collecting_periodically,
)

_PROBE = """
import asyncio, gc, json, worker.service
async def serve(settings, stop):
    tasks = sorted(t.get_name() for t in asyncio.all_tasks())
    print(json.dumps({"threshold": gc.get_threshold(), "frozen": gc.get_freeze_count(),
                      "tasks": tasks}))
worker.service.serve = serve
from worker.cli.main import main
raise SystemExit(main(["run"]))
"""


def test_the_worker_runs_with_rare_collections_a_collection_clock_and_frozen_start_up() -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("ECSP_")},
        "ECSP_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1",
        "ECSP_ECS_PROJECT_ID": "p",
        "ECSP_ECS_AK": "ak",
        "ECSP_ECS_SK": "sk",
    }
    result = subprocess.run(
        [sys.executable, "-c", _PROBE],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert seen["threshold"] == [YOUNG_THRESHOLD, MIDDLE_THRESHOLD, OLD_THRESHOLD]
    assert YOUNG_THRESHOLD > 700  # CPython's default
    assert (MIDDLE_THRESHOLD, OLD_THRESHOLD) == (10, 10)
    assert seen["frozen"] > 10_000  # the imported modules, classes and functions
    assert "gc-collector" in seen["tasks"]  # the clock that does not wait for the counts


async def test_collects_young_and_middle_on_each_tick_and_everything_on_every_sixth() -> None:
    collections = _Collections(until=13)
    ticks = 0

    async def sleep(seconds: float) -> None:
        nonlocal ticks
        assert seconds == 10.0
        if ticks == 13:
            await asyncio.Event().wait()  # the clock stops here
        ticks += 1

    async with collecting_periodically(10.0, 60.0, collect=collections.collect, sleep=sleep):
        await collections.enough.wait()
    assert collections.generations == [1, 1, 1, 1, 1, 2, 1, 1, 1, 1, 1, 2, 1]


async def test_leaving_the_block_stops_the_collections() -> None:
    collections = _Collections(until=1)

    async def no_wait(seconds: float) -> None:
        await asyncio.sleep(0)

    async with collecting_periodically(10.0, 60.0, collect=collections.collect, sleep=no_wait):
        await collections.enough.wait()
    collected = len(collections.generations)
    for _ in range(20):
        await asyncio.sleep(0)
    assert len(collections.generations) == collected
    assert not [t for t in asyncio.all_tasks() if t.get_name() == "gc-collector"]


class _Collections:
    """Records the generations collected; `enough` is set after `until` of them."""

    def __init__(self, until: int) -> None:
        self.generations: list[int] = []
        self.enough = asyncio.Event()
        self._until = until

    def collect(self, generation: int) -> None:
        self.generations.append(generation)
        if len(self.generations) >= self._until:
            self.enough.set()
