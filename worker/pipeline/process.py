"""One request, start to end: returns its terminal CloudEvent and never raises for a bad message.

decode → validate → resolve secrets → policy → hourly budget → create (X-Client-Token from the
key) → follow the job →
`succeeded` / `validated` / `failed`. Progress events (`submitted`, `awaiting_payment`) go out
through a sink the consumer wires, as they happen (without one, progress events are off and not
even built); the terminal event is returned to the consumer, which publishes it and only then
lets the offset be committed. The pipeline takes a small config of its own and an observer: it
knows no Kafka, no process settings and no Prometheus.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import json
import time
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import pydantic_core
import structlog

from ecsp_contract.cloudevent import CloudEvent, build_event
from ecsp_contract.events import (
    AwaitingPaymentData,
    Compensation,
    ErrorInfo,
    EventType,
    FailedData,
    SubmittedData,
    SucceededData,
    Tagging,
    ValidatedData,
)
from ecsp_contract.failures import FailureStage, WorkerErrorCode
from ecsp_contract.redaction import redact
from worker.ecs.errors import EcsApiError
from worker.ecs.models import CreateResult, JobStatus
from worker.pipeline.bulk_follow import BulkFollower
from worker.pipeline.compensate import (
    PARTIAL_FAILURE_HEADER,
    ServerDeleter,
    compensate,
    delete_flags,
    not_compensated,
    partial_failure_policy,
)
from worker.pipeline.config import PipelineConfig
from worker.pipeline.deadline import RequestDeadline
from worker.pipeline.decode import (
    DecodedRequest,
    Identity,
    check_bounds,
    identify,
    parse_json_object,
    validate,
)
from worker.pipeline.failure import StageFailure
from worker.pipeline.follow import JobSchedule, follow_job, sub_job_infos
from worker.pipeline.guardrails import Guardrails
from worker.pipeline.holds import IntakeHolds
from worker.pipeline.message import InboundMessage
from worker.pipeline.observer import PipelineObserver, SilentObserver
from worker.pipeline.reconcile import Reconciliation
from worker.pipeline.secrets import SecretSource, body_for_api
from worker.pipeline.submit import CreatingApi, Submitted, submit
from worker.pipeline.tagging import OnPartialFailure
from worker.pipeline.turns import CpuTurns

log = structlog.get_logger("worker.pipeline")

#: A request copy is put into events only up to this size, so events stay small.
MAX_REQUEST_COPY_BYTES = 128 * 1024
#: Log lines carry at most this much of a failure's text, and this many traceback frames.
MAX_LOGGED_TEXT = 1000
MAX_LOGGED_FRAMES = 6


class EcsApi(CreatingApi, ServerDeleter, Protocol):
    """Create, list and delete servers; read jobs (`worker.ecs.client.EcsClient`)."""

    async def wait_available(self, within: float) -> bool:
        """Wait (at most `within` s) until the API takes calls again after an outage."""
        ...


ProgressSink = Callable[[CloudEvent], Awaitable[None]]
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class Pipeline:
    """Everything a request needs from the process: its config, API client, secrets, observer,
    the guardrails (None: no policy file), the intake holds a request takes while it waits
    for the API (None: nobody to tell), the bulk follower of tagged jobs (None: every job
    is followed on the per-job schedule) and the CPU turns its requests' decoding and failed
    events take (one per pipeline, so no batch of costly records holds the event loop)."""

    config: PipelineConfig
    api: EcsApi
    secrets: SecretSource
    observer: PipelineObserver = field(default_factory=SilentObserver)
    guardrails: Guardrails | None = None
    holds: IntakeHolds | None = None
    follower: BulkFollower | None = None
    turns: CpuTurns = field(default_factory=CpuTurns)

    async def process(self, message: InboundMessage, progress: ProgressSink | None) -> CloudEvent:
        """The terminal event of `message`; progress events go to `progress` (None: off).
        Raises only CancelledError.

        Whatever escapes a stage (a bug, a value no check foresaw) still ends the request
        with one `failed` event, `ECSP.InternalError` at the stage it reached; if even that
        event cannot be built, a minimal one that echoes nothing of the record.
        """
        events: _EventMaker | None = None
        try:
            c = self.config
            identity = identify(
                message, namespace=c.token_namespace, default_project=c.default_project
            )
            structlog.contextvars.bind_contextvars(client_token=identity.token)
            events = _EventMaker(c, message, identity)
            return await self._process(message, identity, events, progress)
        except Exception as exc:
            log_unexpected(exc)
            stage = FailureStage.DECODE if events is None else events.stage
            return internal_failure_event(message, self.config.event_source, exc, stage=stage)

    async def _process(
        self,
        message: InboundMessage,
        identity: Identity,
        events: _EventMaker,
        progress: ProgressSink | None,
    ) -> CloudEvent:
        try:
            accepted = await self._submit(message, identity, events)
            message.release_value()  # decoded and sent: the job is followed without it
            found = accepted.submitted.reconciled
            if found is not None:
                log.info("servers found by their token tag", servers=len(found.servers))
                return events.reconciled(found)
            created = accepted.submitted.created
            assert created is not None
            if created.dry_run:
                log.info("dry run validated", attempts=created.attempts)
                return events.validated(created)
            return await self._follow(created, accepted, events, progress)
        except StageFailure as failure:
            return await self.turns.run(functools.partial(self._failed, events, failure))
        except Exception as exc:  # a bug must not stall the partition: fail this request
            log_unexpected(exc)
            return self._failed(events, internal_failure(events.stage, exc))

    def _failed(self, events: _EventMaker, failure: StageFailure) -> CloudEvent:
        self.observer.request_failed(failure.stage)
        log.info(
            "request failed",
            stage=failure.stage,
            code=failure.code[:MAX_LOGGED_TEXT],
            reason=failure.message[:MAX_LOGGED_TEXT],
            job_id=failure.job_id,
        )
        return events.failed(failure)

    async def _submit(
        self, message: InboundMessage, identity: Identity, events: _EventMaker
    ) -> _Accepted:
        """Decode, validate, resolve secrets, create (or find the servers by tag).

        Everything the create needed (parsed document, model, body with the resolved password)
        lives only in this frame, so it is freed while the job is followed for minutes.
        """
        request, on_partial_failure = await self.turns.run(
            lambda: self._decode(message, identity, events)
        )
        body = await body_for_api(request, self.secrets)
        spent = None
        if self.guardrails is not None:
            events.stage = FailureStage.POLICY
            self.guardrails.check(request)
            spent = await self.guardrails.admit(
                request, (message.topic, message.partition), events.deadline.at
            )
        events.stage = FailureStage.SUBMIT
        try:
            submitted = await self._submit_when_available(
                request, body, message, events.deadline, on_partial_failure
            )
        except StageFailure as failure:
            if spent is not None and not failure.retryable:
                spent.refund()  # the API refused the create: no server was made
            raise
        if spent is not None and submitted.created is None:
            spent.refund()  # found by tag instead of created
        events.tagging = submitted.tagging
        return _Accepted(
            submitted=submitted,
            project_id=request.project_id,
            on_partial_failure=on_partial_failure,
            delete_flags=delete_flags(request.body.server),
            may_await_payment=_may_await_payment(request),
        )

    def _decode(
        self, message: InboundMessage, identity: Identity, events: _EventMaker
    ) -> tuple[DecodedRequest, OnPartialFailure]:
        """The record's bounds, JSON, request copy, body and headers: the synchronous work a
        record's size decides, run in the request's CPU turn."""
        c = self.config
        check_bounds(message)
        document = parse_json_object(message, max_bytes=c.max_request_bytes)
        if c.include_request and message.value and len(message.value) <= MAX_REQUEST_COPY_BYTES:
            events.keep_request_copy(redact(document, c.redact_fields))
        events.stage = FailureStage.VALIDATE
        request = validate(
            identity, document, allowed_projects=c.allowed_projects, extra_fields=c.extra_fields
        )
        on_partial_failure = partial_failure_policy(
            message.header(PARTIAL_FAILURE_HEADER),
            c.on_partial_failure,
            header_allowed=c.partial_failure_header_allowed,
        )
        return request, on_partial_failure

    async def _follow(
        self,
        created: CreateResult,
        accepted: _Accepted,
        events: _EventMaker,
        progress: ProgressSink | None,
    ) -> CloudEvent:
        if created.job_id is None:
            raise StageFailure(
                stage=FailureStage.SUBMIT,
                code=WorkerErrorCode.JOB_VANISHED,
                message="the create call returned no job_id",
                order_id=created.order_id,
                server_ids=created.server_ids,
            )
        # One INFO line per request, at its end; the `submitted` event says this meanwhile.
        log.debug("create accepted", job_id=created.job_id, servers=len(created.server_ids))
        events.stage = FailureStage.JOB
        if progress is not None:
            await progress(events.submitted(created))
        started = time.monotonic()

        async def awaiting_payment(job: JobStatus) -> None:
            if progress is not None:
                await progress(events.awaiting_payment(created, job))

        try:
            async with self._following(accepted) as (schedule, sleep):
                job = await follow_job(
                    self.api,
                    job_id=created.job_id,
                    order_id=created.order_id,
                    server_ids=created.server_ids,
                    project_id=accepted.project_id,
                    schedule=schedule,
                    deadline=events.deadline.at,
                    on_awaiting_payment=awaiting_payment,
                    sleep=sleep,
                )
        except StageFailure as failure:
            self._observe_job(started, failure.stage)
            if failure.stage == FailureStage.JOB:
                failure.compensation = await self._compensate(failure, accepted)
            raise
        self._observe_job(started, "succeeded")
        log.info("job succeeded", job_id=job.job_id, servers=len(job.server_ids))
        return events.succeeded(created, job)

    @contextlib.asynccontextmanager
    async def _following(self, accepted: _Accepted) -> AsyncIterator[tuple[JobSchedule, Sleep]]:
        """How the job is followed: woken by the bulk follower (with its safety-net schedule)
        when its servers carry the tags and no payment is awaited; else the per-job schedule."""
        follower, submitted = self.follower, accepted.submitted
        if follower is None or submitted.tagging != "tagged" or accepted.may_await_payment:
            yield self.config.schedule, asyncio.sleep
            return
        async with follower.watching(accepted.project_id, submitted.token) as watch:
            yield follower.config.safety_net, watch.wait

    async def _compensate(self, failure: StageFailure, accepted: _Accepted) -> Compensation | None:
        """What becomes of the servers a failed job built: deleted when the first create of the
        key chose ``delete`` (its request tag on the servers), within a deadline as long as a
        request's; kept otherwise, saying why when this message asked for their deletion."""
        recorded = accepted.submitted.request_tag
        if recorded is not None and recorded.on_partial_failure == "delete":
            compensation = await compensate(
                self.api,
                failure.sub_jobs,
                project_id=accepted.project_id,
                token=accepted.submitted.token,
                digest=recorded.digest,
                flags=accepted.delete_flags,
                schedule=self.config.schedule,
                deadline=time.monotonic() + self.config.request_deadline_seconds,
            )
            if compensation is not None and compensation.not_deleted:
                self.observer.servers_not_deleted(len(compensation.not_deleted))
            return compensation
        if accepted.on_partial_failure != "delete":
            return None
        if recorded is None:
            why = (
                "created without the worker's request tag "
                f"(tagging: {accepted.submitted.tagging}): nothing says it may be deleted"
            )
        else:
            why = (
                "the first create of this key chose keep; a later header or setting cannot "
                "change it"
            )
        return not_compensated(failure.sub_jobs, why)

    async def _submit_when_available(
        self,
        request: DecodedRequest,
        body: dict[str, Any],
        message: InboundMessage,
        deadline: RequestDeadline,
        on_partial_failure: OnPartialFailure,
    ) -> Submitted:
        """`submit`, but while the API is down (breaker open) the request waits for it, up to
        its deadline, without spending attempts, holding every partition's intake (new records
        wait in Kafka); then it is sent again with the same token."""
        waited_since: float | None = None
        while True:
            if deadline.passed():
                raise _not_submitted_in_time(deadline, waited_since)
            deadline.create_may_reach_api(self.config.submit.token_window_seconds)
            try:
                return await submit(
                    self.api, request, body, self.config.submit,
                    on_partial_failure=on_partial_failure,
                    record_age_seconds=message.age_seconds(),
                )  # fmt: skip
            except (StageFailure, EcsApiError) as exc:
                if exc.code != WorkerErrorCode.API_UNAVAILABLE:
                    raise
                if waited_since is None:
                    waited_since = time.monotonic()
                    log.info("waiting for the ECS API", reason=str(exc)[:MAX_LOGGED_TEXT])
            with self.holds.holding() if self.holds is not None else contextlib.nullcontext():
                await self.api.wait_available(max(0.0, deadline.remaining()))

    def _observe_job(self, started: float, outcome: str) -> None:
        self.observer.job_finished(outcome, time.monotonic() - started)


@dataclass(frozen=True)
class _Accepted:
    """What the rest of a request needs once its create was sent (or its servers found)."""

    submitted: Submitted
    project_id: str
    on_partial_failure: OnPartialFailure
    delete_flags: tuple[bool, bool]
    may_await_payment: bool = False


def _may_await_payment(request: DecodedRequest) -> bool:
    """A prePaid order not paid automatically: its job waits for payment first."""
    extend = request.body.server.extendparam
    return extend is not None and extend.charging_mode == "prePaid" and extend.is_auto_pay != "true"


def _not_submitted_in_time(deadline: RequestDeadline, waited_since: float | None) -> StageFailure:
    if waited_since is None:
        why = "the request's deadline passed before it could be submitted"
    else:
        waited = time.monotonic() - waited_since
        span = f"{waited:.1f} s" if waited < 120 else f"{waited / 60:.1f} min"
        why = (
            f"the ECS API was unavailable (circuit breaker open: 5xx, refused connections or "
            f"timeouts); the request waited {span} for it, until its deadline"
        )
    return StageFailure(
        stage=FailureStage.TIMEOUT,
        code=WorkerErrorCode.DEADLINE_EXCEEDED,
        message=f"{why} ({deadline.describe()}); re-publishing with the same key is safe",
        retryable=True,
    )


def internal_failure(stage: FailureStage, exc: BaseException) -> StageFailure:
    """The failure of a request whose processing raised `exc` unexpectedly at `stage`; names
    the exception's type only (its text may echo the input)."""
    return StageFailure(
        stage=stage,
        code=WorkerErrorCode.INTERNAL_ERROR,
        message=f"unexpected {type(exc).__name__} in the worker; see its logs",
        retryable=True,
    )


def internal_failure_event(
    message: InboundMessage, source: str, exc: BaseException, *, stage: FailureStage
) -> CloudEvent:
    """The last-resort `failed` event: built from the record's origin alone, echoing nothing
    of its key, headers or value, so it cannot fail the way the full event did."""
    failure = internal_failure(stage, exc)
    data = FailedData(
        request_key=None,
        client_token=None,
        project_id=None,
        received_at=datetime.now(UTC),
        origin=message.origin,
        stage=failure.stage,
        error=ErrorInfo(code=failure.code, message=failure.message),
        retryable=failure.retryable,
    )
    return build_event(data, EventType.FAILED, source=source)


def log_unexpected(exc: BaseException) -> None:
    """Logs an unexpected exception by type and place only: its text may echo the input
    (huge numbers, secrets), so it never reaches the log."""
    frames = traceback.extract_tb(exc.__traceback__)[-MAX_LOGGED_FRAMES:]
    log.error(
        "unexpected error while processing a request",
        error=type(exc).__name__,
        where=[f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in frames],
    )


class _EventMaker:
    """Builds this request's events: the shared fields once; each id identifies its outcome
    (token or record, project, digest of the value, stable outcome fields: see
    ecsp_contract.cloudevent)."""

    def __init__(self, config: PipelineConfig, message: InboundMessage, identity: Identity) -> None:
        self._source = config.event_source
        self._redact_fields = config.redact_fields
        self._identity = identity
        self._traceparent = identity.traceparent
        self._tracestate = identity.tracestate
        self._request_digest = (
            None if message.value is None else hashlib.sha256(message.value).hexdigest()
        )
        self._base: dict[str, Any] = {
            "request_key": identity.key,
            "client_token": identity.token,
            "project_id": identity.project_id,
            "received_at": message.received_at,
            "origin": message.origin,
        }
        self._request_copy: bytes | None = None
        self.tagging: Tagging | None = None
        self.stage = FailureStage.DECODE
        """How far the request got: the stage of an unexpected error."""
        self.deadline = RequestDeadline.starting(
            message.received_at, config.request_deadline_seconds
        )

    def keep_request_copy(self, redacted: Any) -> None:
        """Keeps the redacted request copy for the events as compact JSON: about a seventh of
        the memory of the parsed tree (6 KB for the API reference's example), held while the
        job is followed for minutes."""
        self._request_copy = pydantic_core.to_json(redacted)

    def _event(self, data: Any, event_type: EventType) -> CloudEvent:
        return build_event(
            data,
            event_type,
            source=self._source,
            traceparent=self._traceparent,
            tracestate=self._tracestate,
            request_digest=self._request_digest,
        )

    def _common(self) -> dict[str, Any]:
        copy = None if self._request_copy is None else json.loads(self._request_copy)
        return {**self._base, "request": copy, "tagging": self.tagging}

    def submitted(self, created: CreateResult) -> CloudEvent:
        data = SubmittedData(
            **self._common(),
            job_id=created.job_id,
            order_id=created.order_id,
            server_ids=list(created.server_ids),
        )
        return self._event(data, EventType.SUBMITTED)

    def awaiting_payment(self, created: CreateResult, job: JobStatus) -> CloudEvent:
        data = AwaitingPaymentData(
            **self._common(),
            job_id=created.job_id,
            order_id=created.order_id,
            server_ids=list(dict.fromkeys([*created.server_ids, *job.server_ids])),
        )
        return self._event(data, EventType.AWAITING_PAYMENT)

    def validated(self, created: CreateResult) -> CloudEvent:
        data = ValidatedData(**self._common(), attempts=created.attempts)
        return self._event(data, EventType.VALIDATED)

    def succeeded(self, created: CreateResult, job: JobStatus) -> CloudEvent:
        data = SucceededData(
            **self._common(),
            job_id=job.job_id,
            order_id=created.order_id,
            server_ids=list(dict.fromkeys([*job.server_ids, *created.server_ids])),
            sub_jobs=list(sub_job_infos(job)),
            begin_time=job.begin_time,
            end_time=job.end_time,
            attempts=created.attempts,
        )
        return self._event(data, EventType.SUCCEEDED)

    def reconciled(self, found: Reconciliation) -> CloudEvent:
        """`succeeded` without a create: every requested server was found by its token tag."""
        data = SucceededData(
            **self._common(),
            reconciled=True,
            servers=list(found.servers),
            job_id=None,
            order_id=None,
            server_ids=[server.server_id for server in found.servers],
            sub_jobs=[],
            begin_time=None,
            end_time=None,
            attempts=0,
        )
        return self._event(data, EventType.SUCCEEDED)

    def failed(self, failure: StageFailure) -> CloudEvent:
        data = FailedData(
            **self._common(),
            stage=failure.stage,
            error=ErrorInfo(
                code=str(failure.code),
                message=failure.message,
                http_status=failure.http_status,
                request_id=failure.request_id,
                details=redact(failure.details, self._redact_fields),
            ),
            retryable=failure.retryable,
            job_id=failure.job_id,
            order_id=failure.order_id,
            server_ids=list(failure.server_ids),
            sub_jobs=list(failure.sub_jobs),
            servers=list(failure.servers),
            compensation=failure.compensation,
        )
        return self._event(data, EventType.FAILED)
