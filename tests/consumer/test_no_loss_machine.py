"""The no-loss logic under random arrivals, completions, acks, commits, rebalances and crashes.

Runs the `NoLossMachine` (tests/consumer/machine.py) without a broker, and shows that it bites:
the same machine against a worker with a planted defect must find a counterexample (commits
past the lowest unfinished offset, before the event's ack, a map read one offset off, a map
not read at all; under exactly_once: no fencing).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from ecsp_contract.cloudevent import CloudEvent
from tests.consumer.machine import NoLossMachine
from tests.support.examples import examples
from tests.support.memory_broker import MemoryBroker, MemoryConsumer, MemoryPublisher
from worker.consumer import offset_map, runner
from worker.consumer.offset_map import OffsetMapConfig
from worker.consumer.offsets import PartitionOffsets
from worker.consumer.ports import Position, TopicPartition
from worker.consumer.state import CopySink
from worker.consumer.transactional import TransactionalDelivery, transactional_id

MACHINE = settings(
    max_examples=examples(100),
    stateful_step_count=40,
    deadline=None,
    derandomize=True,  # the same examples every run: a failure here is never chance
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
#: For the planted defects: finding one counterexample is the point, shrinking it only costs time.
#: More examples than the safety run: the derandomized search is deterministic for a given loop,
#: but which example first hits a defect moves when the loop's code changes (the steps refactor
#: moved it from within 100 to ~150), and a planted defect must be found every time.
FIND = settings(MACHINE, max_examples=400, phases=[Phase.explicit, Phase.generate])


def test_no_commit_passes_an_unanswered_record_and_every_record_is_answered() -> None:
    run_state_machine_as_test(NoLossMachine, settings=MACHINE)


class HighestFinished(PartitionOffsets):
    """The planted defect: commits past the highest finished offset, not the lowest unfinished."""

    __slots__ = ("_highest",)

    def __init__(self) -> None:
        super().__init__()
        self._highest: int | None = None

    def finished(self, offset: int) -> None:
        super().finished(offset)
        self._highest = offset if self._highest is None else max(self._highest, offset)

    def committable(self) -> int | None:
        lowest_unfinished = super().committable()
        return lowest_unfinished if self._highest is None else self._highest + 1


@pytest.mark.slow  # a planted defect needs hundreds of runs to be found
def test_the_machine_catches_committing_the_highest_finished_offset(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(runner, "PartitionOffsets", HighestFinished)
    with pytest.raises(AssertionError, match="passes unanswered"):
        run_state_machine_as_test(NoLossMachine, settings=FIND)


@dataclass
class UnwaitedPublisher(MemoryPublisher):
    """The planted defect of tests/reliability: a publish that returns before the broker's ack."""

    sending: set[asyncio.Task[None]] = field(default_factory=set)

    async def publish(self, topic: str, key: bytes | None, event: CloudEvent) -> None:
        sent = asyncio.create_task(super().publish(topic, key, event))
        self.sending.add(sent)
        sent.add_done_callback(self.sending.discard)


class CommitBeforePublish(NoLossMachine):
    def make_publisher(self, publisher: MemoryPublisher) -> MemoryPublisher:
        return UnwaitedPublisher(publisher.broker, publisher.member)


@pytest.mark.slow  # a planted defect needs hundreds of runs to be found
def test_the_machine_catches_committing_before_the_event_is_acknowledged() -> None:
    with pytest.raises(AssertionError, match=r"(passes|names) unanswered"):
        run_state_machine_as_test(CommitBeforePublish, settings=FIND)


@pytest.mark.slow  # a planted defect needs hundreds of runs to be found
def test_the_machine_catches_skipping_an_offset_that_was_never_answered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The planted defect: the map is read one offset off, so a record after each answered one
    is skipped as if answered (the loss a wrong decoder would cause)."""

    def one_off(
        position: Position | None, config: OffsetMapConfig, on_unreadable: Callable[[str], None]
    ) -> tuple[int | None, frozenset[int]]:
        below, above = offset_map.answered(position, config, on_unreadable)
        return below, frozenset(o + 1 for o in above)

    monkeypatch.setattr(runner, "answered", one_off)
    with pytest.raises(AssertionError, match="unanswered"):
        run_state_machine_as_test(NoLossMachine, settings=FIND)


@pytest.mark.slow  # a planted defect needs hundreds of runs to be found
def test_the_machine_catches_a_worker_that_ignores_the_map(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The map's point: a worker that reads the committed offset but not the map answers
    records again that the commit named answered."""

    def offset_only(
        position: Position | None, config: OffsetMapConfig, on_unreadable: Callable[[str], None]
    ) -> tuple[int | None, frozenset[int]]:
        below, _ = offset_map.answered(position, config, on_unreadable)
        return below, frozenset()

    monkeypatch.setattr(runner, "answered", offset_only)
    with pytest.raises(AssertionError, match="processed again"):
        run_state_machine_as_test(NoLossMachine, settings=FIND)


class NoFencing(NoLossMachine):
    """The planted defect: a transactional id per member, not per partition (no member fences
    another), as with aiokafka's TxnOffsetCommit v0 alone (aiokafka#844)."""

    def transactional_id(self, consumer: MemoryConsumer, partition: TopicPartition) -> str:
        return f"{transactional_id('machine', partition)}-{id(consumer)}"


@pytest.mark.slow  # a planted defect needs hundreds of runs to be found
def test_the_machine_catches_exactly_once_without_fencing() -> None:
    """A zombie must be expelled, process and commit an answer the partition's new owner also
    commits: more steps to find than the other defects, hence more examples (it stops at the
    first counterexample)."""
    with pytest.raises(AssertionError, match="answered twice"):
        run_state_machine_as_test(NoFencing, settings=settings(FIND, max_examples=500))


@dataclass
class _CopiesOutside:
    """Events through the delivery, copies written at once, outside any transaction."""

    delivery: TransactionalDelivery
    broker: MemoryBroker

    async def publish(self, topic: str, key: bytes | None, event: CloudEvent) -> None:
        await self.delivery.publish(topic, key, event)

    async def publish_best_effort(
        self, topic: str, key: bytes | None, event: CloudEvent, *, within: float
    ) -> bool:
        return await self.delivery.publish_best_effort(topic, key, event, within=within)

    async def publish_copy(
        self, topic: str, key: bytes | None, event: CloudEvent, *, within: float
    ) -> bool:
        self.broker.commit_transaction({}, [(topic, key, event)])
        return True


class StateOutsideTheTransaction(NoLossMachine):
    """The planted defect: the state copies go out through a producer of their own, as under
    at_least_once, instead of in the events' transaction."""

    def state_copies(self, delivery: TransactionalDelivery) -> CopySink:
        return _CopiesOutside(delivery, self.broker)


@pytest.mark.slow  # a planted defect needs hundreds of runs to be found
def test_the_machine_catches_state_copies_outside_the_transaction() -> None:
    with pytest.raises(AssertionError, match="state copies differ"):
        run_state_machine_as_test(StateOutsideTheTransaction, settings=FIND)
