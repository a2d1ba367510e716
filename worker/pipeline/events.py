"""A request's events, built from its `RequestContext`: one function per event type (and
`sub_job_infos`, a job's sub-jobs as the events carry them).

Each id identifies its outcome (token or record, project, digest of the value, stable outcome
fields: see `ecsp_contract.cloudevent`), so a redelivered request that ends the same way
publishes the same id. The request copy is kept as compact JSON in the context (about a seventh
of the parsed tree's memory while a job is followed for minutes) and parsed again per event.
"""

from __future__ import annotations

import json
from typing import Any

from ecsp_contract.cloudevent import CloudEvent, build_event
from ecsp_contract.events import (
    AwaitingPaymentData,
    ErrorInfo,
    EventType,
    FailedData,
    SubJobInfo,
    SubmittedData,
    SucceededData,
    ValidatedData,
)
from ecsp_contract.redaction import redact
from worker.ecs.models import CreateResult, JobStatus
from worker.pipeline.context import RequestContext
from worker.pipeline.failure import StageFailure
from worker.pipeline.reconcile import Reconciliation


def sub_job_infos(job: JobStatus) -> tuple[SubJobInfo, ...]:
    return tuple(
        SubJobInfo(
            job_id=sub.job_id,
            status=sub.status,
            server_id=sub.server_id,
            error_code=sub.error_code,
            fail_reason=sub.fail_reason,
            begin_time=sub.begin_time,
            end_time=sub.end_time,
        )
        for sub in job.sub_jobs
    )


def _event(ctx: RequestContext, data: Any, event_type: EventType) -> CloudEvent:
    identity = ctx.identity
    return build_event(
        data,
        event_type,
        source=ctx.settings.source,
        traceparent=identity.traceparent,
        tracestate=identity.tracestate,
        request_digest=ctx.request_digest,
    )


def _common(ctx: RequestContext) -> dict[str, Any]:
    identity = ctx.identity
    return {
        "request_key": identity.key,
        "client_token": identity.token,
        "project_id": identity.project_id,
        "received_at": ctx.received_at,
        "origin": ctx.origin,
        "request": None if ctx.request_copy is None else json.loads(ctx.request_copy),
        "tagging": ctx.tagging,
    }


def submitted(ctx: RequestContext, created: CreateResult) -> CloudEvent:
    data = SubmittedData(
        **_common(ctx),
        job_id=created.job_id,
        order_id=created.order_id,
        server_ids=list(created.server_ids),
    )
    return _event(ctx, data, EventType.SUBMITTED)


def awaiting_payment(ctx: RequestContext, created: CreateResult, job: JobStatus) -> CloudEvent:
    data = AwaitingPaymentData(
        **_common(ctx),
        job_id=created.job_id,
        order_id=created.order_id,
        server_ids=list(dict.fromkeys([*created.server_ids, *job.server_ids])),
    )
    return _event(ctx, data, EventType.AWAITING_PAYMENT)


def validated(ctx: RequestContext, created: CreateResult) -> CloudEvent:
    data = ValidatedData(**_common(ctx), attempts=created.attempts)
    return _event(ctx, data, EventType.VALIDATED)


def succeeded(ctx: RequestContext, created: CreateResult, job: JobStatus) -> CloudEvent:
    data = SucceededData(
        **_common(ctx),
        job_id=job.job_id,
        order_id=created.order_id,
        server_ids=list(dict.fromkeys([*job.server_ids, *created.server_ids])),
        sub_jobs=list(sub_job_infos(job)),
        begin_time=job.begin_time,
        end_time=job.end_time,
        attempts=created.attempts,
        placement=ctx.placement,
    )
    return _event(ctx, data, EventType.SUCCEEDED)


def reconciled(ctx: RequestContext, found: Reconciliation) -> CloudEvent:
    """`succeeded` without a create: every requested server was found by its token tag."""
    data = SucceededData(
        **_common(ctx),
        reconciled=True,
        servers=list(found.servers),
        job_id=None,
        order_id=None,
        server_ids=[server.server_id for server in found.servers],
        sub_jobs=[],
        begin_time=None,
        end_time=None,
        attempts=0,
        placement=ctx.placement,
    )
    return _event(ctx, data, EventType.SUCCEEDED)


def failed(ctx: RequestContext, failure: StageFailure) -> CloudEvent:
    data = FailedData(
        **_common(ctx),
        stage=failure.stage,
        error=ErrorInfo(
            code=str(failure.code),
            message=failure.message,
            http_status=failure.http_status,
            request_id=failure.request_id,
            details=redact(failure.details, ctx.settings.redact_fields),
        ),
        retryable=failure.retryable,
        job_id=failure.job_id,
        order_id=failure.order_id,
        server_ids=list(failure.server_ids),
        sub_jobs=list(failure.sub_jobs),
        servers=list(failure.servers),
        compensation=failure.compensation,
        placement=failure.placement,
    )
    return _event(ctx, data, EventType.FAILED)
