"""At-least-once delivery: events acknowledged one by one, offsets committed by the consumer.

The `Delivery` of `ECSP_DELIVERY=at_least_once`: each terminal event is published and
acknowledged before its record counts as answered (`EventPublisher`), and a commit is the
consumer group's own offset commit, its metadata carrying the answered-offsets map. Nothing has
to be prepared for a partition: `open` only reads its committed position.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import structlog

from worker.consumer.ports import CommitFailed, Position, RequestConsumer, TopicPartition

log = structlog.get_logger("worker.consumer")


class CommitDelivery:
    """Offsets (and maps) committed through the group member that read the records."""

    def __init__(self, consumer: RequestConsumer) -> None:
        self._consumer = consumer

    async def open(self, partition: TopicPartition) -> Position | None:
        return await self._consumer.committed_position(partition)

    async def commit(self, positions: Mapping[TopicPartition, Position]) -> set[TopicPartition]:
        if not positions:
            return set()
        try:
            await self._consumer.commit(positions)
        except CommitFailed as exc:
            log.warning("commit failed; will retry", error=str(exc))
            return set()
        return set(positions)

    async def close(self, partitions: Iterable[TopicPartition]) -> None:
        return None
