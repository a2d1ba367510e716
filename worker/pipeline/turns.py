"""Taking turns on the event loop: the records' synchronous CPU work, one slice at a time.

Owns `CpuTurns`. A batch of records starts its requests in the same pass of the event loop, and
each request decodes, validates and redacts its record without awaiting anything: without turns
a batch of costly records runs back to back while timers, the consumer's polls and every other
request wait (100 records of 10,000 made-up keys once held the loop for 48 s). `run(work)` runs
one such synchronous step, one at a time and in arrival order; once the steps since the last
yield used a slice of CPU time, the loop gets a pass (its timers and I/O) before the next step.
Cheap steps (a normal record takes ~0.1 ms) share a slice, so they cost no extra loop pass.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

SLICE_SECONDS = 0.005
"""CPU time the steps may use between two passes of the loop."""


class CpuTurns:
    """Runs synchronous steps one at a time and yields to the loop after each slice of CPU."""

    def __init__(self, slice_seconds: float = SLICE_SECONDS) -> None:
        self._lock = asyncio.Lock()
        self._slice = slice_seconds
        self._used = 0.0

    async def run(self, work: Callable[[], T]) -> T:
        """`work()`'s result (or its exception), computed in this caller's turn."""
        async with self._lock:
            started = time.perf_counter()
            try:
                return work()
            finally:
                self._used += time.perf_counter() - started
                if self._used >= self._slice:
                    self._used = 0.0
                    await asyncio.sleep(0)  # still holding the turn: the loop runs first
