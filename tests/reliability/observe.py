"""Watching a run from outside the workers: terminal events as they arrive, the group's committed
offsets, and the exhaustive read of every topic at the end.

All three survive a broker restart: the live collector is an ordinary consumer (aiokafka
reconnects by itself) and a failed offset probe simply reports nothing new until the broker is
back.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from tests.reliability.checks import Event


@dataclass
class Collector:
    """Counts terminal events while the run goes on, by the request record they answer."""

    bootstrap: str
    topics: Sequence[str]
    origins: set[tuple[int, int]] = field(default_factory=set)
    events: int = 0

    async def run(self) -> None:
        consumer = AIOKafkaConsumer(
            *self.topics,
            bootstrap_servers=self.bootstrap,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await consumer.start()
        try:
            while True:
                batch = await consumer.getmany(timeout_ms=300)
                for records in batch.values():
                    for record in records:
                        self.events += 1
                        if record.value is not None:
                            self.origins.add(Event.parse(record.key, record.value).origin)
        finally:
            await consumer.stop()


@dataclass
class OffsetProbe:
    """The consumer group's committed offsets, read without joining the group."""

    bootstrap: str
    group: str
    topic: str
    partitions: int
    _consumer: AIOKafkaConsumer | None = None

    async def committed(self) -> dict[int, int]:
        """Partition -> committed offset (0 if none); empty when the broker does not answer."""
        try:
            async with asyncio.timeout(5):
                if self._consumer is None:
                    self._consumer = AIOKafkaConsumer(
                        bootstrap_servers=self.bootstrap, group_id=self.group
                    )
                    await self._consumer.start()
                result: dict[int, int] = {}
                for p in range(self.partitions):
                    offset = await self._consumer.committed(TopicPartition(self.topic, p))
                    result[p] = offset or 0
                return result
        except (TimeoutError, KafkaError):
            await self.close()
            return {}

    async def close(self) -> None:
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            with contextlib.suppress(Exception):
                await consumer.stop()
