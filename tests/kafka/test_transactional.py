"""Exactly-once delivery against the real broker: events and the commit visible together or not
at all, a new owner fencing the old one (aiokafka#844), an owner killed mid-transaction, a refused
event (an abort and its retry; aiokafka#920: nothing to seek back), and transactions one by one
on one producer (aiokafka#1098's pattern)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka import TopicPartition as KafkaTopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import MessageSizeTooLargeError, OutOfOrderSequenceNumber

from ecsp_contract.cloudevent import CloudEvent, build_event
from ecsp_contract.events import EventType, ValidatedData
from tests.support.kafka import create_topics, delete_topics, read_committed
from worker.assembly import transactional_config
from worker.consumer.committed_fetch import CommittedReader
from worker.consumer.kafka import make_transactional_producer
from worker.consumer.ports import Position, TopicPartition
from worker.consumer.transactional import TransactionalDelivery, transactional_id
from worker.ops.metrics import Metrics
from worker.ops.settings import Settings


@dataclass
class Rig:
    bootstrap: str
    requests: str
    results: str
    group: str
    admin: AIOKafkaAdminClient
    deliveries: list[TransactionalDelivery] = field(default_factory=list)
    rejoins: list[str] = field(default_factory=list)

    @property
    def tp(self) -> TopicPartition:
        return TopicPartition(self.requests, 0)

    def member(self, name: str, metrics: Metrics | None = None) -> TransactionalDelivery:
        settings = Settings(kafka_bootstrap_servers=self.bootstrap, group_id=self.group)
        config = replace(transactional_config(settings), transaction_timeout_seconds=30.0)
        delivery = TransactionalDelivery(
            config,
            lambda tid: make_transactional_producer(settings, tid),
            _Positions(CommittedReader(self.admin, self.group)),
            rejoin=lambda: self.rejoins.append(name),
            observer=metrics or Metrics(),
        )
        self.deliveries.append(delivery)
        return delivery

    def event(self, offset: int, **data: object) -> CloudEvent:
        validated = ValidatedData(
            request_key=f"key-{offset}",
            client_token=None,
            project_id=None,
            received_at="2026-12-06T00:00:00Z",
            origin={"topic": self.requests, "partition": 0, "offset": offset},
            attempts=1,
            **data,
        )
        return build_event(validated, EventType.VALIDATED, source="test")

    async def visible(self) -> list[int]:
        """The origin offsets of the events a read_committed subscriber sees."""
        records = await read_committed(self.bootstrap, self.results)
        return [json.loads(r.value or b"")["data"]["origin"]["offset"] for r in records]

    async def committed(self) -> Position | None:
        return await CommittedReader(self.admin, self.group).read(self.tp)


@dataclass
class _Positions:
    reader: CommittedReader

    async def committed_position(self, partition: TopicPartition) -> Position | None:
        return await self.reader.read(partition)


@pytest.fixture
async def rig(kafka_bootstrap: str) -> AsyncIterator[Rig]:
    suffix = uuid.uuid4().hex[:8]
    requests, results = f"test.eos.requests.{suffix}", f"test.eos.results.{suffix}"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    await create_topics(kafka_bootstrap, [requests])
    await admin.create_topics(
        [NewTopic(results, 1, 1, topic_configs={"max.message.bytes": "4000"})]
    )
    the_rig = Rig(kafka_bootstrap, requests, results, f"test-eos-{suffix}", admin)
    try:
        yield the_rig
    finally:
        for delivery in the_rig.deliveries:
            await delivery.close([the_rig.tp])
        await admin.close()
        await delete_topics(kafka_bootstrap, [requests, results])


async def test_events_and_the_commit_become_visible_together(rig: Rig) -> None:
    delivery = rig.member("a")
    assert await delivery.open(rig.tp) is None
    for offset in range(3):
        await delivery.publish(rig.results, b"k", rig.event(offset))
    assert await rig.visible() == []  # buffered: nothing sent before the commit

    assert await delivery.commit({rig.tp: Position(3, "")}) == {rig.tp}

    assert await rig.visible() == [0, 1, 2]
    assert await rig.committed() == Position(3, "")


async def test_a_new_owner_fences_the_old_one(rig: Rig) -> None:
    """aiokafka#844: TxnOffsetCommit v0 has no group generation, so a member that lost its
    partition in a rebalance could still commit it; the partition's transactional id stops it."""
    metrics = Metrics()
    old, new = rig.member("old", metrics), rig.member("new")
    await old.open(rig.tp)
    await old.publish(rig.results, b"k", rig.event(0))
    assert await new.open(rig.tp) is None  # the rebalance gave the partition to `new`

    assert await old.commit({rig.tp: Position(1, "")}) == set()
    assert rig.rejoins == ["old"]
    assert metrics.registry.get_sample_value("ecsp_producers_fenced_total") == 1
    await old.publish(rig.results, b"k", rig.event(0))  # dropped: the partition was given up

    await new.publish(rig.results, b"k", rig.event(0))
    assert await new.commit({rig.tp: Position(1, "")}) == {rig.tp}
    assert await rig.visible() == [0]


async def test_an_owner_killed_mid_transaction_is_aborted_by_the_next_owner(rig: Rig) -> None:
    """A SIGKILL between the events and EndTxn leaves the transaction open (and read_committed
    subscribers stalled); the next owner's InitProducerId aborts it before reading the offsets."""
    killed = AIOKafkaProducer(
        bootstrap_servers=rig.bootstrap, transactional_id=transactional_id(rig.group, rig.tp)
    )
    await killed.start()
    await killed.begin_transaction()
    await killed.send_offsets_to_transaction({KafkaTopicPartition(*rig.tp): (5, "")}, rig.group)
    await (await killed.send(rig.results, rig.event(0).model_dump_json().encode()))
    # no EndTxn: the process is gone (its connections are closed without a word)
    await killed.client.close()

    delivery = rig.member("next")
    assert await delivery.open(rig.tp) is None  # the killed owner's offsets were aborted
    assert await rig.visible() == []  # and its event too; nothing holds the subscriber back


async def test_a_refused_event_spoils_the_producer_and_goes_out_minimal_when_answered_again(
    rig: Rig,
) -> None:
    """A record the broker refuses (too large for its topic) leaves aiokafka's sequence numbers
    one ahead of the broker's: every later send to that partition would fail with
    OutOfOrderSequenceNumber. So the transaction is aborted, the partition given up (rejoin),
    and the request's event, answered again by the partition's next producer, goes out minimal.
    (aiokafka#920: aiokafka rewinds nothing after an abort; nothing here needs rewinding: the
    records are processed again from the committed offset.)"""
    metrics = Metrics()
    delivery = rig.member("a", metrics)
    await delivery.open(rig.tp)
    big = rig.event(0, request={"server": {"name": "x" * 6000}})  # over the topic's 4000
    await delivery.publish(rig.results, b"k", big)

    assert await delivery.commit({rig.tp: Position(1, "")}) == set()
    assert rig.rejoins == ["a"]
    assert await rig.committed() is None

    assert await delivery.open(rig.tp) is None  # the rejoin gave the partition back
    await delivery.publish(rig.results, b"k", big)  # the request answered again
    assert await delivery.commit({rig.tp: Position(1, "")}) == {rig.tp}

    records = await read_committed(rig.bootstrap, rig.results)
    assert [json.loads(r.value or b"")["data"]["truncated"] for r in records] == [["request"]]
    assert await rig.committed() == Position(1, "")
    outcomes = {
        o: metrics.registry.get_sample_value("ecsp_transactions_total", {"outcome": o})
        for o in ("committed", "aborted")
    }
    assert outcomes == {"committed": 1, "aborted": 1}


async def test_transactions_one_by_one_on_one_producer(rig: Rig) -> None:
    """aiokafka#1098 reports a KeyError in the TxnOffsetCommit handler when committing offsets
    one by one with one transactional producer; it did not happen here (Kafka 4.1)."""
    delivery = rig.member("a")
    await delivery.open(rig.tp)
    for offset in range(100):
        await delivery.publish(rig.results, b"k", rig.event(offset))
        assert await delivery.commit({rig.tp: Position(offset + 1, "")}) == {rig.tp}
    assert await rig.visible() == list(range(100))
    assert await rig.committed() == Position(100, "")


async def test_aiokafka_after_a_refused_record_the_next_transaction_fails(rig: Rig) -> None:
    """The reproduction behind giving a partition up after a refused event (aiokafka 0.14): the
    refused batch still counted in the producer's sequence numbers, and aborting does not reset
    them. If this starts to pass, aiokafka fixed it and the workaround can go."""
    producer = AIOKafkaProducer(bootstrap_servers=rig.bootstrap, transactional_id=rig.group)
    await producer.start()
    try:
        await producer.begin_transaction()
        with pytest.raises(MessageSizeTooLargeError):
            await (await producer.send(rig.results, b"x" * 6000))
        await producer.abort_transaction()
        await producer.begin_transaction()
        with pytest.raises(OutOfOrderSequenceNumber):
            await (await producer.send(rig.results, b"small"))
    finally:
        await producer.stop()
