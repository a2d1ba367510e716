"""Kafka transactions for the in-memory broker: what `TransactionalDelivery` needs of a producer.

`MemoryTransactionalProducer` stands in for aiokafka's transactional producer, so the state
machine (tests/consumer/machine.py) runs the real `worker.consumer.transactional` code:
- `start` is InitProducerId: the transactional id's epoch goes up, which fences every producer
  started before with the same id, and the id's open transaction is aborted;
- a transaction stages its offsets and records and applies them all at once in
  `commit_transaction` (the broker stores the events and commits the offsets, running the
  no-loss checks, and counts any terminal event of a record already answered as a duplicate);
- a fenced producer's calls raise `ProducerFenced`; a killed member's producer does nothing
  (its open transaction stays open until the next owner's `start` aborts it);
- a send to a topic in `refusing` fails as a record too large for the topic does; a send to
  one in `unreachable` raises before anything is added to the transaction, as aiokafka's
  `send` does when the topic's metadata never comes.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from aiokafka.errors import KafkaTimeoutError, MessageSizeTooLargeError, ProducerFenced

from ecsp_contract.cloudevent import CloudEvent
from tests.support.memory_broker import MemoryBroker, MemoryConsumer
from worker.consumer.ports import Position, TopicPartition


@dataclass
class _Staged:
    """One open transaction: what it would write if committed."""

    offsets: dict[TopicPartition, Position] = field(default_factory=dict)
    events: list[tuple[str, bytes | None, CloudEvent]] = field(default_factory=list)


@dataclass
class MemoryTransactions:
    """The transaction coordinator: epochs and open transactions by transactional id."""

    broker: MemoryBroker
    epochs: dict[str, int] = field(default_factory=dict)
    open: dict[str, _Staged] = field(default_factory=dict)
    refusing: set[str] = field(default_factory=set)
    unreachable: set[str] = field(default_factory=set)

    def producer(
        self, member: MemoryConsumer, transactional_id: str
    ) -> MemoryTransactionalProducer:
        return MemoryTransactionalProducer(self, member, transactional_id)


class MemoryTransactionalProducer:
    """The subset of `AIOKafkaProducer` the transactional delivery uses."""

    def __init__(
        self, coordinator: MemoryTransactions, member: MemoryConsumer, transactional_id: str
    ) -> None:
        self._coordinator = coordinator
        self._member = member
        self._id = transactional_id
        self._epoch = -1

    async def start(self) -> None:
        await asyncio.sleep(0)
        if not self._member.alive:
            return
        coordinator = self._coordinator
        coordinator.open.pop(self._id, None)  # the previous owner's transaction is aborted
        self._epoch = coordinator.epochs.get(self._id, -1) + 1
        coordinator.epochs[self._id] = self._epoch

    async def stop(self) -> None:
        await asyncio.sleep(0)

    async def begin_transaction(self) -> None:
        """Local, as in aiokafka: a fenced producer learns it at its first request."""
        if self._member.alive and not self._fenced():
            self._coordinator.open[self._id] = _Staged()

    async def send_offsets_to_transaction(self, offsets: dict[Any, Any], group_id: str) -> None:
        await asyncio.sleep(0)
        self._check()
        if (staged := self._staged()) is not None:
            for tp, (offset, metadata) in offsets.items():
                staged.offsets[TopicPartition(tp.topic, tp.partition)] = Position(offset, metadata)

    async def send(
        self, topic: str, value: bytes, *, key: bytes | None, headers: list[tuple[str, bytes]]
    ) -> asyncio.Future[None]:
        self._check()
        if topic in self._coordinator.unreachable:
            raise KafkaTimeoutError()
        sent: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if topic in self._coordinator.refusing:
            sent.set_exception(MessageSizeTooLargeError())
            return sent
        if (staged := self._staged()) is not None:
            staged.events.append((topic, key, CloudEvent.model_validate(json.loads(value))))
        sent.set_result(None)
        return sent

    async def commit_transaction(self) -> None:
        await asyncio.sleep(0)  # a SIGKILL here leaves the transaction open
        self._check()
        staged = self._coordinator.open.pop(self._id, None) if self._member.alive else None
        if staged is not None:
            self._coordinator.broker.commit_transaction(staged.offsets, staged.events)

    async def abort_transaction(self) -> None:
        await asyncio.sleep(0)
        self._check()
        if self._staged() is not None:
            del self._coordinator.open[self._id]

    def _staged(self) -> _Staged | None:
        return self._coordinator.open.get(self._id) if self._member.alive else None

    def _fenced(self) -> bool:
        return self._coordinator.epochs.get(self._id) != self._epoch

    def _check(self) -> None:
        if self._member.alive and self._fenced():
            raise ProducerFenced()
