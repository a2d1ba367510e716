"""A partition's committed position read back with its metadata, the answered-offsets map.

aiokafka's `AIOKafkaConsumer.committed()` returns the offset alone; its admin client's
`list_consumer_group_offsets` sends the same OffsetFetch to the group's coordinator and keeps
each partition's metadata. `CommittedReader` wraps that one call: broker errors become
`BrokerError` (the loop retries), and "no offset" (-1) becomes None. aiokafka's OffsetFetch goes
up to v3: it has no `require_stable` (KIP-447), so under exactly-once the caller reads only
after its transactional producer fenced the previous owner (`worker.consumer.transactional`).
"""

from __future__ import annotations

from aiokafka import TopicPartition as KafkaTopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from worker.consumer.ports import BrokerError, Position, TopicPartition


class CommittedReader:
    """The consumer group's committed positions, metadata included."""

    def __init__(self, admin: AIOKafkaAdminClient, group_id: str) -> None:
        self._admin = admin
        self._group_id = group_id

    async def read(self, partition: TopicPartition) -> Position | None:
        tp = KafkaTopicPartition(*partition)
        try:
            offsets = await self._admin.list_consumer_group_offsets(self._group_id, partitions=[tp])
        except KafkaError as exc:  # a partition error raises too (not the partition's class)
            raise BrokerError(type(exc).__name__) from exc
        committed = offsets.get(tp)
        if committed is None or committed.offset < 0:
            return None
        return Position(committed.offset, committed.metadata or "")
