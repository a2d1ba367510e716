"""The worker process's garbage collection (owns `tune_garbage_collector` and
`collecting_periodically`).

The worker allocates many short-lived container objects per request (parsed JSON, models,
events, HTTP requests and responses), and reference counting frees nearly all of them. With
CPython's default thresholds (700, 10, 10) the cyclic collector still ran ~1,900 young and 15
full collections per 5,000 requests, ~25 % of the worker's CPU: each young collection walks the
live containers of every request in flight, and finds next to nothing (`PROFILE.md`).

What the collector does find matters, though. When the consume loop pauses a partition,
aiokafka drops the records it had already fetched for it (`FetchResult.check_assignment`), and
the dropped `PartitionRecords` sits in a reference cycle with its own record generator
(`self._records_iterator = self._unpack_records()`). The cycle holds the fetched bytes, up to
`max_partition_fetch_bytes` (1 MiB) each, which only a collection frees. Counting allocations
cannot be trusted to schedule that collection: with a young threshold of 200,000 the live
objects alone never reached it, no collection ran, and the worker's malloc'd memory grew by
~3 KB per request (117 -> 463 MiB over 110,000 requests) while the Python heap stayed flat.

So the worker collects on a clock as well as by count, and the young threshold is high enough
that the count alone rarely starts a collection. Every `COLLECTION_SECONDS` it collects the
young and middle generations: what was allocated since the last time, so the dropped fetches
are freed within seconds; what survives moves to the old generation and is not walked again
until the full collection every `FULL_COLLECTION_SECONDS` (it frees the few dropped fetches a
scheduled collection caught still in use). A full collection every 10 s instead would walk
every held job each time: ~0.4 s of CPU per collection with 10,000 jobs in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator, Awaitable, Callable

from worker.tasks import cancel_and_wait

YOUNG_THRESHOLD = 200_000
"""Net container allocations before an unscheduled young collection (CPython's default is
700): a burst of cyclic garbage between two scheduled collections still starts one."""
MIDDLE_THRESHOLD = 10
"""Young collections per middle-generation collection (CPython's default)."""
OLD_THRESHOLD = 10
"""Middle collections per full collection (CPython's default)."""
COLLECTION_SECONDS = 10.0
"""How often the young and middle generations are collected, whatever the counts say."""
FULL_COLLECTION_SECONDS = 60.0
"""How often every generation is collected (a multiple of `COLLECTION_SECONDS`)."""


def tune_garbage_collector() -> None:
    """Collect young objects rarely by count, and leave everything imported so far out of
    every later collection.

    Call once, after the worker's modules are imported and before it starts: `gc.freeze()`
    moves the start-up objects (modules, classes, settings) to the permanent generation, so a
    full collection no longer walks them. Run the worker inside `collecting_periodically`.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, MIDDLE_THRESHOLD, OLD_THRESHOLD)


@contextlib.asynccontextmanager
async def collecting_periodically(
    every: float = COLLECTION_SECONDS,
    full_every: float = FULL_COLLECTION_SECONDS,
    *,
    collect: Callable[[int], object] = gc.collect,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> AsyncIterator[None]:
    """While the block runs, collects the young and middle generations every `every` seconds,
    and every generation at each `full_every` seconds instead."""
    per_full = max(1, round(full_every / every))

    async def collect_forever() -> None:
        scheduled = 0
        while True:
            await sleep(every)
            scheduled += 1
            collect(2 if scheduled % per_full == 0 else 1)

    task = asyncio.create_task(collect_forever(), name="gc-collector")
    try:
        yield
    finally:
        await cancel_and_wait(task)
