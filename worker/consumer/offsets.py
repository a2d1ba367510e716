"""Per-partition offset bookkeeping for out-of-order completion.

Requests of one partition finish in any order; the committable offset is the lowest offset not
yet finished (or one past the last dispatched offset when everything is done), so a crash never
skips an unfinished request. Lazy-deletion min-heap: O(log n) per record, however many are in
flight. Finished offsets above the committable one are what the commit's answered-offsets map
carries (`worker.consumer.offset_map`); offsets an earlier commit named answered are loaded
(`load`) and count as finished the moment they are read again (`skip`), without being processed.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable


class PartitionOffsets:
    """Offsets dispatched and finished in one partition; what may be committed."""

    __slots__ = ("_below", "_committed", "_done", "_heap", "_known", "_next")

    def __init__(self) -> None:
        self._heap: list[int] = []
        self._done: set[int] = set()
        self._next: int | None = None
        self._committed: int | None = None
        self._below: int | None = None
        self._known: set[int] = set()

    def load(self, below: int | None, above: Iterable[int]) -> None:
        """What the partition's last commit says was answered: every offset below `below`
        (its committed offset; None if there is none) and the offsets `above`."""
        self._below = below
        self._known = set(above)

    def skip(self, offset: int) -> bool:
        """True when `offset` was answered before (it is then read and finished at once)."""
        if (self._below is None or offset >= self._below) and offset not in self._known:
            return False
        self._known.discard(offset)
        self.started(offset)
        self.finished(offset)
        return True

    def started(self, offset: int) -> None:
        heapq.heappush(self._heap, offset)
        if self._next is None or offset >= self._next:
            self._next = offset + 1

    def finished(self, offset: int) -> None:
        self._done.add(offset)

    def committable(self) -> int | None:
        """The offset to commit (next to read after a restart), or None if nothing was read."""
        heap, done = self._heap, self._done
        while heap and heap[0] in done:
            done.discard(heapq.heappop(heap))
        return heap[0] if heap else self._next

    def answered_above(self, base: int) -> set[int]:
        """Offsets at or above `base` known to be answered: finished ones, and those an
        earlier commit named that were not read again yet."""
        return {o for o in self._done if o >= base} | {o for o in self._known if o >= base}

    def to_commit(self) -> int | None:
        """The committable offset if it moved since the last `mark_committed`, else None."""
        offset = self.committable()
        return None if offset is None or offset == self._committed else offset

    def mark_committed(self, offset: int) -> None:
        self._committed = offset

    @property
    def committed(self) -> int | None:
        """The offset this member last committed, None before its first commit."""
        return self._committed

    @property
    def unfinished(self) -> int:
        return len(self._heap) - len(self._done)
