"""The transactional delivery without a broker (over `tests.support.memory_transactions`):
`publish` never suspends (the loop marks the record answered in the same step), events go to
the partition their `data.origin` names, and a terminal event is committed only together with a
position that names its record answered: not with a partition's other events, not while the
partition's map is too large for the commit. The state topic's copies (`StateRecordingSink` over
the delivery) go into their event's transaction, are not counted as events, and a topic that
refuses them costs a bounded number of given-up producers, never an answer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from ecsp_contract.cloudevent import CloudEvent, build_event
from ecsp_contract.events import EventType, SubmittedData, ValidatedData
from tests.support.clock import FakeClock
from tests.support.memory_broker import STATE_TOPIC, MemoryBroker
from tests.support.memory_transactions import MemoryTransactions
from worker.consumer.answered_codec import encode
from worker.consumer.ports import Position
from worker.consumer.state import StateRecordingSink
from worker.consumer.transactional import (
    COPY_PAUSE_SECONDS,
    TransactionalConfig,
    TransactionalDelivery,
)
from worker.ops.metrics import Metrics

TOPIC = "requests"


@pytest.fixture
async def sink() -> AsyncIterator[tuple[TransactionalDelivery, MemoryBroker]]:
    broker = MemoryBroker(TOPIC, 2)
    consumer, _ = broker.join()
    consumer.assign(broker.partitions)
    transactions = MemoryTransactions(broker)
    delivery = TransactionalDelivery(
        TransactionalConfig("group", transaction_timeout_seconds=30.0),
        lambda name: transactions.producer(consumer, name),
        consumer,
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


@dataclass
class StateRig:
    delivery: TransactionalDelivery
    events: StateRecordingSink
    broker: MemoryBroker
    transactions: MemoryTransactions
    metrics: Metrics
    clock: FakeClock
    rejoins: list[int]

    def count(self, name: str, labels: dict[str, str] | None = None) -> float:
        return self.metrics.registry.get_sample_value(name, labels or {}) or 0.0

    def topics(self) -> list[str]:
        return [topic for topic, _, _ in self.broker.published]


@pytest.fixture
async def state() -> AsyncIterator[StateRig]:
    broker = MemoryBroker(TOPIC, 1)
    consumer, _ = broker.join()
    consumer.assign(broker.partitions)
    transactions = MemoryTransactions(broker)
    metrics, clock, rejoins = Metrics(), FakeClock(), []
    delivery = TransactionalDelivery(
        TransactionalConfig("group"),
        lambda name: transactions.producer(consumer, name),
        consumer,
        rejoin=lambda: rejoins.append(1),
        observer=metrics,
        clock=clock,
    )
    events = StateRecordingSink(delivery, {"results": STATE_TOPIC}, metrics.state_write_dropped)
    await delivery.open(broker.partitions[0])
    yield StateRig(delivery, events, broker, transactions, metrics, clock, rejoins)
    await delivery.close(broker.partitions)


async def test_a_state_copy_is_committed_in_its_events_transaction(state: StateRig) -> None:
    tp = state.broker.partitions[0]
    await state.events.publish("results", b"k", event(0))
    assert state.broker.published == []  # buffered, both

    assert await state.delivery.commit({tp: Position(1)}) == {tp}

    assert state.topics() == ["results", STATE_TOPIC]
    assert state.count("ecsp_events_published_total", {"type": EventType.VALIDATED.value}) == 1
    assert state.count("ecsp_transactions_total", {"outcome": "committed"}) == 1
    assert state.count("ecsp_state_writes_dropped_total") == 0


async def test_a_state_copy_waits_with_its_terminal_event(state: StateRig) -> None:
    """The copy of an answer no position names yet stays buffered with its event."""
    tp = state.broker.partitions[0]
    await state.events.publish("results", b"k", event(2))
    assert await state.delivery.commit({tp: Position(1)}) == {tp}
    assert state.topics() == []
    assert await state.delivery.commit({tp: Position(3)}) == {tp}
    assert state.topics() == ["results", STATE_TOPIC]


async def test_a_state_topic_refusing_copies_loses_no_answer_and_pauses_its_copies(
    state: StateRig,
) -> None:
    """A refused record spoils aiokafka's producer, so each refusal costs the partition's
    producer and a rejoin: the full copy once, its minimal form once; then the topic gets no
    copies for a while (each dropped and counted), and the answer goes out."""
    tp = state.broker.partitions[0]
    state.transactions.refusing.add(STATE_TOPIC)
    for attempt in range(3):  # the request is answered again after each given-up producer
        await state.delivery.open(tp)
        await state.events.publish("results", b"k", event(0))
        committed = await state.delivery.commit({tp: Position(1)})
        assert committed == (set() if attempt < 2 else {tp})
    assert len(state.rejoins) == 2
    assert state.topics() == ["results"]
    assert state.count("ecsp_state_writes_dropped_total") == 1

    await state.events.publish("results", b"k", event(1))  # still paused: no rejoin
    assert await state.delivery.commit({tp: Position(2)}) == {tp}
    assert len(state.rejoins) == 2
    assert state.count("ecsp_state_writes_dropped_total") == 2

    state.transactions.refusing.clear()  # the operator fixed the topic
    state.clock.advance(COPY_PAUSE_SECONDS)
    await state.events.publish("results", b"k", event(2))
    assert await state.delivery.commit({tp: Position(3)}) == {tp}
    assert state.topics()[-2:] == ["results", STATE_TOPIC]


async def test_a_copy_that_cannot_be_sent_is_left_out_and_its_answer_committed(
    state: StateRig,
) -> None:
    """The state topic missing (no metadata in time): the copies are dropped and counted, the
    transaction goes on with the events; no producer is given up."""
    tp = state.broker.partitions[0]
    state.transactions.unreachable.add(STATE_TOPIC)
    for offset in (0, 1):
        await state.events.publish("results", b"k", event(offset))
    assert await state.delivery.commit({tp: Position(2)}) == {tp}
    assert state.topics() == ["results", "results"]
    assert state.count("ecsp_state_writes_dropped_total") == 2  # the second without a wait
    assert state.rejoins == []
