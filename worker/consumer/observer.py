"""Where the consume loop reports what it does: the `WorkerObserver` protocol.

The metrics implement it (structurally); the loop knows no Prometheus. `SilentWorkerObserver`
reports nowhere (tests, tools).
"""

from __future__ import annotations

from typing import Protocol

from worker.consumer.lag import LagGauges


class WorkerObserver(LagGauges, Protocol):
    """What the loop reports: records in, requests held, partitions, commits, rebalances."""

    def message_consumed(self, topic: str) -> None: ...

    def requests_in_flight(self, count: int) -> None: ...

    def partitions_assigned(self, count: int) -> None: ...

    def partitions_paused(self, count: int) -> None: ...

    def offset_committed(self, topic: str, partition: int, offset: int) -> None: ...

    def rebalanced(self) -> None: ...


class SilentWorkerObserver:
    def message_consumed(self, topic: str) -> None:
        return None

    def requests_in_flight(self, count: int) -> None:
        return None

    def partitions_assigned(self, count: int) -> None:
        return None

    def partitions_paused(self, count: int) -> None:
        return None

    def offset_committed(self, topic: str, partition: int, offset: int) -> None:
        return None

    def rebalanced(self) -> None:
        return None

    def set_lag(self, topic: str, partition: int, lag: int) -> None:
        return None

    def forget(self, topic: str, partition: int) -> None:
        return None
