"""Parking: a request waiting for its project's hourly budget waits without stalling others.

Owns `Parking`. A request that does not fit its project's budget is *parked*: it waits in its
own task while its partition keeps being fetched, so the records behind it (another project's,
another key's) are processed meanwhile instead of waiting for its room or its deadline. Nothing
else changes for it: its offset stays unfinished, so no commit passes it (a restart redelivers
it) and it shows as consumer lag; a later record of its key waits for it (the consumer runs a
key's records one after another); the budget still serves waiters first come, first served.

Parking is bounded: at most `per_partition` requests are parked per partition; the next one
holds its partition's intake as before parking existed (the consumer pauses the partition until
it has room), so a flood of over-budget records cannot fill the process's in-flight limit and
stall every partition. `per_partition` 0 holds at once, always.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterator
from typing import Protocol

from worker.pipeline.port import Intake, PartitionKey


class ParkingObserver(Protocol):
    def budget_parked(self, delta: int) -> None: ...


class Parking:
    """Counts parked requests per partition; beyond the bound, a waiter holds its partition."""

    def __init__(self, intake: Intake, per_partition: int, observer: ParkingObserver) -> None:
        self._intake = intake
        self._per_partition = per_partition
        self._observer = observer
        self._parked: Counter[PartitionKey] = Counter()

    def parked(self, partition: PartitionKey) -> int:
        return self._parked[partition]

    @contextlib.contextmanager
    def waiting(self, partition: PartitionKey) -> Iterator[None]:
        """For as long as a request waits: parked, or holding `partition` when its bound is
        reached."""
        if self._parked[partition] >= self._per_partition:
            with self._intake.holding(partition):
                yield
            return
        self._parked[partition] += 1
        self._observer.budget_parked(+1)
        try:
            yield
        finally:
            self._parked[partition] -= 1
            if self._parked[partition] <= 0:
                del self._parked[partition]
            self._observer.budget_parked(-1)
