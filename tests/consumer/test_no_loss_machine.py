"""The no-loss logic under random arrivals, completions, acks, commits, rebalances and crashes.

Runs the `NoLossMachine` (tests/consumer/machine.py) without a broker, and shows that it bites:
the same machine against a worker with a planted defect must find a counterexample.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from ecsp_contract.cloudevent import CloudEvent
from tests.consumer.machine import NoLossMachine
from tests.support.memory_broker import MemoryPublisher
from worker.consumer import runner
from worker.consumer.offsets import PartitionOffsets

MACHINE = settings(
    max_examples=100,
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
    with pytest.raises(AssertionError, match="passes unanswered"):
        run_state_machine_as_test(CommitBeforePublish, settings=FIND)
