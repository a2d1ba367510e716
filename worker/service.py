"""Assembling one worker process: HTTP session, ECS client, Kafka clients, ops server, the loop.

Owns the lifetime of every resource: one aiohttp ClientSession per process, created here and
closed here; Kafka clients started and stopped here, in reverse order, on every exit path
(including cancellation).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import structlog

from worker.consumer.kafka import KafkaRequestConsumer, make_consumer, make_producer
from worker.consumer.ports import EventSink
from worker.consumer.publisher import EventPublisher
from worker.consumer.runner import Worker
from worker.consumer.tracing import KafkaTracing, TracedEventSink
from worker.ecs.auth import AkSkAuth, TokenAuth
from worker.ecs.breaker import BreakerPolicy, CircuitBreaker
from worker.ecs.client import EcsClient, EcsClientSettings, make_session
from worker.ecs.credentials import (
    Credential,
    CredentialSource,
    FileCredentials,
    MetadataCredentials,
)
from worker.ecs.ratelimit import AdaptiveRate, AimdPolicy, CallLimiter, TokenBucket
from worker.ecs.retry import RetryPolicy
from worker.ecs.tracing import HttpSpans
from worker.ops.config import Settings, settings_env_names
from worker.ops.health import Probes, make_ops_app, start_ops_server
from worker.ops.metrics import Metrics
from worker.ops.tracing import Tracing, start_tracing
from worker.ops.version import package_version
from worker.pipeline.bulk_follow import BulkFollowConfig, BulkFollower
from worker.pipeline.config import PipelineConfig
from worker.pipeline.follow import PollSchedule
from worker.pipeline.guardrails import Guardrails
from worker.pipeline.holds import IntakeHolds
from worker.pipeline.process import Pipeline
from worker.pipeline.secrets import SecretSource
from worker.pipeline.submit import SubmitPolicy
from worker.pipeline.tagging import deployment_tag_value
from worker.policy.budget import HourlyBudget
from worker.policy.source import PolicySource
from worker.tasks import cancel_and_wait

log = structlog.get_logger("worker.service")


def _secret(value: object) -> str:
    get = getattr(value, "get_secret_value", None)
    return str(get()) if get is not None else ""


def _secret_or_file(settings: Settings, name: str) -> str | Path | None:
    """A secret as its file (re-read when it changes) if given that way, else its value."""
    return settings.secret_file(name) or _secret(getattr(settings, name)) or None


def credential_source(
    settings: Settings, session: aiohttp.ClientSession, metrics: Metrics
) -> CredentialSource:
    """Where AK/SK come from: the instance metadata service, files, or fixed values."""
    if settings.auth_mode == "metadata":
        return MetadataCredentials(
            session,
            settings.ecs_metadata_endpoint,
            refresh_before=settings.credential_refresh_seconds,
            observer=metrics,
        )
    access_key = _secret_or_file(settings, "ecs_ak") or ""
    secret_key = _secret_or_file(settings, "ecs_sk") or ""
    token = _secret_or_file(settings, "ecs_security_token")
    if any(isinstance(v, Path) for v in (access_key, secret_key, token)):
        return FileCredentials(access_key, secret_key, token)
    return Credential(str(access_key), str(secret_key), str(token) if token else None)


def make_auth(
    settings: Settings, session: aiohttp.ClientSession, metrics: Metrics
) -> AkSkAuth | TokenAuth:
    if settings.auth_mode == "token":
        return TokenAuth(
            session,
            settings.iam_url,
            settings.iam_domain or "",
            settings.iam_username or "",
            settings.secret_file("iam_password") or _secret(settings.iam_password),
            settings.ecs_project_id,
            observer=metrics,
        )
    return AkSkAuth(credential_source(settings, session, metrics))


def client_settings(settings: Settings) -> EcsClientSettings:
    return EcsClientSettings(
        endpoint=settings.ecs_base_url,
        verify_tls=settings.ecs_verify_tls,
        ca_file=str(settings.ecs_ca_file) if settings.ecs_ca_file else None,
        request_timeout=settings.api_timeout_seconds,
        connect_timeout=settings.api_connect_timeout_seconds,
        retry=RetryPolicy(
            max_attempts=settings.api_max_attempts,
            base_delay=settings.api_retry_base_seconds,
            max_delay=settings.api_retry_max_seconds,
            deadline=settings.api_call_deadline_seconds,
        ),
        connection_limit=max(100, min(settings.max_in_flight, 1000)),
    )


def pipeline_config(settings: Settings) -> PipelineConfig:
    return PipelineConfig(
        event_source=settings.event_source,
        token_namespace=settings.token_namespace,
        default_project=settings.ecs_project_id,
        allowed_projects=settings.allowed_projects(),
        max_request_bytes=settings.max_request_bytes,
        include_request=settings.include_request,
        redact_fields=tuple(settings.redact_fields),
        request_deadline_seconds=settings.request_deadline_seconds,
        schedule=PollSchedule(
            settings.job_poll_initial_seconds,
            settings.job_poll_factor,
            settings.job_poll_max_seconds,
        ),
        submit=SubmitPolicy(
            deployment_name=settings.deployment_name,
            token_window_seconds=settings.token_window_seconds,
            after_token_window=settings.after_token_window,
        ),
        on_partial_failure=settings.on_partial_failure,
        partial_failure_header_allowed=settings.allow_partial_failure_header,
        extra_fields=settings.extra_fields(),
    )


def make_follower(settings: Settings, client: EcsClient) -> BulkFollower | None:
    """The process's bulk follower of tagged jobs, or None when bulk following is off."""
    if not settings.bulk_follow:
        return None
    config = BulkFollowConfig(
        deployment_tag=deployment_tag_value(settings.deployment_name),
        interval_seconds=settings.bulk_follow_interval_seconds,
        safety_net_seconds=settings.bulk_follow_safety_net_seconds,
        unseen_seconds=settings.bulk_follow_unseen_seconds,
    )
    return BulkFollower(client, config)


def make_limiter(settings: Settings, metrics: Metrics) -> CallLimiter:
    """The process's call pace: adaptive below the configured ceiling, or none at all."""
    if settings.api_rate_limit <= 0:
        metrics.api_rate.set(0)
        return TokenBucket(0)
    policy = AimdPolicy(
        ceiling=settings.api_rate_limit,
        floor=min(0.5, settings.api_rate_limit),
        increase=settings.api_rate_increase,
    )
    return AdaptiveRate(policy, settings.api_burst, on_change=metrics.api_rate.set)


def make_breaker(settings: Settings, metrics: Metrics) -> CircuitBreaker:
    policy = BreakerPolicy(
        failure_threshold=settings.breaker_failure_threshold,
        probe_initial=settings.breaker_probe_initial_seconds,
        probe_max=settings.breaker_probe_max_seconds,
    )
    return CircuitBreaker(policy, on_change=metrics.circuit_changed)


@contextlib.asynccontextmanager
async def ecs_client(
    settings: Settings, metrics: Metrics, breaker: CircuitBreaker, tracing: Tracing | None = None
) -> AsyncIterator[EcsClient]:
    """The process's ECS client and its one HTTP session, closed on exit."""
    config = client_settings(settings)
    session = make_session(config)
    try:
        yield EcsClient(
            session,
            config,
            auth=make_auth(settings, session, metrics),
            limiter=make_limiter(settings, metrics),
            observer=metrics,
            breaker=breaker,
            tracer=None if tracing is None else HttpSpans(tracing.tracer()),
        )
    finally:
        await session.close()


async def serve(settings: Settings, stop: asyncio.Event, *, metrics: Metrics | None = None) -> None:
    """Runs the worker until `stop` is set; returns after a clean drain and close.

    Traces are exported when OTEL_* asks for them (`worker.ops.tracing`); raises
    TracingConfigError when it asks for what this install cannot do.
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
    policy = PolicySource.open(settings.policy_file, observer=metrics)
    holds = IntakeHolds()
    breaker = make_breaker(settings, metrics)
    async with contextlib.AsyncExitStack() as following:
        client = await following.enter_async_context(
            ecs_client(settings, metrics, breaker, tracing)
        )
        follower = make_follower(settings, client)
        if follower is not None:
            following.push_async_callback(follower.close)
        pipeline = Pipeline(
            config=pipeline_config(settings),
            api=client,
            secrets=SecretSource(
                settings.secret_env_prefix, settings.secret_dir, settings_env_names()
            ),
            observer=metrics,
            guardrails=make_guardrails(settings, policy, holds, metrics),
            holds=holds,
            follower=follower,
        )
        producer = make_producer(settings)
        consumer = make_consumer(settings)
        publisher: EventSink = EventPublisher(
            producer, metrics, max_event_bytes=settings.max_event_bytes
        )
        request_tracing = None
        if tracing is not None:
            publisher = TracedEventSink(publisher, tracing.tracer())
            request_tracing = KafkaTracing(tracing.tracer(), group_id=settings.group_id)
        worker = Worker(
            settings,
            KafkaRequestConsumer(consumer),
            publisher,
            pipeline,
            metrics,
            holds=holds,
            tracing=request_tracing,
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
            # stop() is registered before start(): a start that fails half-way is cleaned too
            resources.push_async_callback(producer.stop)
            resources.push_async_callback(consumer.stop)
            await producer.start()
            await consumer.start()
            log.info(
                "worker started",
                topic=settings.topic_requests,
                group=settings.group_id,
                endpoint=settings.ecs_base_url,
                max_in_flight=settings.max_in_flight,
                tracing=tracing is not None,
            )
            watcher = asyncio.create_task(policy.watch(settings.policy_reload_seconds))
            resources.push_async_callback(cancel_and_wait, watcher)
            await worker.run(stop)
    log.info("worker stopped")


def make_guardrails(
    settings: Settings, policy: PolicySource, holds: IntakeHolds, metrics: Metrics
) -> Guardrails | None:
    """The pipeline's guardrails, or None when no policy file is configured."""
    if settings.policy_file is None:
        return None
    return Guardrails(
        policy=policy.current,
        budget=HourlyBudget(settings.policy_budget_window_seconds),
        holds=holds,
        observer=metrics,
    )


def _alive(worker: Worker) -> tuple[bool, str]:
    age = worker.poll_age()
    if worker.last_poll is None:
        return True, "starting"
    return age < 60.0, f"last poll {age:.1f}s ago"


def install_signal_handlers(stop: asyncio.Event) -> None:
    """SIGTERM/SIGINT set `stop`; a second signal exits at once."""
    loop = asyncio.get_running_loop()

    def on_signal(sig: signal.Signals) -> None:
        if stop.is_set():
            log.warning("second signal, exiting now", signal=sig.name)
            raise SystemExit(1)
        log.info("stopping: draining in-flight requests", signal=sig.name)
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal, sig)
