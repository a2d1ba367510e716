"""What the consume loop (`runner.Worker`) needs from the outside, as small protocols.

The loop is written against these, not against aiokafka: `worker.consumer.kafka` adapts the
aiokafka consumer to `RequestConsumer` (translation only), `EventPublisher` satisfies
`EventSink`, and the tests' in-memory broker implements both, so the no-loss logic (ordered
commits, pause/resume, revoke drain) is exercised without a broker. `RequestTracing` is where a
request's span starts (`worker.consumer.kafka_spans`; none when tracing is off). The pipeline is
reached through its own port (`worker.pipeline.port.RequestHandler`). `Delivery` is how answers
become durable: offsets committed by the consumer (`worker.consumer.delivery`), or events and
offsets in one transaction per partition (`worker.consumer.transactional`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import NamedTuple, Protocol

from ecsp_contract.cloudevent import CloudEvent
from worker.pipeline.port import InboundMessage


class TopicPartition(NamedTuple):
    """One partition of a topic (the loop's key for offsets, tasks and pauses)."""

    topic: str
    partition: int


@dataclass(frozen=True, slots=True)
class Position:
    """A partition's commit: the next offset to read and the answered-offsets map above it
    (`worker.consumer.answered_codec`; empty when there is none)."""

    offset: int
    metadata: str = ""


class Record(Protocol):
    """A fetched request record (aiokafka's `ConsumerRecord` has these attributes)."""

    @property
    def offset(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...
    @property
    def headers(self) -> Sequence[tuple[str, bytes]]: ...
    @property
    def timestamp(self) -> int: ...


class BrokerError(Exception):
    """A call to the broker failed; the message names the client's error type."""


class CommitFailed(BrokerError):
    """A commit did not happen (rebalance under way, broker unreachable); a later one retries."""


class RebalanceListener(Protocol):
    """Told by the consumer when partitions are taken away or handed over (the Worker is one)."""

    async def partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None: ...

    def partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None: ...


class OffsetsClient(Protocol):
    """The broker's offsets of partitions, for the lag gauges (`worker.consumer.lag`).

    Each call raises `BrokerError` when the broker cannot answer.
    """

    async def end_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]: ...

    async def beginning_offsets(
        self, partitions: list[TopicPartition]
    ) -> dict[TopicPartition, int]: ...

    async def committed(self, partition: TopicPartition) -> int | None: ...


class CommittedPositions(Protocol):
    """The group's committed position of a partition, metadata included (aiokafka's
    `committed()` drops the metadata); raises `BrokerError` when the broker cannot answer."""

    async def committed_position(self, partition: TopicPartition) -> Position | None: ...


class RequestConsumer(OffsetsClient, CommittedPositions, Protocol):
    """A started group member on the request topics, as the loop uses it."""

    def subscribe(self, topics: Sequence[str], listener: RebalanceListener) -> None: ...

    async def getmany(
        self, *, timeout_ms: int, max_records: int
    ) -> Mapping[TopicPartition, Sequence[Record]]: ...

    def pause(self, *partitions: TopicPartition) -> None: ...

    def resume(self, *partitions: TopicPartition) -> None: ...

    async def commit(self, positions: Mapping[TopicPartition, Position]) -> None:
        """Commits `positions` (next offset to read and metadata); raises `CommitFailed`."""


class EventSink(Protocol):
    """Where events go: `publish` returns once the event is as durable as the delivery makes it
    (acknowledged by the broker; under exactly-once, buffered for the partition's next
    transaction, which also commits the record's offset)."""

    async def publish(self, topic: str, key: bytes | None, event: CloudEvent) -> None: ...

    async def publish_best_effort(
        self, topic: str, key: bytes | None, event: CloudEvent, *, within: float
    ) -> bool: ...


class Delivery(Protocol):
    """How answers and offsets become durable together (one per worker)."""

    async def open(self, partition: TopicPartition) -> Position | None:
        """Makes `partition` ready for commits and returns its committed position, read only
        once no earlier owner can still change it (raises `BrokerError`; the loop retries)."""

    async def commit(self, positions: Mapping[TopicPartition, Position]) -> set[TopicPartition]:
        """Commits `positions` (with everything the partitions published since their last
        commit); returns the partitions whose position is now committed."""

    async def close(self, partitions: Iterable[TopicPartition]) -> None:
        """The partitions were revoked: releases what `open` made for them."""


class RequestSpan(Protocol):
    """The span of one request while it is processed and answered."""

    def answered(self, event: CloudEvent) -> None:
        """The request's terminal event, just before it is published (its outcome)."""


class RequestTracing(Protocol):
    """Starts the span of each request: current while it is processed and answered."""

    def request(self, message: InboundMessage) -> AbstractContextManager[RequestSpan]: ...
