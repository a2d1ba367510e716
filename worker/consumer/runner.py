"""The consume loop: fetch, dispatch concurrently, publish, commit the finished prefix.

Data flows one way: a fetched record becomes an InboundMessage handed to the pipeline in its own
task; the pipeline returns the terminal event; the task publishes it (waiting for the broker's
ack) and only then marks the offset finished. A periodic commit moves each partition's committed
offset up to its lowest unfinished offset. Backpressure pauses partitions (all of them at the
process limit, one at its own limit, and any partition whose intake a waiting request holds —
see `worker.consumer.holds`) and resumes them below a low-water mark, while the loop keeps
polling so the consumer stays in the group however long jobs take.

Tenants: the loop subscribes to the shared request topic and to each tenant's
(`WorkerConfig.request_topics`, a list: no pattern picks up a topic nobody configured) and
publishes a record's events on its request topic's event topics (`WorkerConfig.route`): a
tenant's own, never the shared ones. Offsets, pauses and rebalances are per partition of any of
them.

New records are dispatched at most `DISPATCH_PER_POLL` at a time, each batch's first steps
(decode, validate, sign) running before the next is fetched: a backlog of thousands would
otherwise run all of them in one turn of the event loop, for longer than the group's session
timeout on a busy machine, and the member would be dropped from the group over and over.

On revocation, work of the revoked partitions gets a bounded grace, then is cancelled; what
finished is committed, the rest is redone by the next owner (same key, same token: safe).
On shutdown, fetching stops, in-flight work gets the shutdown grace, the finished prefix is
committed and the clients close.

Commits go through the `Delivery` (`worker.consumer.delivery`, or the transactional one) and
carry each partition's answered-offsets map (`worker.consumer.offset_map`). A newly assigned
partition is opened first (`Delivery.open`: its committed position, read once no earlier owner
can change it); its records wait until then, and those the position names answered are skipped:
no API call, no event.

The loop is written against `worker.consumer.ports` and knows no aiokafka (the adapter is in
`worker.consumer.kafka`), so tests run it on an in-memory broker (tests/consumer/machine.py).
It knows the pipeline only through its port (`worker.pipeline.port`: a message in, an outcome
out), and takes a small config and an observer, not the process settings or the metrics.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import structlog

from ecsp_contract.cloudevent import CloudEvent
from ecsp_contract.events import EventType
from ecsp_contract.failures import FailureStage
from worker.consumer.delivery import CommitDelivery
from worker.consumer.holds import IntakeHolds
from worker.consumer.keys import KeyLocks, key_for_logs
from worker.consumer.lag import report_lag
from worker.consumer.observer import WorkerObserver
from worker.consumer.offset_map import OffsetMapConfig, Proposal, answered, propose
from worker.consumer.offsets import PartitionOffsets
from worker.consumer.ports import (
    Delivery,
    EventSink,
    Position,
    Record,
    RequestConsumer,
    RequestSpan,
    RequestTracing,
    TopicPartition,
)
from worker.pipeline.port import (
    InboundMessage,
    Outcome,
    ProgressSink,
    RequestHandler,
    answer_key,
    minimal_failed_event,
)
from worker.tasks import cancel_and_wait

#: Most records handed to the pipeline per poll (see the module docstring).
DISPATCH_PER_POLL = 100

log = structlog.get_logger("worker.consumer")

#: How long a progress event may take to publish before it is dropped (logged).
PROGRESS_PUBLISH_SECONDS = 30.0
#: Longest wait for one attempt at opening a partition, and the longest pause between attempts.
OPEN_TIMEOUT_SECONDS = 30.0
OPEN_RETRY_MAX_SECONDS = 5.0


@dataclass(frozen=True)
class WorkerConfig:
    """What the loop needs of the settings (meanings: the configuration table)."""

    topic: str  # the shared request topic (the default tenant's)
    topic_of: Mapping[EventType, str]  # where each event type goes ("" for progress: off)
    event_source: str  # for the last-resort answer
    max_in_flight: int = 100
    partition_limit: int = 50
    resume_ratio: float = 0.5
    commit_interval_seconds: float = 2.0
    lag_interval_seconds: float = 15.0
    revoke_grace_seconds: float = 20.0
    shutdown_grace_seconds: float = 25.0
    #: whether commits carry the answered-offsets map, and the brokers' metadata limit
    offset_map: OffsetMapConfig = field(default_factory=OffsetMapConfig)
    #: each tenant's request topic → where its event types go (its own topics)
    tenant_routes: Mapping[str, Mapping[EventType, str]] = field(default_factory=dict)

    @property
    def request_topics(self) -> tuple[str, ...]:
        return (self.topic, *self.tenant_routes)

    def route(self, request_topic: str) -> Mapping[EventType, str]:
        """Where the events answering a record of `request_topic` go."""
        return self.tenant_routes.get(request_topic, self.topic_of)


class Worker:
    """One consumer-group member processing provisioning requests."""

    def __init__(
        self,
        config: WorkerConfig,
        consumer: RequestConsumer,
        publisher: EventSink,
        handler: RequestHandler,
        observer: WorkerObserver,
        *,
        holds: IntakeHolds | None = None,
        tracing: RequestTracing | None = None,
        delivery: Delivery | None = None,
    ) -> None:
        self._config = config
        self._consumer = consumer
        self._publisher = publisher
        self._delivery: Delivery = delivery or CommitDelivery(consumer)
        self._positions: dict[TopicPartition, Position] = {}  # last committed
        self._map_full: set[TopicPartition] = set()
        self._opening: dict[TopicPartition, asyncio.Task[None]] = {}
        self._waiting: dict[TopicPartition, list[Record]] = {}  # read while opening
        self._handler = handler
        self._observer = observer
        self._keys = KeyLocks()
        self._offsets: dict[TopicPartition, PartitionOffsets] = {}
        self._tasks: dict[TopicPartition, set[asyncio.Task[None]]] = defaultdict(set)
        self._pending: dict[TopicPartition, int] = defaultdict(int)
        self._held = 0
        self._paused: set[TopicPartition] = set()
        self._commit_lock = asyncio.Lock()
        self._holds = holds or IntakeHolds()
        self._tracing: RequestTracing = tracing or _Untraced()
        self._holds.on_change(self._apply_backpressure)
        self.last_poll: float | None = None
        self._joined = False
        self._progress_on = bool(config.topic_of[EventType.SUBMITTED])

    # ----- state for health and tests
    @property
    def assignment(self) -> frozenset[TopicPartition]:
        return frozenset(self._offsets)

    def is_ready(self, max_poll_age: float = 30.0) -> bool:
        """In the group (even with no partition: a spare member at full scale) and polling.

        Not "has partitions": with as many members as partitions, a rollout's surge pod gets
        none and would never become Ready, so a rollout with maxUnavailable 0 could never end.
        """
        return self._joined and self.poll_age() <= max_poll_age

    def poll_age(self) -> float:
        return float("inf") if self.last_poll is None else time.monotonic() - self.last_poll

    # ----- the loop
    async def run(self, stop: asyncio.Event) -> None:
        """Consumes until `stop` is set, then drains and commits. The consumer must be started."""
        self._consumer.subscribe(self._config.request_topics, listener=self)
        committer = asyncio.create_task(self._commit_periodically(), name="committer")
        lag = asyncio.create_task(
            report_lag(
                self._consumer,
                lambda: {tp: tracker.committed for tp, tracker in self._offsets.items()},
                self._observer,
                self._config.lag_interval_seconds,
            ),
            name="lag",
        )
        try:
            while not stop.is_set():
                room = self._config.max_in_flight - self._held
                wanted = max(1, min(room, DISPATCH_PER_POLL))
                batch = await self._consumer.getmany(timeout_ms=200, max_records=wanted)
                self.last_poll = time.monotonic()
                for tp, records in batch.items():
                    for record in records:
                        self._dispatch(tp, record)
                self._apply_backpressure()
                await asyncio.sleep(0)  # the new requests' first steps run before the next batch
        finally:
            for task in (committer, lag):
                await cancel_and_wait(task)
            await self._drain(self._config.shutdown_grace_seconds, list(self._offsets))

    def _dispatch(self, tp: TopicPartition, record: Record) -> None:
        offsets = self._offsets.get(tp)
        if offsets is None:  # fetched just before a revocation: the next owner reads it
            return
        if (waiting := self._waiting.get(tp)) is not None:
            waiting.append(record)  # dispatched once the partition is open
            return
        self._observer.message_consumed(tp.topic)
        if offsets.skip(record.offset):
            self._observer.record_skipped(tp.topic)  # answered before: no call, no event
            return
        offsets.started(record.offset)
        message = InboundMessage(
            topic=tp.topic,
            partition=tp.partition,
            offset=record.offset,
            key=record.key,
            value=record.value,
            headers=tuple(record.headers or ()),
            timestamp_ms=record.timestamp,
        )
        self._pending[tp] += 1
        self._held += 1
        self._observer.requests_in_flight(self._held)
        task = asyncio.create_task(self._handle(tp, offsets, message))
        self._tasks[tp].add(task)
        task.add_done_callback(lambda t: self._finished(tp, t))

    async def _handle(
        self, tp: TopicPartition, offsets: PartitionOffsets, message: InboundMessage
    ) -> None:
        async with self._keys.hold(message.topic, message.key):
            with (
                structlog.contextvars.bound_contextvars(
                    request_key=key_for_logs(message.key),
                    partition=message.partition,
                    offset=message.offset,
                ),
                self._tracing.request(message) as span,
            ):
                outcome = await self._answer(message)
                span.answered(outcome.event)
                await self._publisher.publish(
                    self._config.route(message.topic)[outcome.event.type],
                    outcome.key,
                    outcome.event,
                )
        offsets.finished(message.offset)

    async def _answer(self, message: InboundMessage) -> Outcome:
        """The outcome of `message`; a handler that raises still yields one."""
        try:
            return await self._handler(message, self._publish_progress_for(message))
        except Exception as exc:  # the handler promises not to raise; this holds it to that
            log.error("request handler raised", error=type(exc).__name__)
            event = minimal_failed_event(
                message, self._config.event_source, stage=FailureStage.DECODE, exception=exc
            )
            return Outcome(event, answer_key(message.key))

    def _publish_progress_for(self, message: InboundMessage) -> ProgressSink | None:
        if not self._progress_on:
            return None  # progress events off: the pipeline does not even build them

        route = self._config.route(message.topic)

        async def publish_progress(event: CloudEvent) -> None:
            await self._publisher.publish_best_effort(
                route[event.type],
                answer_key(message.key),
                event,
                within=PROGRESS_PUBLISH_SECONDS,
            )

        return publish_progress

    def _finished(self, tp: TopicPartition, task: asyncio.Task[None]) -> None:
        self._tasks[tp].discard(task)
        self._pending[tp] -= 1
        self._held -= 1
        self._observer.requests_in_flight(self._held)
        if not task.cancelled() and task.exception() is not None:
            log.error("request task crashed", error=type(task.exception()).__name__)
        if self._paused:
            self._apply_backpressure()

    # ----- backpressure
    def _apply_backpressure(self) -> None:
        s = self._config
        assigned = set(self._offsets)
        if self._held >= s.max_in_flight:
            want_paused = assigned
        else:
            process_low = self._held < s.max_in_flight * s.resume_ratio
            want_paused = {
                tp
                for tp in assigned
                if self._pending[tp] >= s.partition_limit
                or self._holds.is_held(tp.topic, tp.partition)
                or tp in self._waiting
                or tp in self._map_full
                or (tp in self._paused and not self._below_low_water(tp, process_low))
            }
        to_pause, to_resume = want_paused - self._paused, self._paused - want_paused
        if to_pause:
            self._consumer.pause(*to_pause)
        if to_resume:
            self._consumer.resume(*to_resume)
        self._paused = want_paused
        self._observer.partitions_paused(len(want_paused))

    def _below_low_water(self, tp: TopicPartition, process_low: bool) -> bool:
        s = self._config
        return process_low and self._pending[tp] < s.partition_limit * s.resume_ratio

    # ----- commits
    async def _commit_periodically(self) -> None:
        while True:
            await asyncio.sleep(self._config.commit_interval_seconds)
            await self.commit(self._offsets)

    async def commit(self, partitions: Iterable[TopicPartition]) -> None:
        """Commits the finished prefix and answered-offsets map of the given partitions (those
        that moved; the delivery may commit others it holds events for)."""
        async with self._commit_lock:
            wanted: dict[TopicPartition, Proposal] = {}
            for tp in partitions:
                tracker = self._offsets.get(tp)
                if tracker is None or tp in self._waiting:
                    continue
                proposal = propose(tracker, self._config.offset_map)
                if proposal is None:
                    continue
                self._note_map_size(tp, proposal.map_bytes)
                if proposal.position != self._positions.get(tp):
                    wanted[tp] = proposal
            committed = await self._delivery.commit(
                {tp: proposal.position for tp, proposal in wanted.items()}
            )
            for tp in committed:
                if (proposal := wanted.get(tp)) is not None and tp in self._offsets:
                    self._committed(tp, proposal)
        if self._map_full or self._paused:
            self._apply_backpressure()

    def _note_map_size(self, tp: TopicPartition, map_bytes: int) -> None:
        """A map past the pause share stops new records only while records are in flight: the
        lowest of them ending is what shrinks it. With none in flight the map's gaps are
        records not read yet (named by an earlier commit's map), and only reading them helps."""
        if map_bytes >= self._config.offset_map.pause_bytes and self._offsets[tp].unfinished:
            self._map_full.add(tp)
        else:
            self._map_full.discard(tp)

    def _committed(self, tp: TopicPartition, proposal: Proposal) -> None:
        position = proposal.position
        self._positions[tp] = position
        self._offsets[tp].mark_committed(position.offset)
        self._observer.offset_committed(tp.topic, tp.partition, position.offset)
        self._observer.offset_map_committed(tp.topic, tp.partition, len(position.metadata))
        if proposal.overflow:
            log.warning(
                "answered-offsets map too large for the commit; records above the offset will"
                " be replayed",
                partition=tp.partition,
                map_bytes=proposal.map_bytes,
                limit=self._config.offset_map.max_bytes,
            )
            self._observer.offset_map_overflow(tp.topic)

    # ----- rebalance and shutdown
    def partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        self._joined = True  # called after every join, with an empty set for a spare member
        for tp in assigned:
            if tp not in self._offsets:
                self._offsets[tp] = PartitionOffsets()
                self._waiting[tp] = []
                self._opening[tp] = asyncio.create_task(self._open(tp), name=f"open {tp}")
        self._paused &= set(self._offsets)
        self._observer.partitions_assigned(len(self._offsets))
        log.info("partitions assigned", partitions=sorted(str(tp) for tp in self._offsets))

    async def _open(self, tp: TopicPartition) -> None:
        """Opens `tp` (retrying until it is revoked), loads what its committed position says
        was answered, then dispatches the records read meanwhile."""
        backoff = 0.2
        while True:
            try:
                async with asyncio.timeout(OPEN_TIMEOUT_SECONDS):
                    position = await self._delivery.open(tp)
                break
            except Exception as exc:  # BrokerError, TimeoutError; never a partition left waiting
                log.warning(
                    "opening a partition failed; retrying",
                    partition=tp.partition,
                    error=type(exc).__name__,
                    retry_in=backoff,
                )
                await asyncio.sleep(backoff)
                backoff = min(OPEN_RETRY_MAX_SECONDS, backoff * 2)
        below, above = answered(
            position, self._config.offset_map, lambda _: self._observer.offset_map_ignored(tp.topic)
        )
        self._offsets[tp].load(below, above)
        if position is not None:
            self._positions[tp] = position
        del self._opening[tp]
        for record in self._waiting.pop(tp):
            self._dispatch(tp, record)
        self._apply_backpressure()

    async def partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        revoked = [tp for tp in revoked if tp in self._offsets]
        self._observer.rebalanced()
        await self._drain(self._config.revoke_grace_seconds, revoked)
        self._observer.partitions_assigned(len(self._offsets))

    async def _drain(self, grace: float, partitions: list[TopicPartition]) -> None:
        """Lets work of `partitions` finish within `grace`, cancels the rest, commits, forgets."""
        for tp in partitions:
            if (opening := self._opening.pop(tp, None)) is not None:
                await cancel_and_wait(opening)
        tasks = [task for tp in partitions for task in self._tasks.get(tp, ())]
        if tasks:
            _, unfinished = await asyncio.wait(tasks, timeout=grace)
            for task in unfinished:
                task.cancel()
            if unfinished:
                await asyncio.wait(unfinished)
                log.info("abandoned unfinished requests", count=len(unfinished))
        await self.commit(partitions)
        await self._delivery.close(partitions)
        for tp in partitions:
            self._offsets.pop(tp, None)
            self._tasks.pop(tp, None)
            self._pending.pop(tp, None)
            self._waiting.pop(tp, None)
            self._positions.pop(tp, None)
            self._map_full.discard(tp)
            self._paused.discard(tp)
            self._observer.forget(tp.topic, tp.partition)  # its next owner reports it


class _NoSpan:
    def answered(self, event: CloudEvent) -> None:
        return None


class _Untraced:
    """Tracing off: one shared do-nothing span, no tracing call per request."""

    _NO_SPAN: contextlib.nullcontext[RequestSpan] = contextlib.nullcontext(_NoSpan())

    def request(self, message: InboundMessage) -> contextlib.AbstractContextManager[RequestSpan]:
        return self._NO_SPAN
