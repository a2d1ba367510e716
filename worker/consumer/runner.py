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
from worker.consumer.holds import IntakeHolds
from worker.consumer.keys import KeyLocks, key_for_logs
from worker.consumer.lag import report_lag
from worker.consumer.observer import WorkerObserver
from worker.consumer.offsets import PartitionOffsets
from worker.consumer.ports import (
    CommitFailed,
    EventSink,
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
    ) -> None:
        self._config = config
        self._consumer = consumer
        self._publisher = publisher
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
        offsets.started(record.offset)
        self._observer.message_consumed(tp.topic)
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
        """Commits the finished prefix of the given partitions (those that moved)."""
        async with self._commit_lock:
            wanted = {
                tp: offset
                for tp in partitions
                if (tracker := self._offsets.get(tp)) is not None
                and (offset := tracker.to_commit()) is not None
            }
            if not wanted:
                return
            try:
                await self._consumer.commit(wanted)
            except CommitFailed as exc:
                log.warning("commit failed; will retry", error=str(exc))
                return
            for tp, offset in wanted.items():
                self._offsets[tp].mark_committed(offset)
                self._report_position(tp, offset)

    def _report_position(self, tp: TopicPartition, offset: int) -> None:
        self._observer.offset_committed(tp.topic, tp.partition, offset)

    # ----- rebalance and shutdown
    def partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        self._joined = True  # called after every join, with an empty set for a spare member
        for tp in assigned:
            self._offsets.setdefault(tp, PartitionOffsets())
        self._paused &= set(self._offsets)
        self._observer.partitions_assigned(len(self._offsets))
        log.info("partitions assigned", partitions=sorted(str(tp) for tp in self._offsets))

    async def partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        revoked = [tp for tp in revoked if tp in self._offsets]
        self._observer.rebalanced()
        await self._drain(self._config.revoke_grace_seconds, revoked)
        self._observer.partitions_assigned(len(self._offsets))

    async def _drain(self, grace: float, partitions: list[TopicPartition]) -> None:
        """Lets work of `partitions` finish within `grace`, cancels the rest, commits, forgets."""
        tasks = [task for tp in partitions for task in self._tasks.get(tp, ())]
        if tasks:
            _, unfinished = await asyncio.wait(tasks, timeout=grace)
            for task in unfinished:
                task.cancel()
            if unfinished:
                await asyncio.wait(unfinished)
                log.info("abandoned unfinished requests", count=len(unfinished))
        await self.commit(partitions)
        for tp in partitions:
            self._offsets.pop(tp, None)
            self._tasks.pop(tp, None)
            self._pending.pop(tp, None)
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
