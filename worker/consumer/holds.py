"""Intake holds: a request waiting for something outside itself asks the consumer to stop fetching.

A request that cannot proceed for a while for a reason that is not its own (its project's hourly
budget is spent, the ECS API is down) holds the intake of its partition — or of every partition —
for as long as it waits. The consumer pauses held partitions (it keeps polling, so it stays in
the group) and resumes them when the last hold is released. Holds are counted, so any number of
waiting requests and reasons can overlap. Nothing here knows Kafka: a partition is
`(topic, partition)`. `IntakeHolds` is the pipeline's `Intake` (`worker.pipeline.port`).
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Callable, Iterator

PartitionKey = tuple[str, int]


class IntakeHolds:
    """Counts of holds per partition and on all partitions; listeners hear every change."""

    def __init__(self) -> None:
        self._per_partition: Counter[PartitionKey] = Counter()
        self._everywhere = 0
        self._listeners: list[Callable[[], None]] = []

    def on_change(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def is_held(self, topic: str, partition: int) -> bool:
        return self._everywhere > 0 or self._per_partition[(topic, partition)] > 0

    @contextlib.contextmanager
    def holding(self, partition: PartitionKey | None = None) -> Iterator[None]:
        """Holds `partition` (None: every partition) for the duration of the block."""
        self._change(partition, +1)
        try:
            yield
        finally:
            self._change(partition, -1)

    def _change(self, partition: PartitionKey | None, delta: int) -> None:
        if partition is None:
            self._everywhere += delta
        else:
            self._per_partition[partition] += delta
            if self._per_partition[partition] <= 0:
                del self._per_partition[partition]
        for listener in self._listeners:
            listener()
