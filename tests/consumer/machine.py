"""A stateful model of the consumer group around `Worker`, for hypothesis' rule-based testing.

The machine drives real `Worker`s over the in-memory broker (`tests.support.memory_broker`), with
a scripted pipeline whose jobs end only when a rule says so. Rules: records arrive on any
partition; jobs finish (or raise) in any order; the broker acknowledges terminal events in any
order; members commit, join, stop, crash (before or after their last commit), and the group
rebalances, revoking partitions while their jobs run; commits fail now and then; a member of an
older release (no map, or a map of another version) commits a partition; the group drops a
member without telling it (a zombie that goes on processing and committing). Commits carry the
answered-offsets map, within a metadata limit that is either the broker's default or so small
that maps overflow and partitions pause. Delivery is at_least_once, or exactly_once: the real
`TransactionalDelivery` over the in-memory transactions of `tests.support.memory_transactions`
(a transactional id per partition, fencing, a SIGKILL leaving a transaction open), wrapped in
the state topic's `StateRecordingSink` as the service wraps it. Everything runs on one event
loop the machine owns, step by step, without a broker or wall-clock waits.

Invariants:
- safety, checked at every commit: a committed offset never passes, and its map never names, a
  record whose terminal event the broker has not acknowledged;
- the map is honoured: a member never processes a record again that the commit its assignment
  started from named answered;
- exactly_once: no record is ever answered twice (a read_committed subscriber's view), and the
  state topic holds a record's terminal copy exactly when its answer is committed (same
  transaction: never one without the other, never twice);
- liveness, checked at the end: once members keep running, every record is answered and every
  partition's committed offset reaches its end.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Coroutine, Iterable
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from ecsp_contract.cloudevent import build_event
from ecsp_contract.events import EventType, SubmittedData, ValidatedData
from tests.support.memory_broker import STATE_TOPIC, MemoryBroker, MemoryConsumer, MemoryPublisher
from tests.support.memory_transactions import MemoryTransactions
from worker.assembly import transactional_config, worker_config
from worker.consumer.answered_codec import PREFIX, encode
from worker.consumer.ports import TopicPartition
from worker.consumer.runner import Worker, WorkerConfig
from worker.consumer.state import CopySink, StateRecordingSink
from worker.consumer.transactional import TransactionalDelivery, transactional_id
from worker.ops.metrics import Metrics
from worker.ops.settings import Settings
from worker.pipeline.port import InboundMessage, Outcome, ProgressSink
from worker.tenancy.model import TenantsDocument

TOPIC = "requests"
PARTITIONS = 3
MAX_MEMBERS = 3
#: Event-loop turns after each step: enough for a fetched record to reach its job, a finished
#: job its publish, an acknowledged publish its offset.
SETTLE_TURNS = 12
#: Who gets each partition in a rebalance: a member index (modulo the members there are).
OWNERS = st.lists(st.integers(0, MAX_MEMBERS - 1), min_size=PARTITIONS, max_size=PARTITIONS)
#: The brokers' default metadata limit, and one so small that a map of a few offsets overflows
#: (and a partition pauses as soon as it has one; below the settings' minimum on purpose).
METADATA_LIMITS = st.sampled_from([4096, 16])

T = TypeVar("T")

#: Built once (reading the environment is slow); each example copies it with its own limits.
BASE_SETTINGS = Settings(
    topic_requests=TOPIC,
    commit_interval_seconds=3600.0,  # the machine commits (rule `commit`)
    lag_interval_seconds=3600.0,
    revoke_grace_seconds=0.0,
    shutdown_grace_seconds=0.0,
)


def older_version_map(base: int, offsets: Iterable[int]) -> str:
    """A map this release's encoding would write for `offsets`, but marked version 0."""
    raw = base64.b64decode(encode(base, offsets)[len(PREFIX) :])
    return PREFIX + base64.b64encode(bytes([0]) + raw[1:]).decode("ascii")


class ScriptedPipeline:
    """Each request waits for the machine to end its job; then it is answered."""

    def __init__(self) -> None:
        self.jobs: list[asyncio.Future[None]] = []

    def running(self) -> list[asyncio.Future[None]]:
        self.jobs = [job for job in self.jobs if not job.done()]
        return self.jobs

    async def __call__(self, message: InboundMessage, progress: ProgressSink | None) -> Outcome:
        common = {
            "request_key": None if message.key is None else message.key.decode(),
            "client_token": None,
            "project_id": None,
            "received_at": message.received_at,
            "origin": message.origin,
        }
        if progress is not None:
            submitted = SubmittedData(**common, job_id="job", order_id=None, server_ids=[])
            await progress(build_event(submitted, EventType.SUBMITTED, source="machine"))
        job = asyncio.get_running_loop().create_future()
        self.jobs.append(job)
        await job  # raises when the machine makes the job fail
        event = build_event(ValidatedData(**common, attempts=1), EventType.VALIDATED, source="m")
        return Outcome(event, message.key)


@dataclass
class MemberPipeline:
    """One member's view of the shared pipeline: tells the broker who starts on which record."""

    shared: ScriptedPipeline
    broker: MemoryBroker
    consumer: MemoryConsumer

    async def __call__(self, message: InboundMessage, progress: ProgressSink | None) -> Outcome:
        tp = TopicPartition(message.topic, message.partition)
        self.broker.processing(self.consumer, tp, message.offset)
        return await self.shared(message, progress)


@dataclass
class Member:
    consumer: MemoryConsumer
    worker: Worker
    stop: asyncio.Event
    task: asyncio.Task[None]


class NoLossMachine(RuleBasedStateMachine):
    """Consumer group + broker + pipeline; see the module doc for rules and invariants."""

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.broker = MemoryBroker(TOPIC, PARTITIONS)
        self.pipeline = ScriptedPipeline()
        self.transactions = MemoryTransactions(self.broker)
        self.members: list[Member] = []
        self.zombies: list[Member] = []
        self.settings = BASE_SETTINGS
        self.produced = 0
        self.commit_every_step = False
        self.exactly_once = False

    # ----- how a member is made (the planted-defect tests override this)
    def make_publisher(self, publisher: MemoryPublisher) -> MemoryPublisher:
        return publisher

    def transactional_id(self, consumer: MemoryConsumer, partition: TopicPartition) -> str:
        return transactional_id("machine", partition)

    def state_copies(self, delivery: TransactionalDelivery) -> CopySink:
        """What the state sink sends copies through: the delivery, into its transactions."""
        return delivery

    @staticmethod
    def _state_of(config: WorkerConfig) -> dict[str, str]:
        """Every event topic's copies go to the one state topic."""
        return {topic: STATE_TOPIC for topic in config.topic_of.values() if topic}

    def _state_dropped(self) -> None:
        raise AssertionError("a state copy was dropped: nothing here refuses one")

    # ----- running the loop
    def _run(self, step: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(step)

    def _settle(self) -> None:
        async def turns() -> None:
            for _ in range(SETTLE_TURNS):
                await asyncio.sleep(0)

        self._run(turns())
        if self.commit_every_step:  # as if the periodic commit fired between any two steps
            for member in self.members:
                self._run(member.worker.commit(member.worker.assignment))

    def _wait_for(self, members: list[Member]) -> None:
        if members:
            self._run(asyncio.wait([member.task for member in members]))

    def _start_member(self) -> None:
        consumer, publisher = self.broker.join()
        pipeline = MemberPipeline(self.pipeline, self.broker, consumer)
        config = worker_config(self.settings, TenantsDocument())
        if self.exactly_once:
            delivery = self._transactional(consumer)
            events = StateRecordingSink(
                self.state_copies(delivery), self._state_of(config), self._state_dropped
            )
            worker = Worker(config, consumer, events, pipeline, Metrics(), delivery=delivery)
        else:
            sink = self.make_publisher(publisher)
            worker = Worker(config, consumer, sink, pipeline, Metrics())
        stop = asyncio.Event()
        task = self.loop.create_task(worker.run(stop))
        self.members.append(Member(consumer, worker, stop, task))
        self._settle()  # the worker subscribes

    def _transactional(self, consumer: MemoryConsumer) -> TransactionalDelivery:
        def producer_for(name: str) -> Any:
            partition = TopicPartition(TOPIC, int(name.rsplit("-", 1)[1]))
            return self.transactions.producer(consumer, self.transactional_id(consumer, partition))

        config = replace(transactional_config(self.settings), transaction_timeout_seconds=30.0)
        return TransactionalDelivery(
            config, producer_for, consumer, rejoin=consumer.rejoin, observer=Metrics()
        )

    def _rebalance(self, owners: list[int]) -> None:
        """Partition p goes to member owners[p] (modulo the number of members)."""
        assignment: dict[MemoryConsumer, list[TopicPartition]] = {}
        if self.members:
            for tp, owner in zip(self.broker.partitions, owners, strict=True):
                member = self.members[owner % len(self.members)]
                assignment.setdefault(member.consumer, []).append(tp)
        self._run(self.broker.rebalance(assignment))
        self._settle()

    # ----- rules
    @initialize(
        max_in_flight=st.integers(1, 6),
        partition_max_pending=st.integers(0, 4),
        progress=st.booleans(),
        commit_every_step=st.booleans(),
        metadata_max_bytes=METADATA_LIMITS,
        exactly_once=st.booleans(),
    )
    def configure(
        self,
        max_in_flight: int,
        partition_max_pending: int,
        progress: bool,
        commit_every_step: bool,
        metadata_max_bytes: int,
        exactly_once: bool,
    ) -> None:
        self.commit_every_step = commit_every_step
        self.exactly_once = exactly_once
        self.settings = BASE_SETTINGS.model_copy(
            update={
                "topic_progress": "progress" if progress else "",
                "max_in_flight": max_in_flight,
                "partition_max_pending": partition_max_pending,
                "offset_metadata_max_bytes": metadata_max_bytes,
            }
        )
        self._start_member()
        self._rebalance([0] * PARTITIONS)

    @rule(partition=st.integers(0, PARTITIONS - 1), count=st.integers(1, 3))
    def produce(self, partition: int, count: int) -> None:
        for _ in range(count):
            self.produced += 1
            self.broker.produce(partition, f"key-{self.produced}".encode(), b"{}")
        self._settle()

    @precondition(lambda self: bool(self.pipeline.running()))
    @rule(data=st.data(), fail=st.booleans())
    def finish_job(self, data: st.DataObject, fail: bool) -> None:
        job = data.draw(st.sampled_from(self.pipeline.running()))
        if fail:  # a pipeline that raises still answers its request (ECSP.InternalError)
            job.set_exception(RuntimeError("scripted bug"))
        else:
            job.set_result(None)
        self._settle()

    @precondition(lambda self: bool(self.pipeline.running()))
    @rule(data=st.data())
    def answer(self, data: st.DataObject) -> None:
        """A job ends and the broker acknowledges its event at once (the common case; it makes
        records answered out of order, and so maps, frequent)."""
        data.draw(st.sampled_from(self.pipeline.running())).set_result(None)
        self._settle()
        for publish in self.broker.pending():
            self.broker.ack(publish)
        self._settle()

    @precondition(lambda self: bool(self.broker.pending()))
    @rule(data=st.data())
    def ack(self, data: st.DataObject) -> None:
        self.broker.ack(data.draw(st.sampled_from(self.broker.pending())))
        self._settle()

    @precondition(lambda self: bool(self.members))
    @rule(data=st.data())
    def commit(self, data: st.DataObject) -> None:
        member = data.draw(st.sampled_from(self.members))
        self._run(member.worker.commit(member.worker.assignment))
        self._settle()

    @precondition(lambda self: self.broker.failing_commits < 2)
    @rule()
    def next_commit_fails(self) -> None:
        self.broker.failing_commits += 1

    @rule(owners=OWNERS)
    def rebalance(self, owners: list[int]) -> None:
        self._rebalance(owners)

    @precondition(lambda self: len(self.members) < MAX_MEMBERS)
    @rule(owners=OWNERS)
    def join(self, owners: list[int]) -> None:
        self._start_member()
        self._rebalance(owners)

    @precondition(lambda self: bool(self.members))
    @rule(data=st.data(), owners=OWNERS)
    def crash(self, data: st.DataObject, owners: list[int]) -> None:
        """SIGKILL: the member's effects stop at once; its partitions go to the others."""
        member = data.draw(st.sampled_from(self.members))
        self.broker.kill(member.consumer)
        self.members.remove(member)
        member.task.cancel()
        self._wait_for([member])
        self._rebalance(owners)

    @precondition(lambda self: bool(self.members))
    @rule(data=st.data(), owners=OWNERS)
    def stop(self, data: st.DataObject, owners: list[int]) -> None:
        """SIGTERM: the member drains, commits and leaves; the others take over."""
        member = data.draw(st.sampled_from(self.members))
        member.stop.set()
        self._wait_for([member])
        self.broker.leave(member.consumer)
        self.members.remove(member)
        self._rebalance(owners)

    @precondition(lambda self: bool(self.broker.committed) and not self.exactly_once)
    @rule(data=st.data(), unknown_version=st.booleans())
    def older_release_commits(self, data: st.DataObject, unknown_version: bool) -> None:
        """A member of an older release committed a partition: no map at all, or a map of a
        version this one does not read, claiming every record of the partition answered.
        (Not under exactly_once: a map that cannot be read means replaying what it named, so
        a group that mixes releases is at-least-once.)"""
        tp = data.draw(st.sampled_from(sorted(self.broker.committed)))
        offset = self.broker.committed[tp]
        self.broker.metadata[tp] = (
            older_version_map(offset, range(offset, len(self.broker.logs[tp]) + 3))
            if unknown_version
            else ""
        )

    @precondition(lambda self: len(self.members) > 1)
    @rule(data=st.data(), owners=OWNERS)
    def expel(self, data: st.DataObject, owners: list[int]) -> None:
        """The group drops a member without telling it (its session timed out while it was
        stuck); the others take its partitions while it goes on as a zombie."""
        member = data.draw(st.sampled_from(self.members))
        self.broker.expel(member.consumer)
        self.members.remove(member)
        self.zombies.append(member)
        self._rebalance(owners)

    @precondition(lambda self: bool(self.zombies))
    @rule(data=st.data())
    def zombie_commits(self, data: st.DataObject) -> None:
        member = data.draw(st.sampled_from(self.zombies))
        self._run(member.worker.commit(member.worker.assignment))
        self._settle()

    @invariant()
    def no_record_is_answered_twice_under_exactly_once(self) -> None:
        if self.exactly_once:
            assert not self.broker.duplicates, "; ".join(self.broker.duplicates)

    @invariant()
    def the_state_topic_commits_with_the_answers_under_exactly_once(self) -> None:
        if self.exactly_once:
            assert self.broker.state_answers == self.broker.answers, "state copies differ"

    @invariant()
    def no_commit_passes_an_unanswered_record(self) -> None:
        assert not self.broker.violations, "; ".join(self.broker.violations)

    @invariant()
    def no_record_named_answered_is_processed_again(self) -> None:
        assert not self.broker.replays, "; ".join(self.broker.replays)

    # ----- the end: everything keeps running until all is answered
    def teardown(self) -> None:
        try:
            if not self.broker.violations:
                self._run_to_the_end()
        finally:
            leftovers = asyncio.all_tasks(self.loop)  # members, their requests, stray sends
            for task in leftovers:
                task.cancel()
            if leftovers:
                self._run(asyncio.wait(leftovers))
            self.loop.close()

    def _run_to_the_end(self) -> None:
        for zombie in self.zombies:  # a zombie's process ends at last (it exits or is killed)
            zombie.consumer.alive = False
            zombie.task.cancel()
        self._wait_for(self.zombies)
        self.broker.failing_commits = 0
        if not self.members:
            self._start_member()
        self._rebalance(list(range(PARTITIONS)))
        for _ in range(2 * self.produced + 5):
            for job in self.pipeline.running():
                job.set_result(None)
            self._settle()
            for publish in self.broker.pending():
                self.broker.ack(publish)
            self._settle()
            for member in self.members:
                self._run(member.worker.commit(member.worker.assignment))
            if not self.broker.unanswered() and self._all_committed():
                break
        assert not self.broker.violations, "; ".join(self.broker.violations)
        assert not self.broker.replays, "; ".join(self.broker.replays)
        assert not self.exactly_once or not self.broker.duplicates, self.broker.duplicates
        assert not self.broker.unanswered(), f"never answered: {self.broker.unanswered()}"
        assert self._all_committed(), f"committed {self.broker.committed}"

    def _all_committed(self) -> bool:
        return all(
            self.broker.committed.get(tp, 0) == len(log) for tp, log in self.broker.logs.items()
        )
