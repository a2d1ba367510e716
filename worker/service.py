"""Assembling one worker process: HTTP session, ECS client, Kafka clients, ops server, the loop.

Owns the lifetime of every resource: one aiohttp ClientSession per process, created here and
closed here; Kafka clients started and stopped here, in reverse order, on every exit path
(including cancellation). `ECSP_DELIVERY` decides how answers leave (`make_delivery`): through
the process's one producer with offsets committed by the consumer, or in one transaction per
input partition with its offsets, the state topic's copies included.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import partial

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from worker.assembly import (
    client_settings,
    http_settings,
    make_auth,
    make_breaker,
    make_follower,
    make_guardrails,
    make_limiter,
    pipeline_parts,
    poll_schedule,
    read_tenants_file,
    state_topics,
    transactional_config,
    worker_config,
)
from worker.consumer.committed_fetch import CommittedReader
from worker.consumer.holds import IntakeHolds
from worker.consumer.kafka import (
    KafkaRequestConsumer,
    make_admin,
    make_consumer,
    make_producer,
    make_transactional_producer,
)
from worker.consumer.kafka_spans import KafkaTracing, TracedEventSink
from worker.consumer.ports import Delivery, EventSink
from worker.consumer.publisher import EventPublisher
from worker.consumer.runner import Worker
from worker.consumer.state import CopySink, StateRecordingSink
from worker.consumer.transactional import TransactionalDelivery
from worker.ecs.breaker import CircuitBreaker
from worker.ecs.client import EcsClient
from worker.ecs.http_spans import HttpSpans
from worker.ecs.layers import Guarded, Measured, RateLimited, Signing, Traced, stack
from worker.ecs.transport import HttpTransport, make_session
from worker.ops.health import Probes, make_ops_app, start_ops_server
from worker.ops.metrics import Metrics
from worker.ops.otel import Tracing, start_tracing
from worker.ops.settings import Settings
from worker.ops.version import package_version
from worker.pipeline.bulk_follow import BulkPacing
from worker.pipeline.compose import compose
from worker.pipeline.follow import OwnSchedule, Pacing
from worker.policy.source import PolicySource
from worker.tasks import cancel_and_wait
from worker.tenancy.model import TenantsDocument

log = structlog.get_logger("worker.service")


@contextlib.asynccontextmanager
async def ecs_client(
    settings: Settings, metrics: Metrics, breaker: CircuitBreaker, tracing: Tracing | None = None
) -> AsyncIterator[EcsClient]:
    """The process's ECS client and its one HTTP session, closed on exit.

    Each attempt goes through the layers outermost first: signing, rate limit, circuit breaker,
    metrics, tracing (only when on), HTTP.
    """
    http = http_settings(settings)
    session = make_session(http)
    traced = [] if tracing is None else [partial(Traced, tracer=HttpSpans(tracing.tracer()))]
    transport = stack(
        HttpTransport(session, http),
        partial(Signing, auth=make_auth(settings, session, metrics), observer=metrics),
        partial(RateLimited, limiter=make_limiter(settings, metrics)),
        partial(Guarded, breaker=breaker),
        partial(Measured, observer=metrics),
        *traced,
    )
    try:
        yield EcsClient(
            transport, client_settings(settings), observer=metrics, availability=breaker
        )
    finally:
        await session.close()


async def serve(settings: Settings, stop: asyncio.Event, *, metrics: Metrics | None = None) -> None:
    """Runs the worker until `stop` is set; returns after a clean drain and close.

    Traces are exported when OTEL_* asks for them (`worker.ops.otel`); raises
    TracingConfigError when it asks for what this install cannot do, and TenantsFileError or
    PolicyFileError for an invalid tenants or policy file.
    """
    tracing = start_tracing(package_version())
    try:
        await _serve(settings, stop, metrics or Metrics(), tracing)
    finally:
        if tracing is not None:
            await tracing.shutdown()


async def _serve(
    settings: Settings, stop: asyncio.Event, metrics: Metrics, tracing: Tracing | None
) -> None:
    tenants = read_tenants_file(settings)
    policy = PolicySource.open(settings.policy_file, observer=metrics, tenants=tenants.tenants)
    holds = IntakeHolds()
    breaker = make_breaker(settings, metrics)
    async with contextlib.AsyncExitStack() as following:
        client = await following.enter_async_context(
            ecs_client(settings, metrics, breaker, tracing)
        )
        handler = compose(
            pipeline_parts(
                settings,
                client,
                intake=holds,
                pacing=_pacing(settings, client, following),
                observer=metrics,
                guardrails=make_guardrails(settings, policy, metrics),
                tenants=tenants,
            )
        )
        consumer = make_consumer(settings)
        admin = make_admin(settings)
        requests = KafkaRequestConsumer(consumer, CommittedReader(admin, settings.group_id))
        delivery = make_delivery(settings, requests, metrics)
        config = worker_config(settings, tenants)
        worker = Worker(
            config,
            requests,
            _event_sink(settings, delivery, metrics, tenants, tracing),
            handler,
            metrics,
            holds=holds,
            tracing=_request_tracing(settings, tracing),
            delivery=delivery.commits,
        )
        probes = Probes(
            alive=lambda: _alive(worker),
            ready=lambda: (worker.is_ready(), f"{len(worker.assignment)} partitions assigned"),
        )
        async with contextlib.AsyncExitStack() as resources:
            runner = await start_ops_server(
                make_ops_app(metrics, probes), settings.ops_host, settings.ops_port
            )
            resources.push_async_callback(runner.cleanup)
            await _start_clients(resources, delivery.producer, consumer, admin)
            log.info(
                "worker started",
                topics=list(config.request_topics),
                group=settings.group_id,
                endpoint=settings.ecs_base_url,
                max_in_flight=settings.max_in_flight,
                delivery=settings.delivery,
                tracing=tracing is not None,
            )
            watcher = asyncio.create_task(policy.watch(settings.policy_reload_seconds))
            resources.push_async_callback(cancel_and_wait, watcher)
            await worker.run(stop)
    log.info("worker stopped")


def _pacing(settings: Settings, client: EcsClient, following: contextlib.AsyncExitStack) -> Pacing:
    """How followed jobs are paced: one bulk follower for the process (closed with `following`),
    or each job on its own schedule."""
    follower = make_follower(settings, client)
    if follower is None:
        return OwnSchedule(poll_schedule(settings))
    following.push_async_callback(follower.close)
    return BulkPacing(follower, poll_schedule(settings))


def _request_tracing(settings: Settings, tracing: Tracing | None) -> KafkaTracing | None:
    return None if tracing is None else KafkaTracing(tracing.tracer(), group_id=settings.group_id)


def _event_sink(
    settings: Settings,
    delivery: Deliveries,
    metrics: Metrics,
    tenants: TenantsDocument,
    tracing: Tracing | None,
) -> EventSink:
    """Where answers go: the delivery, with a state copy of each event when the state topic is
    on (under exactly_once, the copies join the events' transactions), traced when tracing is."""
    sink: EventSink = delivery.events
    if settings.topic_state:
        sink = StateRecordingSink(
            delivery.events, state_topics(settings, tenants), metrics.state_write_dropped
        )
    return sink if tracing is None else TracedEventSink(sink, tracing.tracer())


async def _start_clients(
    resources: contextlib.AsyncExitStack,
    producer: AIOKafkaProducer | None,
    consumer: AIOKafkaConsumer,
    admin: AIOKafkaAdminClient,
) -> None:
    """Starts the Kafka clients; their stop() is registered before start(), so a start that
    fails half-way is cleaned up too."""
    if producer is not None:
        resources.push_async_callback(producer.stop)
    resources.push_async_callback(consumer.stop)
    resources.push_async_callback(admin.close)
    if producer is not None:
        await producer.start()
    await consumer.start()
    await admin.start()


@dataclass(frozen=True)
class Deliveries:
    """How answers leave the process (`ECSP_DELIVERY`)."""

    producer: AIOKafkaProducer | None  # the process's producer; None: one per input partition
    events: CopySink  # where events (and state copies) go
    commits: Delivery | None  # how offsets are committed; None: the consumer's own commits


def make_delivery(
    settings: Settings, consumer: KafkaRequestConsumer, metrics: Metrics
) -> Deliveries:
    """`at_least_once`: one idempotent producer, events acknowledged one by one, offsets
    committed by the group member. `exactly_once`: a transactional producer per input partition
    that commits its events, state copies and offsets together."""
    if settings.delivery == "at_least_once":
        producer = make_producer(settings)
        events = EventPublisher(producer, metrics, max_event_bytes=settings.max_event_bytes)
        return Deliveries(producer, events, None)
    transactional = TransactionalDelivery(
        transactional_config(settings),
        lambda transactional_id: make_transactional_producer(settings, transactional_id),
        consumer,
        rejoin=consumer.rejoin,
        observer=metrics,
    )
    return Deliveries(None, transactional, transactional)


def _alive(worker: Worker) -> tuple[bool, str]:
    age = worker.poll_age()
    if worker.last_poll is None:
        return True, "starting"
    return age < 60.0, f"last poll {age:.1f}s ago"


def install_signal_handlers(stop: asyncio.Event) -> None:
    """SIGTERM/SIGINT set `stop`; a second signal exits at once, 128 + its number (without
    waiting for anything: what was not committed is redelivered, as after a SIGKILL)."""
    loop = asyncio.get_running_loop()

    def on_signal(sig: signal.Signals) -> None:
        if stop.is_set():
            log.warning("second signal, exiting now", signal=sig.name)
            for stream in (sys.stdout, sys.stderr):
                with contextlib.suppress(OSError, ValueError):
                    stream.flush()
            os._exit(128 + sig)
        log.info("stopping: draining in-flight requests", signal=sig.name)
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal, sig)
