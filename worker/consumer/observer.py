"""Where the consume loop and its delivery report what they do: `WorkerObserver` and
`DeliveryObserver`.

The metrics implement both (structurally); neither the loop nor the delivery knows Prometheus.
`SilentWorkerObserver` and `SilentDeliveryObserver` report nowhere (tests, tools).
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

    # the answered-offsets map (`worker.consumer.offset_map`)
    def record_skipped(self, topic: str) -> None:
        """A record read again that an earlier commit named answered: no call, no event."""

    def offset_map_committed(self, topic: str, partition: int, size: int) -> None:
        """The size of the map a partition's commit carried (0: none)."""

    def offset_map_overflow(self, topic: str) -> None:
        """A commit left its map out: larger than the brokers' metadata limit."""

    def offset_map_ignored(self, topic: str) -> None:
        """A committed map read on assignment could not be used (another version, corrupt)."""


class DeliveryObserver(Protocol):
    """What the exactly-once delivery reports (`worker.consumer.transactional`)."""

    def event_published(self, event_type: str) -> None: ...

    def event_unpublishable(self, event_type: str) -> None: ...

    def state_write_dropped(self) -> None: ...

    def transaction_ended(self, outcome: str) -> None:
        """`committed` or `aborted`."""

    def producer_fenced(self) -> None: ...


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

    def record_skipped(self, topic: str) -> None:
        return None

    def offset_map_committed(self, topic: str, partition: int, size: int) -> None:
        return None

    def offset_map_overflow(self, topic: str) -> None:
        return None

    def offset_map_ignored(self, topic: str) -> None:
        return None

    def set_lag(self, topic: str, partition: int, lag: int) -> None:
        return None

    def forget(self, topic: str, partition: int) -> None:
        return None


class SilentDeliveryObserver:
    def event_published(self, event_type: str) -> None:
        return None

    def event_unpublishable(self, event_type: str) -> None:
        return None

    def state_write_dropped(self) -> None:
        return None

    def transaction_ended(self, outcome: str) -> None:
        return None

    def producer_fenced(self) -> None:
        return None
