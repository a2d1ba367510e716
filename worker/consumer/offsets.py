"""Per-partition offset bookkeeping for out-of-order completion.

Requests of one partition finish in any order; the committable offset is the lowest offset not
yet finished (or one past the last dispatched offset when everything is done), so a crash never
skips an unfinished request. Lazy-deletion min-heap: O(log n) per record, however many are in
flight.
"""

from __future__ import annotations

import heapq


class PartitionOffsets:
    """Offsets dispatched and finished in one partition; what may be committed."""

    __slots__ = ("_committed", "_done", "_heap", "_next")

    def __init__(self) -> None:
        self._heap: list[int] = []
        self._done: set[int] = set()
        self._next: int | None = None
        self._committed: int | None = None

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
