"""The answered-offsets map across a member's crash, on the in-memory broker, step by step:
what the next owner processes again after a crash after or before the commit, with a map over
the metadata limit, and with a map from another version; and the pause at 75 % of the limit."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from ecsp_contract.cloudevent import build_event
from ecsp_contract.events import EventType, ValidatedData
from tests.consumer.machine import BASE_SETTINGS, older_version_map
from tests.support.kafka import wait_for
from tests.support.memory_broker import MemoryBroker, MemoryConsumer
from worker.assembly import worker_config
from worker.consumer.answered_codec import decode
from worker.consumer.ports import BrokerError, Position, TopicPartition
from worker.consumer.runner import Worker
from worker.ops.metrics import Metrics
from worker.ops.settings import Settings
from worker.pipeline.port import InboundMessage, Outcome, ProgressSink
from worker.tenancy.model import TenantsDocument

RECORDS = 5


async def turns_until(condition: Callable[[], object], turns: int = 200) -> None:
    for _ in range(turns):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("the condition never held")


@dataclass
class Jobs:
    """The pipeline: remembers which offsets reached it; each job ends when the test says."""

    started: dict[int, asyncio.Future[None]] = field(default_factory=dict)

    async def __call__(self, message: InboundMessage, progress: ProgressSink | None) -> Outcome:
        job = asyncio.get_running_loop().create_future()
        self.started[message.offset] = job
        await job
        data = ValidatedData(
            request_key=None,
            client_token=None,
            project_id=None,
            received_at=message.received_at,
            origin=message.origin,
            attempts=1,
        )
        return Outcome(build_event(data, EventType.VALIDATED, source="test"), message.key)


@dataclass
class Member:
    consumer: MemoryConsumer
    worker: Worker
    jobs: Jobs
    metrics: Metrics

    def value(self, name: str) -> float:
        return self.metrics.registry.get_sample_value(name, {"topic": "requests"}) or 0.0


@asynccontextmanager
async def member(broker: MemoryBroker, settings: Settings = BASE_SETTINGS) -> AsyncIterator[Member]:
    """A group member that owns the partition until the block ends with its SIGKILL."""
    consumer, publisher = broker.join()
    jobs, metrics = Jobs(), Metrics()
    worker = Worker(worker_config(settings, TenantsDocument()), consumer, publisher, jobs, metrics)
    run = asyncio.create_task(worker.run(asyncio.Event()))
    await turns_until(lambda: consumer.listener is not None)
    await broker.rebalance({consumer: broker.partitions})
    try:
        yield Member(consumer, worker, jobs, metrics)
    finally:
        broker.kill(consumer)
        run.cancel()
        await asyncio.gather(run, return_exceptions=True)


async def finish(broker: MemoryBroker, owner: Member, offsets: list[int]) -> None:
    """Ends the jobs of `offsets` and acknowledges their terminal events."""
    for offset in offsets:
        owner.jobs.started[offset].set_result(None)
    await turns_until(lambda: len(broker.pending()) == len(offsets))
    for publish in broker.pending():
        broker.ack(publish)
    for _ in range(10):  # the acknowledged requests mark their offsets finished
        await asyncio.sleep(0)


async def first_owner(broker: MemoryBroker, settings: Settings, *, commit: bool) -> Member:
    """Five records; the jobs of 1 and 3 end first, (commit,) SIGKILL."""
    for i in range(RECORDS):
        broker.produce(0, f"key-{i}".encode(), b"{}")
    async with member(broker, settings) as owner:
        await turns_until(lambda: len(owner.jobs.started) == RECORDS)
        await finish(broker, owner, [1, 3])
        if commit:
            await owner.worker.commit(owner.worker.assignment)
    return owner


async def processed_by_the_next_owner(broker: MemoryBroker) -> tuple[list[int], Member]:
    async with member(broker) as owner:
        await turns_until(lambda: RECORDS - 1 in owner.jobs.started)
        for _ in range(20):
            await asyncio.sleep(0)
        return sorted(owner.jobs.started), owner


async def test_after_a_crash_after_the_commit_the_next_owner_skips_what_the_map_names() -> None:
    broker = MemoryBroker("requests", 1)
    await first_owner(broker, BASE_SETTINGS, commit=True)
    tp = broker.partitions[0]
    assert broker.committed[tp] == 0
    assert decode(broker.metadata[tp], 0) == {1, 3}

    processed, owner = await processed_by_the_next_owner(broker)

    assert processed == [0, 2, 4]
    assert owner.value("ecsp_records_skipped_total") == 2
    assert sum(broker.answers[tp].values()) == 2  # nothing answered twice so far


async def test_after_a_crash_before_the_commit_everything_is_replayed() -> None:
    broker = MemoryBroker("requests", 1)
    await first_owner(broker, BASE_SETTINGS, commit=False)

    processed, owner = await processed_by_the_next_owner(broker)

    assert processed == [0, 1, 2, 3, 4]
    assert owner.value("ecsp_records_skipped_total") == 0


async def test_a_map_over_the_metadata_limit_is_left_out_and_counted() -> None:
    broker = MemoryBroker("requests", 1)
    tiny = BASE_SETTINGS.model_copy(update={"offset_metadata_max_bytes": 8})
    first = await first_owner(broker, tiny, commit=True)
    tp = broker.partitions[0]
    assert (broker.committed[tp], broker.metadata[tp]) == (0, "")  # today's commit
    assert first.value("ecsp_offset_map_overflows_total") == 1

    processed, _ = await processed_by_the_next_owner(broker)

    assert processed == [0, 1, 2, 3, 4]


async def test_a_map_of_another_version_is_ignored_and_counted() -> None:
    broker = MemoryBroker("requests", 1)
    await first_owner(broker, BASE_SETTINGS, commit=True)
    tp = broker.partitions[0]
    broker.metadata[tp] = older_version_map(0, range(RECORDS))  # "all answered", version 0

    processed, owner = await processed_by_the_next_owner(broker)

    assert processed == [0, 1, 2, 3, 4]
    assert owner.value("ecsp_offset_map_unreadable_total") == 1


async def test_a_partition_takes_no_new_records_while_its_map_is_past_75_percent() -> None:
    broker = MemoryBroker("requests", 1)
    small = BASE_SETTINGS.model_copy(update={"offset_metadata_max_bytes": 16})  # pause at 12
    for i in range(RECORDS):
        broker.produce(0, f"key-{i}".encode(), b"{}")
    async with member(broker, small) as owner:
        tp = broker.partitions[0]
        await turns_until(lambda: len(owner.jobs.started) == RECORDS)
        await finish(broker, owner, [1, 3])
        await owner.worker.commit(owner.worker.assignment)
        assert len(broker.metadata[tp]) == 13  # "ecsp:" + 8 characters of base64
        assert owner.consumer.paused == {tp}

        await finish(broker, owner, [0, 2])
        await owner.worker.commit(owner.worker.assignment)
        assert (broker.committed[tp], broker.metadata[tp]) == (4, "")
        assert owner.consumer.paused == set()


async def test_a_large_map_of_records_not_read_yet_does_not_pause_the_partition() -> None:
    """Found by the state machine: a map past 75 % whose gaps are records not read yet (an
    earlier owner's map) must not keep the partition paused once nothing is in flight, or
    nothing would ever shrink it and the partition would stop for good."""
    broker = MemoryBroker("requests", 1)
    for i in range(4):
        broker.produce(0, f"key-{i}".encode(), b"{}")
    async with member(broker) as first:
        await turns_until(lambda: len(first.jobs.started) == 4)
        await finish(broker, first, [3])
        await first.worker.commit(first.worker.assignment)
    tp = broker.partitions[0]
    assert decode(broker.metadata[tp], 0) == {3}

    one_at_a_time = BASE_SETTINGS.model_copy(
        update={"offset_metadata_max_bytes": 16, "max_in_flight": 1}
    )
    async with member(broker, one_at_a_time) as second:
        await turns_until(lambda: 0 in second.jobs.started)
        await second.worker.commit(second.worker.assignment)  # (0, {3}): 13 bytes, paused
        assert second.consumer.paused == {tp}
        await finish(broker, second, [0])
        await second.worker.commit(second.worker.assignment)  # (1, {3}): nothing in flight
        await turns_until(lambda: 1 in second.jobs.started)  # so record 1 is read


async def test_a_partition_whose_position_cannot_be_read_yet_waits_and_is_retried() -> None:
    """Opening a partition retries until its committed position is read: meanwhile its records
    wait (the partition is paused), none is processed without knowing what was answered."""
    broker = MemoryBroker("requests", 1)
    broker.produce(0, b"key-0", b"{}")
    failures = [BrokerError("CoordinatorNotAvailableError")]
    read = MemoryConsumer.committed_position

    async def flaky(self: MemoryConsumer, partition: TopicPartition) -> Position | None:
        if failures:
            raise failures.pop()
        return await read(self, partition)

    MemoryConsumer.committed_position = flaky  # type: ignore[method-assign]
    try:
        async with member(broker) as owner:
            await turns_until(lambda: owner.consumer.paused == {broker.partitions[0]})
            assert owner.jobs.started == {}
            await wait_for(lambda: 0 in owner.jobs.started, timeout=5)  # retried after 0.2 s
    finally:
        MemoryConsumer.committed_position = read  # type: ignore[method-assign]
