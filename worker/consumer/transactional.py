"""Exactly-once delivery: a partition's events and its commit in one Kafka transaction.

The `Delivery` and `EventSink` of `ECSP_DELIVERY=exactly_once`. Each assigned input partition
gets a transactional producer of its own, `transactional.id = <group>-<topic>-<partition>`
(Kafka Streams' first exactly-once: aiokafka has no KIP-447, its `TxnOffsetCommit` v0 carries no
group generation, so fencing comes from the transactional id alone). `open` starts it: its
InitProducerId fences the partition's previous owner and ends that owner's open transaction
(aborted, or completed if it was committing), and only then is the committed position read, so
no earlier owner can still move it (aiokafka's OffsetFetch has no `require_stable`). Revocation
closes it.

Publishing only buffers: `publish` appends the event to its partition's batch (the partition is
the event's `data.origin`, the record it answers) and returns without suspending, so the loop
marks the record answered in the same step. `commit` runs one short transaction per partition
with a new position or buffered events: the offsets and the answered-offsets map first, then the
events (aiokafka#1004: offsets after records failed batch delivery on Kafka 3.7+), then EndTxn.
A terminal event goes into a transaction only together with a position that names its record
answered (below the offset, or in the map): the one committed in the same transaction, or, when
the partition's position did not move, the one committed last. Any other terminal event waits
for a later commit: one answered after the loop computed the position, one of a partition
committed only for another partition's sake, and, while a partition's map is too large for the
commit (`worker.consumer.offset_map`), every one above the committed offset. So a read_committed
subscriber sees a terminal event exactly when the commit that marks its record answered is
visible; a crash in between loses both, and the record is processed again by the next owner (the
token makes the API call harmless) with the same event id. Progress events carry no such promise:
they go out with the next transaction, and a record processed again sends its progress again.

Failures: an error aborts the transaction and the batch waits for the next commit. A fenced
producer (a newer owner took the partition, or the brokers aborted our transaction after
`transaction_timeout_seconds`) or one aiokafka can no longer use is never re-initialised here
(that could fence the partition's rightful owner): the partition is given up (its batch
dropped, counted in `ecsp_producers_fenced_total` when fenced) and the member rejoins the group,
which opens the partition afresh, with a new producer, if it is still ours; its records are
processed again. An event the broker refuses (too large for its topic) spoils the producer:
aiokafka counted the refused batch in its sequence numbers (it has no KIP-360 epoch bump on
abort), so every later send to that topic partition fails with OutOfOrderSequenceNumber. The
partition is then given up the same way, and the event's id is remembered: when its request is
answered again (same outcome, same id) the event goes out in its minimal form, and if even that
is refused it is dropped and counted (as `EventPublisher` does).

The state topic (`worker.consumer.state`): `StateRecordingSink` wraps this delivery as it wraps
`EventPublisher`, and `publish_copy` buffers the copy right after its event, in the same batch,
so the copy goes into the same transaction as the event and the offsets: a read_committed reader
of the state topic never sees a state whose answer is not committed, and a crash loses both
(the next owner writes both again, same event id). A copy keeps the state topic's promise not to
hold up provisioning: a copy whose send cannot start within its `within` (the state topic
missing, no leader) is left out of that transaction and counted
(`ecsp_state_writes_dropped_total`), the transaction's events go on; a copy the broker refuses
spoils the producer like an event does, and goes out minimal next time; if even that is refused,
it is dropped (counted) and the topic gets no copies for `COPY_PAUSE_SECONDS` (each refusal
costs a producer and a rejoin); a copy that failed after it was sent aborts its transaction,
and the batch goes out again without it (counted). Copies are not counted as published events.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import structlog
from aiokafka import AIOKafkaProducer
from aiokafka import TopicPartition as KafkaTopicPartition
from aiokafka.errors import KafkaError, ProducerFenced

from ecsp_contract.cloudevent import CloudEvent
from ecsp_contract.event_size import EventTooLarge, fit_event
from ecsp_contract.events import EventType
from worker.consumer.answered_codec import UnreadableMap, decode
from worker.consumer.event_records import EVENT_REJECTED, event_headers, value_budget
from worker.consumer.observer import DeliveryObserver, SilentDeliveryObserver
from worker.consumer.ports import BrokerError, CommittedPositions, Position, TopicPartition

log = structlog.get_logger("worker.consumer.transactional")

TERMINAL = frozenset({EventType.SUCCEEDED, EventType.VALIDATED, EventType.FAILED})
#: Longest wait for an abort before the producer is given up.
ABORT_TIMEOUT_SECONDS = 30.0
#: Event ids remembered as refused (minimal next time) or unpublishable (dropped), each.
REMEMBERED_REFUSALS = 10_000
#: After a topic refused a copy in its minimal form, how long no copy is sent to it: each
#: refusal costs the partition's producer and a rejoin, which a misconfigured state topic
#: must not cause for every request.
COPY_PAUSE_SECONDS = 300.0


class _Spoiled(KafkaError):  # type: ignore[misc]
    """The broker refused a record of the transaction: the producer's sequence numbers are off."""


@dataclass(frozen=True)
class TransactionalConfig:
    """What the exactly-once delivery needs of the settings (meanings: the configuration table)."""

    group_id: str  # the consumer group whose offsets the transactions commit
    max_event_bytes: int = 1_048_576
    transaction_timeout_seconds: float = 60.0


def transactional_id(group_id: str, partition: TopicPartition) -> str:
    """The partition's transactional id: the same for every owner, so a new one fences the old."""
    return f"{group_id}-{partition.topic}-{partition.partition}"


@dataclass
class _Outgoing:
    """One event (or a copy of one, for the state topic) waiting for its partition's next
    transaction."""

    topic: str
    key: bytes | None
    event: CloudEvent
    minimal: bool = False
    #: a copy: how long its send may take to start (None: an event, sent whatever it takes)
    copy_within: float | None = None
    #: a copy whose send failed: left out when its batch goes out again
    failed: bool = False

    @property
    def is_copy(self) -> bool:
        return self.copy_within is not None

    @property
    def remembered_as(self) -> tuple[str, str]:
        """How refusals of it are remembered: a copy's and its event's apart."""
        return (self.topic if self.is_copy else "", self.event.id)


@dataclass
class _Partition:
    producer: AIOKafkaProducer
    committed: Position | None
    batch: list[_Outgoing] = field(default_factory=list)


class TransactionalDelivery:
    """Per-partition transactional producers: events and offsets committed together."""

    def __init__(
        self,
        config: TransactionalConfig,
        producer_for: Callable[[str], AIOKafkaProducer],
        positions: CommittedPositions,
        *,
        rejoin: Callable[[], None],
        observer: DeliveryObserver | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._group_id = config.group_id
        self._producer_for = producer_for
        self._positions = positions
        self._observer: DeliveryObserver = observer or SilentDeliveryObserver()
        self._max_event_bytes = config.max_event_bytes
        self._transaction_timeout = config.transaction_timeout_seconds
        self._rejoin = rejoin
        self._partitions: dict[TopicPartition, _Partition] = {}
        # (copy topic or "", event id) refused once: their minimal form next time; refused in
        # their minimal form too: never sent again
        self._minimal: dict[tuple[str, str], None] = {}
        self._unpublishable: dict[tuple[str, str], None] = {}
        self._clock = clock
        self._copies_paused_until: dict[str, float] = {}  # by topic (COPY_PAUSE_SECONDS)

    # ----- EventSink: buffering only, never suspends
    async def publish(self, topic: str, key: bytes | None, event: CloudEvent) -> None:
        self._buffer(_Outgoing(topic, key, event))

    async def publish_best_effort(
        self, topic: str, key: bytes | None, event: CloudEvent, *, within: float
    ) -> bool:
        return self._buffer(_Outgoing(topic, key, event))

    # ----- CopySink (`worker.consumer.state`): the copy joins its event's transaction
    async def publish_copy(
        self, topic: str, key: bytes | None, event: CloudEvent, *, within: float
    ) -> bool:
        """Buffers the copy behind its event. False only when the copy is known to be refused
        while its event goes out (the caller counts it); a partition given up drops both, and
        its next owner writes both."""
        if self._clock() < self._copies_paused_until.get(topic, 0.0):
            return False
        outgoing = _Outgoing(topic, key, event, copy_within=within)
        if self._buffer(outgoing):
            return True
        return outgoing.remembered_as not in self._unpublishable

    def _buffer(self, outgoing: _Outgoing) -> bool:
        event = outgoing.event
        origin = event.data["origin"]
        partition = self._partitions.get(TopicPartition(origin["topic"], origin["partition"]))
        if partition is None:  # given up: its next owner answers the record
            log.info("event of a partition given up dropped", event_type=event.type)
            return False
        if outgoing.remembered_as in self._unpublishable:
            if not outgoing.is_copy:  # a copy is counted by its caller
                self._observer.event_unpublishable(event.type)
            return False
        outgoing.minimal = outgoing.remembered_as in self._minimal
        partition.batch.append(outgoing)
        return True

    # ----- Delivery
    async def open(self, partition: TopicPartition) -> Position | None:
        if partition not in self._partitions:
            producer = self._producer_for(transactional_id(self._group_id, partition))
            try:
                await producer.start()  # InitProducerId: the previous owner is fenced
            except BaseException as exc:
                await asyncio.shield(producer.stop())
                if isinstance(exc, KafkaError):
                    raise BrokerError(type(exc).__name__) from exc
                raise
            self._partitions[partition] = _Partition(producer, None)
        position = await self._positions.committed_position(partition)
        if (opened := self._partitions.get(partition)) is not None:
            opened.committed = position
        return position

    async def commit(self, positions: Mapping[TopicPartition, Position]) -> set[TopicPartition]:
        work = {
            tp: (positions.get(tp), self._take(tp, positions.get(tp)))
            for tp in set(positions) | {tp for tp, p in self._partitions.items() if p.batch}
            if tp in self._partitions
        }
        ran = {tp: w for tp, w in work.items() if w[0] is not None or w[1]}
        done = await asyncio.gather(
            *(self._commit_one(tp, position, batch) for tp, (position, batch) in ran.items())
        )
        return {tp for tp, ok in zip(ran, done, strict=True) if ok and tp in positions}

    async def close(self, partitions: Iterable[TopicPartition]) -> None:
        for tp in partitions:
            partition = self._partitions.pop(tp, None)
            if partition is not None:
                await partition.producer.stop()

    # ----- one partition's transaction
    def _take(self, tp: TopicPartition, position: Position | None) -> list[_Outgoing]:
        """The events of `tp` that may go out with `position` (else with the position last
        committed); the others stay buffered."""
        partition = self._partitions[tp]
        answered = _Answered(position or partition.committed)
        ready: list[_Outgoing] = []
        waiting: list[_Outgoing] = []
        for outgoing in partition.batch:
            event = outgoing.event
            (ready if event.type not in TERMINAL or answered(event) else waiting).append(outgoing)
        partition.batch = waiting
        return ready

    async def _commit_one(
        self, tp: TopicPartition, position: Position | None, batch: list[_Outgoing]
    ) -> bool:
        producer = self._partitions[tp].producer
        try:
            async with asyncio.timeout(self._transaction_timeout):
                await producer.begin_transaction()
        except (KafkaError, TimeoutError, AssertionError) as exc:  # aiokafka asserts its state
            log.error(
                "no transaction could be begun", partition=tp.partition, error=type(exc).__name__
            )
            await self._give_up(tp, "unusable")
            return False
        try:
            async with asyncio.timeout(self._transaction_timeout):
                await self._fill_and_commit(tp, producer, position, batch)
        except ProducerFenced:
            await self._give_up(tp, "fenced")
            return False
        except (KafkaError, TimeoutError, asyncio.CancelledError) as exc:
            aborted = await asyncio.shield(self._abort(tp, producer))
            if (partition := self._partitions.get(tp)) is not None:
                partition.batch[:0] = batch  # the next commit sends them again
            if isinstance(exc, _Spoiled) or not aborted:
                await self._give_up(tp, "refused record" if aborted else "unusable")
            if isinstance(exc, asyncio.CancelledError):
                raise
            self._leave_out_failed_copies(tp)
            log.warning(
                "transaction aborted; its events wait for the next commit",
                partition=tp.partition,
                error=type(exc).__name__,
            )
            return False
        if position is not None and (partition := self._partitions.get(tp)) is not None:
            partition.committed = position
        self._observer.transaction_ended("committed")
        for outgoing in batch:
            if not outgoing.is_copy:
                self._observer.event_published(outgoing.event.type)
        return True

    async def _fill_and_commit(
        self,
        tp: TopicPartition,
        producer: AIOKafkaProducer,
        position: Position | None,
        batch: list[_Outgoing],
    ) -> None:
        """Offsets first, then the events (aiokafka#1004), then EndTxn; every send must have
        succeeded before the commit, or a record would count as answered without its event."""
        if position is not None:
            await producer.send_offsets_to_transaction(
                {KafkaTopicPartition(*tp): (position.offset, position.metadata)}, self._group_id
            )
        sends: list[tuple[_Outgoing, asyncio.Future[object]]] = []
        copies_on = True  # off once a copy could not be sent: the others would wait as long
        for outgoing in list(batch):
            if outgoing.is_copy and not copies_on:
                self._copy_dropped(outgoing, batch, "an earlier copy could not be sent")
                continue
            headers = event_headers(outgoing.event)
            value = self._value(outgoing, headers, batch)
            if value is None:
                continue
            send = producer.send(outgoing.topic, value, key=outgoing.key, headers=headers)
            if outgoing.copy_within is None:
                sends.append((outgoing, await send))
                continue
            try:
                async with asyncio.timeout(
                    min(outgoing.copy_within, self._transaction_timeout / 2)
                ):
                    sends.append((outgoing, await send))
            except (KafkaError, TimeoutError) as exc:  # not appended: the transaction goes on
                copies_on = False
                self._copy_dropped(outgoing, batch, type(exc).__name__)
        results = await asyncio.gather(*(sent for _, sent in sends), return_exceptions=True)
        failures = [
            (outgoing, result)
            for (outgoing, _), result in zip(sends, results, strict=True)
            if isinstance(result, BaseException)
        ]
        refused = [(o, f) for o, f in failures if isinstance(f, EVENT_REJECTED)]
        for outgoing, failure in refused:
            self._refused(outgoing, type(failure).__name__, counted=False)
        if refused:
            raise _Spoiled(type(refused[0][1]).__name__)
        if failures:
            if all(outgoing.is_copy for outgoing, _ in failures):
                for outgoing, _ in failures:  # only the state topic failed: not again
                    outgoing.failed = True
            raise failures[0][1]
        await producer.commit_transaction()

    def _copy_dropped(self, outgoing: _Outgoing, batch: list[_Outgoing], reason: str) -> None:
        """A copy left out of the transaction (counted); its event goes on."""
        batch.remove(outgoing)
        log.error(
            "state copy dropped",
            topic=outgoing.topic,
            event_type=outgoing.event.type,
            event_id=outgoing.event.id,
            error=reason,
        )
        self._observer.state_write_dropped()

    def _leave_out_failed_copies(self, tp: TopicPartition) -> None:
        """After an abort that only copies caused: the batch goes out again without them."""
        if (partition := self._partitions.get(tp)) is None:
            return
        for outgoing in [o for o in partition.batch if o.failed]:
            self._copy_dropped(outgoing, partition.batch, "its transaction was aborted")

    def _value(
        self, outgoing: _Outgoing, headers: list[tuple[str, bytes]], batch: list[_Outgoing]
    ) -> bytes | None:
        """The event's record value within the size budget next to its `headers`; None
        (dropped, counted) when not even its minimal form fits."""
        budget = value_budget(self._max_event_bytes, outgoing.key, headers)
        try:
            return fit_event(outgoing.event, budget, minimal=outgoing.minimal)
        except EventTooLarge:
            outgoing.minimal = True
            self._refused(outgoing, "EventTooLarge", counted=True)
            batch.remove(outgoing)
            return None

    def _refused(self, outgoing: _Outgoing, reason: str, *, counted: bool) -> None:
        """`outgoing` was refused: its minimal form next time, or, refused as that, never again
        (counted now when its transaction goes on without it, else when its request, answered
        again, meets the refusal in `_buffer`); a topic refusing a minimal copy gets no copies
        for `COPY_PAUSE_SECONDS`."""
        event = outgoing.event
        if not outgoing.minimal:
            _remember(self._minimal, outgoing.remembered_as)
            return
        _remember(self._unpublishable, outgoing.remembered_as)
        log.error(
            "event cannot be published, even in its minimal form; moving on",
            topic=outgoing.topic,
            event_type=event.type,
            event_id=event.id,
            copy=outgoing.is_copy,
            error=reason,
        )
        if not counted:
            if outgoing.is_copy:  # the broker refused it: no copy to this topic for a while
                self._copies_paused_until[outgoing.topic] = self._clock() + COPY_PAUSE_SECONDS
            return
        if outgoing.is_copy:
            self._observer.state_write_dropped()
        else:
            self._observer.event_unpublishable(event.type)

    async def _abort(self, tp: TopicPartition, producer: AIOKafkaProducer) -> bool:
        """Aborts the open transaction; False when the producer cannot do even that."""
        try:
            async with asyncio.timeout(ABORT_TIMEOUT_SECONDS):
                await producer.abort_transaction()
        except ProducerFenced:
            return False
        except (KafkaError, TimeoutError, AssertionError) as exc:
            log.error("transaction abort failed", partition=tp.partition, error=type(exc).__name__)
            return False
        self._observer.transaction_ended("aborted")
        return True

    async def _give_up(self, tp: TopicPartition, why: str) -> None:
        """The partition cannot be committed by this producer any more: drop it, rejoin."""
        partition = self._partitions.pop(tp, None)
        if partition is None:
            return
        log.warning(
            "partition producer given up; rejoining the group",
            partition=tp.partition,
            reason=why,
            dropped_events=len(partition.batch),
        )
        if why == "fenced":
            self._observer.producer_fenced()
        await partition.producer.stop()
        self._rejoin()


def _remember(ids: dict[tuple[str, str], None], refused: tuple[str, str]) -> None:
    """Adds `refused`, forgetting the oldest beyond `REMEMBERED_REFUSALS`."""
    ids[refused] = None
    if len(ids) > REMEMBERED_REFUSALS:
        del ids[next(iter(ids))]


class _Answered:
    """Whether a position names an event's record answered (below its offset, or in its map)."""

    def __init__(self, position: Position | None) -> None:
        self._offset = -1 if position is None else position.offset
        try:
            self._above = (
                frozenset() if position is None else decode(position.metadata, self._offset)
            )
        except UnreadableMap:
            self._above = frozenset()

    def __call__(self, event: CloudEvent) -> bool:
        offset: int = event.data["origin"]["offset"]
        return offset < self._offset or offset in self._above
