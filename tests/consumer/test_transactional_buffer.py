"""The transactional delivery without a broker (over `tests.support.memory_transactions`):
`publish` never suspends (the loop marks the record answered in the same step), events go to
the partition their `data.origin` names, and a terminal event is committed only together with a
position that names its record answered: not with a partition's other events, not while the
partition's map is too large for the commit."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from ecsp_contract.cloudevent import CloudEvent, build_event
from ecsp_contract.events import EventType, SubmittedData, ValidatedData
from tests.support.memory_broker import MemoryBroker
from tests.support.memory_transactions import MemoryTransactions
from worker.consumer.answered_codec import encode
from worker.consumer.ports import Position
from worker.consumer.transactional import TransactionalDelivery
from worker.ops.metrics import Metrics

TOPIC = "requests"


@pytest.fixture
async def sink() -> AsyncIterator[tuple[TransactionalDelivery, MemoryBroker]]:
    broker = MemoryBroker(TOPIC, 2)
    consumer, _ = broker.join()
    consumer.assign(broker.partitions)
    transactions = MemoryTransactions(broker)
    delivery = TransactionalDelivery(
        group_id="group",
        producer_for=lambda name: transactions.producer(consumer, name),
        positions=consumer,
        metrics=Metrics(),
        max_event_bytes=1_048_576,
        transaction_timeout=30.0,
        rejoin=consumer.rejoin,
    )
    for tp in broker.partitions:
        assert await delivery.open(tp) is None
    yield delivery, broker
    await delivery.close(broker.partitions)


def event(offset: int, partition: int = 0, kind: EventType = EventType.VALIDATED) -> CloudEvent:
    common = {
        "request_key": f"k{offset}",
        "client_token": None,
        "project_id": None,
        "received_at": "2026-12-06T00:00:00Z",
        "origin": {"topic": TOPIC, "partition": partition, "offset": offset},
    }
    if kind is EventType.SUBMITTED:
        data: SubmittedData | ValidatedData = SubmittedData(
            **common, job_id="j", order_id=None, server_ids=[]
        )
    else:
        data = ValidatedData(**common, attempts=1)
    return build_event(data, kind, source="test")


def visible(broker: MemoryBroker) -> list[tuple[str, int, int]]:
    return [
        (e.type.value.removeprefix("ecs.provisioning."), e.data["origin"]["partition"],
         e.data["origin"]["offset"])
        for _, _, e in broker.published
    ]  # fmt: skip


async def test_publish_buffers_without_suspending(
    sink: tuple[TransactionalDelivery, MemoryBroker],
) -> None:
    delivery, _ = sink
    step = delivery.publish("results", b"k", event(3))
    with pytest.raises(StopIteration):  # done in its first step: nothing can run in between
        step.send(None)
    best_effort = delivery.publish_best_effort("progress", b"k", event(3), within=30)
    with pytest.raises(StopIteration) as done:
        best_effort.send(None)
    assert done.value.value is True


async def test_an_event_of_a_partition_not_open_here_is_dropped(
    sink: tuple[TransactionalDelivery, MemoryBroker],
) -> None:
    delivery, broker = sink
    await delivery.close([broker.partitions[1]])
    assert await delivery.publish_best_effort("p", b"k", event(0, partition=1), within=30) is False


async def test_a_terminal_event_waits_for_the_position_that_names_its_record(
    sink: tuple[TransactionalDelivery, MemoryBroker],
) -> None:
    delivery, broker = sink
    tp0, tp1 = broker.partitions
    await delivery.publish("results", b"k", event(0, partition=1))  # partition 1 not committed
    await delivery.publish("progress", b"k", event(2, kind=EventType.SUBMITTED))
    await delivery.publish("results", b"k", event(2))  # answered after the position was taken
    await delivery.publish("results", b"k", event(0))

    assert await delivery.commit({tp0: Position(1)}) == {tp0}
    assert visible(broker) == [("submitted", 0, 2), ("validated", 0, 0)]

    assert await delivery.commit({tp0: Position(1, encode(1, [2]))}) == {tp0}
    assert await delivery.commit({tp1: Position(1)}) == {tp1}
    assert visible(broker)[2:] == [("validated", 0, 2), ("validated", 1, 0)]
    assert broker.duplicates == []


async def test_while_the_map_is_too_large_events_above_the_offset_wait(
    sink: tuple[TransactionalDelivery, MemoryBroker],
) -> None:
    """A commit without its map (it overflowed) names only the records below its offset: the
    events above wait, so a crash then cannot leave them committed and their records replayed."""
    delivery, broker = sink
    tp0 = broker.partitions[0]
    for offset in (3, 5):
        await delivery.publish("results", b"k", event(offset))
    assert await delivery.commit({tp0: Position(2)}) == {tp0}  # the map overflowed: no map
    assert visible(broker) == []

    assert await delivery.commit({tp0: Position(4)}) == {tp0}
    assert visible(broker) == [("validated", 0, 3)]
    assert await delivery.commit({}) == set()  # nothing moved: 5 still waits
    assert visible(broker) == [("validated", 0, 3)]
