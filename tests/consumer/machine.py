"""A stateful model of the consumer group around `Worker`, for hypothesis' rule-based testing.

The machine drives real `Worker`s over the in-memory broker (`tests.support.memory_broker`), with
a scripted pipeline whose jobs end only when a rule says so. Rules: records arrive on any
partition; jobs finish (or raise) in any order; the broker acknowledges terminal events in any
order; members commit, join, stop, crash, and the group rebalances, revoking partitions while
their jobs run; commits fail now and then. Everything runs on one event loop the machine owns,
step by step, without a broker or wall-clock waits.

Invariants:
- safety, checked at every commit: a committed offset never passes a record whose terminal event
  the broker has not acknowledged;
- liveness, checked at the end: once members keep running, every record is answered and every
  partition's committed offset reaches its end.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass
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
from tests.support.memory_broker import MemoryBroker, MemoryConsumer, MemoryPublisher
from worker.assembly import worker_config
from worker.consumer.ports import TopicPartition
from worker.consumer.runner import Worker
from worker.ops.config import Settings
from worker.ops.metrics import Metrics
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

T = TypeVar("T")

#: Built once (reading the environment is slow); each example copies it with its own limits.
BASE_SETTINGS = Settings(
    topic_requests=TOPIC,
    commit_interval_seconds=3600.0,  # the machine commits (rule `commit`)
    lag_interval_seconds=3600.0,
    revoke_grace_seconds=0.0,
    shutdown_grace_seconds=0.0,
)


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
        self.members: list[Member] = []
        self.settings = BASE_SETTINGS
        self.produced = 0
        self.commit_every_step = False

    # ----- how a member is made (the planted-defect tests override this)
    def make_publisher(self, publisher: MemoryPublisher) -> MemoryPublisher:
        return publisher

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
        worker = Worker(
            worker_config(self.settings, TenantsDocument()),
            consumer,
            self.make_publisher(publisher),
            self.pipeline,
            Metrics(),
        )
        stop = asyncio.Event()
        task = self.loop.create_task(worker.run(stop))
        self.members.append(Member(consumer, worker, stop, task))
        self._settle()  # the worker subscribes

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
    )
    def configure(
        self,
        max_in_flight: int,
        partition_max_pending: int,
        progress: bool,
        commit_every_step: bool,
    ) -> None:
        self.commit_every_step = commit_every_step
        self.settings = BASE_SETTINGS.model_copy(
            update={
                "topic_progress": "progress" if progress else "",
                "max_in_flight": max_in_flight,
                "partition_max_pending": partition_max_pending,
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

    @invariant()
    def no_commit_passes_an_unanswered_record(self) -> None:
        assert not self.broker.violations, "; ".join(self.broker.violations)

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
        assert not self.broker.unanswered(), f"never answered: {self.broker.unanswered()}"
        assert self._all_committed(), f"committed {self.broker.committed}"

    def _all_committed(self) -> bool:
        return all(
            self.broker.committed.get(tp, 0) == len(log) for tp, log in self.broker.logs.items()
        )
