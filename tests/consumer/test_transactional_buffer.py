"""The transactional delivery's buffering, without a broker: `publish` never suspends (the
loop marks the record answered in the same step, so a commit never splits an event from its
record), and events go to the partition their `data.origin` names."""

from __future__ import annotations

import pytest
from aiokafka import AIOKafkaProducer

from ecsp_contract.cloudevent import CloudEvent, build_event
from ecsp_contract.events import EventType, ValidatedData
from worker.consumer.ports import Position, TopicPartition
from worker.consumer.transactional import TransactionalDelivery
from worker.ops.metrics import Metrics

TP = TopicPartition("requests", 3)


class _Producer:
    """Starts; anything else would be a transaction, which these tests never reach."""

    async def start(self) -> None:
        return None


class _Positions:
    async def committed_position(self, partition: TopicPartition) -> Position | None:
        return None


def delivery() -> TransactionalDelivery:
    def producer_for(transactional_id: str) -> AIOKafkaProducer:
        assert transactional_id == "group-requests-3"
        return _Producer()

    return TransactionalDelivery(
        group_id="group",
        producer_for=producer_for,
        positions=_Positions(),
        metrics=Metrics(),
        max_event_bytes=1_048_576,
        transaction_timeout=30.0,
        rejoin=lambda: None,
    )


def event(partition: int) -> CloudEvent:
    data = ValidatedData(
        request_key="k",
        client_token=None,
        project_id=None,
        received_at="2026-12-06T00:00:00Z",
        origin={"topic": "requests", "partition": partition, "offset": 7},
        attempts=1,
    )
    return build_event(data, EventType.VALIDATED, source="test")


async def test_publish_buffers_without_suspending() -> None:
    sink = delivery()
    assert await sink.open(TP) is None
    step = sink.publish("results", b"k", event(3))
    with pytest.raises(StopIteration):  # done in its first step: nothing can run in between
        step.send(None)
    best_effort = sink.publish_best_effort("progress", b"k", event(3), within=30)
    with pytest.raises(StopIteration) as done:
        best_effort.send(None)
    assert done.value.value is True


async def test_an_event_of_a_partition_not_open_here_is_dropped() -> None:
    sink = delivery()
    await sink.open(TP)
    assert await sink.publish_best_effort("progress", b"k", event(4), within=30) is False
