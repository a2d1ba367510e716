"""An in-memory Kafka for the consume loop: one request topic, a consumer group, event acks.

Enough Kafka for `worker.consumer.runner.Worker` to run without a broker, every step under the
test's control (in the spirit of getsentry/arroyo's `LocalBroker`):
- `produce` appends records to the request topic's partitions;
- `join` adds a group member (a `MemoryConsumer`, the loop's `RequestConsumer`, and its
  `MemoryPublisher`, the loop's `EventSink`);
- `rebalance` is eager, like aiokafka: every member's listener is told its partitions are revoked
  (the Worker drains and commits them), then each member gets its new partitions and reads each
  from the group's committed offset;
- a terminal event is acknowledged only when the test says so (`ack`); a progress event at once;
- `kill` is a SIGKILL: from then on nothing the member does reaches the broker.

What the no-loss checks need is kept here: the committed positions (offset and answered-offsets
map), how often each record was answered (terminal event acknowledged), every commit whose
offset passed or whose map named an unanswered record (`violations`), and every record answered
again (processed: an API call, an event) by a member whose assignment started from a commit that
named it answered (`replays`: the map was not honoured; the pipeline reports `processing`).
Terminal events on `STATE_TOPIC` are copies (`worker.consumer.state`), not answers: they are
counted apart, in `state_answers`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from ecsp_contract.cloudevent import CloudEvent
from ecsp_contract.events import EventType
from worker.consumer.answered_codec import UnreadableMap, decode
from worker.consumer.ports import CommitFailed, Position, RebalanceListener, TopicPartition

TERMINAL = frozenset({EventType.SUCCEEDED, EventType.VALIDATED, EventType.FAILED})
#: The state topic's name here: its terminal events are copies of answers, not answers.
STATE_TOPIC = "state"


@dataclass(frozen=True)
class StoredRecord:
    """A record of the request topic (the loop's `Record`)."""

    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()
    timestamp: int = 1_700_000_000_000


@dataclass
class PendingPublish:
    """A terminal event sent by `member`, waiting for the broker's acknowledgement."""

    member: MemoryConsumer
    topic: str
    key: bytes | None
    event: CloudEvent
    acked: asyncio.Future[None]


class MemoryBroker:
    """The request topic, the group's committed offsets and what was answered."""

    def __init__(self, topic: str, partitions: int) -> None:
        self.topic = topic
        self.partitions = [TopicPartition(topic, p) for p in range(partitions)]
        self.logs: dict[TopicPartition, list[StoredRecord]] = {tp: [] for tp in self.partitions}
        self.committed: dict[TopicPartition, int] = {}
        self.metadata: dict[TopicPartition, str] = {}
        self.replays: list[str] = []
        self.duplicates: list[str] = []
        self.answers: dict[TopicPartition, dict[int, int]] = {tp: {} for tp in self.partitions}
        self.state_answers: dict[TopicPartition, dict[int, int]] = {
            tp: {} for tp in self.partitions
        }
        self.published: list[tuple[str, bytes | None, CloudEvent]] = []
        self.violations: list[str] = []
        self.members: list[MemoryConsumer] = []
        self.failing_commits = 0
        self._pending: list[PendingPublish] = []

    # ----- the test's controls
    def produce(self, partition: int, key: bytes | None, value: bytes | None) -> StoredRecord:
        tp = self.partitions[partition]
        record = StoredRecord(len(self.logs[tp]), key, value)
        self.logs[tp].append(record)
        return record

    def join(self) -> tuple[MemoryConsumer, MemoryPublisher]:
        member = MemoryConsumer(self)
        self.members.append(member)
        return member, MemoryPublisher(self, member)

    def kill(self, member: MemoryConsumer) -> None:
        member.alive = False
        self.members.remove(member)

    def leave(self, member: MemoryConsumer) -> None:
        self.members.remove(member)

    async def rebalance(
        self, assignment: Mapping[MemoryConsumer, Iterable[TopicPartition]]
    ) -> None:
        """Revokes every member's partitions, then gives each its part of `assignment`."""
        members = list(self.members)
        await asyncio.gather(*(member.revoke_all() for member in members))
        for member in members:
            if member in self.members:  # not killed meanwhile
                member.assign(assignment.get(member, ()))

    def pending(self) -> list[PendingPublish]:
        """Terminal events sent and not yet acknowledged (oldest first)."""
        self._pending = [p for p in self._pending if not p.acked.done()]
        return list(self._pending)

    def ack(self, publish: PendingPublish) -> None:
        """The broker acknowledges `publish` (the event is durable from here on)."""
        if publish.acked.done():
            return
        if publish.member.alive:
            self._store(publish.topic, publish.key, publish.event)
            publish.acked.set_result(None)

    def processing(self, member: MemoryConsumer, tp: TopicPartition, offset: int) -> None:
        """`member`'s pipeline starts on a record: a replay if the commit its assignment
        started from named the record answered."""
        if offset in member.covered.get(tp, ()):
            self.replays.append(f"{tp} offset {offset} processed again")

    def expel(self, member: MemoryConsumer) -> None:
        """The group drops `member` (its session timed out) without telling it: a zombie
        that goes on processing and committing the partitions it believes it owns."""
        member.expelled = True
        self.members.remove(member)

    def unanswered(self) -> dict[TopicPartition, list[int]]:
        return {
            tp: missing
            for tp, log in self.logs.items()
            if (missing := [r.offset for r in log if not self.answers[tp].get(r.offset)])
        }

    # ----- what members do
    def _store(self, topic: str, key: bytes | None, event: CloudEvent) -> None:
        self.published.append((topic, key, event))
        if event.type in TERMINAL:
            origin = event.data["origin"]
            tp = TopicPartition(origin["topic"], origin["partition"])
            if topic == STATE_TOPIC:
                copies = self.state_answers[tp]
                copies[origin["offset"]] = copies.get(origin["offset"], 0) + 1
                return
            self.answers[tp][origin["offset"]] = self.answers[tp].get(origin["offset"], 0) + 1
            if self.answers[tp][origin["offset"]] > 1:
                self.duplicates.append(f"{tp} offset {origin['offset']} answered twice")

    def commit_transaction(
        self,
        positions: Mapping[TopicPartition, Position],
        events: Iterable[tuple[str, bytes | None, CloudEvent]],
    ) -> None:
        """A transaction's events and offsets, visible at once (no group generation check:
        TxnOffsetCommit v0 has none; the producer's epoch fenced zombies already)."""
        for topic, key, event in events:
            self._store(topic, key, event)
        self._check_and_store(positions)

    def _send(
        self, member: MemoryConsumer, topic: str, key: bytes | None, event: CloudEvent
    ) -> PendingPublish:
        acked = asyncio.get_running_loop().create_future()
        publish = PendingPublish(member, topic, key, event, acked)
        self._pending.append(publish)
        return publish

    def _commit(self, member: MemoryConsumer, positions: Mapping[TopicPartition, Position]) -> None:
        if not member.alive:
            raise CommitFailed("the member is dead")
        if self.failing_commits:
            self.failing_commits -= 1
            raise CommitFailed("rebalance in progress")
        if not set(positions) <= member.assignment or member.expelled:
            raise CommitFailed("partition not owned")
        self._check_and_store(positions)

    def _check_and_store(self, positions: Mapping[TopicPartition, Position]) -> None:
        for tp, position in positions.items():
            offset = position.offset
            passed = [o for o in range(offset) if not self.answers[tp].get(o)]
            if passed:
                self.violations.append(f"{tp} committed at {offset} passes unanswered {passed}")
            named = sorted(o for o in self.named_answered(position) if not self.answers[tp].get(o))
            if named:
                self.violations.append(f"{tp} map at {offset} names unanswered {named}")
            self.committed[tp] = offset
            self.metadata[tp] = position.metadata

    @staticmethod
    def named_answered(position: Position) -> frozenset[int]:
        """The offsets a commit's map names answered, as the worker's decoder reads it."""
        try:
            return decode(position.metadata, position.offset)
        except UnreadableMap:
            return frozenset()

    def position(self, tp: TopicPartition) -> Position | None:
        if tp not in self.committed:
            return None
        return Position(self.committed[tp], self.metadata.get(tp, ""))


class MemoryConsumer:
    """One group member's consumer (the loop's `RequestConsumer`)."""

    def __init__(self, broker: MemoryBroker) -> None:
        self._broker = broker
        self.alive = True
        self.expelled = False
        self.rejoins = 0
        self.listener: RebalanceListener | None = None
        self.assignment: set[TopicPartition] = set()
        self.paused: set[TopicPartition] = set()
        self.covered: dict[TopicPartition, frozenset[int]] = {}
        self._positions: dict[TopicPartition, int] = {}
        self._fetching = False

    def subscribe(self, topics: Sequence[str], listener: RebalanceListener) -> None:
        assert list(topics) == [self._broker.topic]
        self.listener = listener

    async def getmany(
        self, *, timeout_ms: int, max_records: int
    ) -> Mapping[TopicPartition, Sequence[StoredRecord]]:
        assert timeout_ms > 0
        assert max_records >= 1
        await asyncio.sleep(0)
        batch: dict[TopicPartition, Sequence[StoredRecord]] = {}
        if not self._fetching or not self.alive:
            return batch
        room = max_records
        for tp in sorted(self.assignment - self.paused):
            position = self._positions[tp]
            records = self._broker.logs[tp][position : position + room]
            if records:
                batch[tp] = records
                self._positions[tp] = position + len(records)
                room -= len(records)
            if room == 0:
                break
        return batch

    def pause(self, *partitions: TopicPartition) -> None:
        assert set(partitions) <= self.assignment, "aiokafka refuses to pause what is not assigned"
        self.paused.update(partitions)

    def resume(self, *partitions: TopicPartition) -> None:
        assert set(partitions) <= self.assignment, "aiokafka refuses to resume what is not assigned"
        self.paused.difference_update(partitions)

    async def commit(self, positions: Mapping[TopicPartition, Position]) -> None:
        await asyncio.sleep(0)
        self._broker._commit(self, positions)

    def rejoin(self) -> None:
        """Asked to rejoin the group (the next rebalance of the test is that)."""
        self.rejoins += 1

    async def committed_position(self, partition: TopicPartition) -> Position | None:
        await asyncio.sleep(0)
        return self._broker.position(partition)

    async def end_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        return {tp: len(self._broker.logs[tp]) for tp in partitions}

    async def beginning_offsets(
        self, partitions: list[TopicPartition]
    ) -> dict[TopicPartition, int]:
        return dict.fromkeys(partitions, 0)

    async def committed(self, partition: TopicPartition) -> int | None:
        return self._broker.committed.get(partition)

    async def revoke_all(self) -> None:
        self._fetching = False
        if self.listener is not None:
            await self.listener.partitions_revoked(sorted(self.assignment))
        self.assignment = set()
        self.paused = set()

    def assign(self, partitions: Iterable[TopicPartition]) -> None:
        self.assignment = set(partitions)
        self.paused = set()
        self._positions = {tp: self._broker.committed.get(tp, 0) for tp in self.assignment}
        self.covered = {
            tp: self._broker.named_answered(position)
            for tp in self.assignment
            if (position := self._broker.position(tp)) is not None
        }
        if self.listener is not None:
            self.listener.partitions_assigned(sorted(self.assignment))
        self._fetching = True


@dataclass
class MemoryPublisher:
    """One member's producer (the loop's `EventSink`)."""

    broker: MemoryBroker
    member: MemoryConsumer
    progress: list[CloudEvent] = field(default_factory=list)

    async def publish(self, topic: str, key: bytes | None, event: CloudEvent) -> None:
        assert event.type in TERMINAL, "progress events go through publish_best_effort"
        await self.broker._send(self.member, topic, key, event).acked

    async def publish_best_effort(
        self, topic: str, key: bytes | None, event: CloudEvent, *, within: float
    ) -> bool:
        assert event.type not in TERMINAL, "terminal events go through publish"
        assert within > 0
        if self.member.alive:
            self.progress.append(event)
            self.broker._store(topic, key, event)
        return True
