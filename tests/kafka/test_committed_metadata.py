"""A commit's metadata (the answered-offsets map) survives the broker and is read back: what
the consumer commits through the adapter, the admin client returns, up to the broker's
`offset.metadata.max.bytes`; aiokafka's own `committed()` drops it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterable

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka import TopicPartition as KafkaTopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from tests.support.kafka import TopicFactory, produce
from worker.consumer.answered_codec import decode, encode
from worker.consumer.committed_fetch import CommittedReader
from worker.consumer.kafka import KafkaRequestConsumer
from worker.consumer.ports import CommitFailed, Position, TopicPartition


class _Assigned:
    """Collects the assignment of a subscribed consumer."""

    def __init__(self) -> None:
        self.partitions: list[TopicPartition] = []

    async def partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        return None

    def partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        self.partitions = list(assigned)


@pytest.fixture
async def member(
    kafka_bootstrap: str, new_topic: TopicFactory
) -> AsyncIterator[tuple[KafkaRequestConsumer, AIOKafkaConsumer, TopicPartition]]:
    topic = await new_topic("metadata")
    await produce(kafka_bootstrap, topic, [(b"k", b"v", [])] * 3)
    group = f"metadata-{uuid.uuid4().hex[:8]}"
    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka_bootstrap, group_id=group, enable_auto_commit=False
    )
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await consumer.start()
    await admin.start()
    try:
        adapter = KafkaRequestConsumer(consumer, CommittedReader(admin, group))
        listener = _Assigned()
        adapter.subscribe([topic], listener)
        for _ in range(100):
            await adapter.getmany(timeout_ms=100, max_records=1)
            if listener.partitions:
                break
        assert listener.partitions == [TopicPartition(topic, 0)]
        yield adapter, consumer, TopicPartition(topic, 0)
    finally:
        await consumer.stop()
        await admin.close()


async def test_the_map_committed_is_the_map_read_back(
    member: tuple[KafkaRequestConsumer, AIOKafkaConsumer, TopicPartition],
) -> None:
    adapter, consumer, tp = member
    assert await adapter.committed_position(tp) is None  # nothing committed yet

    metadata = encode(1, range(2, 3000, 3))  # a long, compressed map
    await adapter.commit({tp: Position(1, metadata)})

    assert await adapter.committed_position(tp) == Position(1, metadata)
    assert decode((await adapter.committed_position(tp) or Position(0)).metadata, 1) == set(
        range(2, 3000, 3)
    )
    assert await consumer.committed(KafkaTopicPartition(*tp)) == 1  # offset only


async def test_the_broker_refuses_metadata_over_its_limit(
    member: tuple[KafkaRequestConsumer, AIOKafkaConsumer, TopicPartition],
) -> None:
    """Why the worker never sends a map over `offset.metadata.max.bytes` (4096 here)."""
    adapter, _, tp = member
    await adapter.commit({tp: Position(1, "x" * 4096)})
    with pytest.raises(CommitFailed, match="OffsetMetadataTooLarge"):
        await adapter.commit({tp: Position(2, "x" * 4097)})
    assert await adapter.committed_position(tp) == Position(1, "x" * 4096)
