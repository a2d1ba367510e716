"""The follow step: the create's job followed to its end, within the request's deadline.

Owns `Follow` (announces `submitted`, follows, ends the request `succeeded`), `follow_job` (the
polling, also used for compensation's delete jobs), the `Pacing` protocol with `OwnSchedule`
(each job on its own `schedule.JobSchedule`; `bulk_follow.BulkPacing` is the other) and the job
failures. Transient API errors while polling do not fail the request: the next check comes on
schedule. The deadline ends the wait with a `timeout` (or `payment`, when the order still waits
for payment) failure that carries what is known of the job.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import ClassVar, Protocol

import structlog

from ecsp_contract.failures import FailureStage, WorkerErrorCode
from worker.ecs.errors import EcsApiError, is_not_found
from worker.ecs.models import JobStatus
from worker.pipeline import events
from worker.pipeline.api_errors import error_code
from worker.pipeline.failure import StageFailure
from worker.pipeline.observer import PipelineObserver
from worker.pipeline.port import Outcome
from worker.pipeline.schedule import JobSchedule
from worker.pipeline.state import Created, Request

log = structlog.get_logger("worker.pipeline")
Sleep = Callable[[float], Awaitable[None]]

PENDING_PAYMENT = "PENDING_PAYMENT"

#: One generator for every request's jitter: a Random per request would cost 2.5 KB each.
_JITTER = random.Random()


class JobReader(Protocol):
    async def get_job(self, job_id: str, project_id: str) -> JobStatus: ...


class Pacing(Protocol):
    """How a job is followed: the schedule of its checks and the sleep between them."""

    def following(
        self, created: Created
    ) -> AbstractAsyncContextManager[tuple[JobSchedule, Sleep]]: ...


@dataclass(frozen=True)
class OwnSchedule:
    """Each job checked on its own schedule."""

    schedule: JobSchedule

    @contextlib.asynccontextmanager
    async def following(self, created: Created) -> AsyncIterator[tuple[JobSchedule, Sleep]]:
        del created
        yield self.schedule, asyncio.sleep


@dataclass(frozen=True)
class Follow:
    """Follows the accepted create's job; the request ends `succeeded` when the job did."""

    api: JobReader
    pacing: Pacing
    observer: PipelineObserver
    stage: ClassVar[FailureStage] = FailureStage.JOB

    async def __call__(self, request: Request[Created]) -> Outcome:
        state = request.state  # small: nothing of the body
        ctx, created = state.ctx, state.created
        progress = ctx.progress
        if progress is not None:
            await progress(events.submitted(ctx, created))

        async def awaiting_payment(job: JobStatus) -> None:
            if progress is not None:
                await progress(events.awaiting_payment(ctx, created, job))

        started = time.monotonic()
        try:
            async with self.pacing.following(state) as (schedule, sleep):
                job = await follow_job(
                    self.api,
                    job_id=state.job_id,
                    order_id=created.order_id,
                    server_ids=created.server_ids,
                    project_id=state.project_id,
                    schedule=schedule,
                    deadline=ctx.deadline.at,
                    on_awaiting_payment=awaiting_payment,
                    sleep=sleep,
                )
        except StageFailure as failure:
            self.observer.job_finished(failure.stage, time.monotonic() - started)
            raise
        self.observer.job_finished("succeeded", time.monotonic() - started)
        log.info("job succeeded", job_id=job.job_id, servers=len(job.server_ids))
        return ctx.outcome(events.succeeded(ctx, created, job), created=True)


async def follow_job(
    reader: JobReader,
    *,
    job_id: str,
    order_id: str | None,
    server_ids: tuple[str, ...],
    project_id: str,
    schedule: JobSchedule,
    deadline: float,
    on_awaiting_payment: Callable[[JobStatus], Awaitable[None]],
    rng: random.Random | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> JobStatus:
    """Polls until SUCCESS (returned) or FAIL / deadline (StageFailure).

    `deadline` is a `clock()` reading (monotonic). Each check waits its scheduled delay first,
    cut short so that no check starts after the deadline (the last one comes at it); once the
    deadline is reached the request fails. `rng`, `sleep` and `clock` are injectable for tests.
    """
    last: JobStatus | None = None
    payment_announced = False
    for delay in schedule.delays(rng or _JITTER):
        remaining = deadline - clock()
        if remaining <= 0:
            raise _deadline_failure(last, job_id, order_id, server_ids)
        await sleep(min(delay, remaining))
        try:
            job = await reader.get_job(job_id, project_id)
        except EcsApiError as exc:
            if exc.retryable:
                continue
            vanished, code = is_not_found(exc), error_code(exc)
            raise StageFailure(
                stage=FailureStage.JOB,
                code=WorkerErrorCode.JOB_VANISHED if vanished else code,
                message=f"reading job {job_id} failed: {code}: {exc.message}",
                details=[{"api_code": code}] if vanished else None,
                http_status=exc.http_status,
                request_id=exc.request_id,
                job_id=job_id,
                order_id=order_id,
                server_ids=_known_servers(last, server_ids),
            ) from None
        last = job
        if job.status == "SUCCESS":
            return job
        if job.status == "FAIL":
            raise _job_failure(job, order_id, server_ids)
        if job.status == PENDING_PAYMENT and not payment_announced:
            payment_announced = True
            await on_awaiting_payment(job)
    raise AssertionError("unreachable: the schedule is endless")  # pragma: no cover


def _known_servers(job: JobStatus | None, from_create: tuple[str, ...]) -> tuple[str, ...]:
    seen = dict.fromkeys(from_create)
    if job is not None:
        seen.update(dict.fromkeys(job.server_ids))
    return tuple(seen)


def _job_failure(job: JobStatus, order_id: str | None, server_ids: tuple[str, ...]) -> StageFailure:
    subs = events.sub_job_infos(job)
    succeeded = [s.server_id for s in subs if s.status == "SUCCESS" and s.server_id]
    failed_subs = [s for s in subs if s.status == "FAIL"]
    reason = job.fail_reason or next((s.fail_reason for s in failed_subs if s.fail_reason), None)
    code = job.error_code or next((s.error_code for s in failed_subs if s.error_code), None)
    summary = f"{len(succeeded)} of {len(subs)} servers succeeded" if subs else "no sub-jobs"
    return StageFailure(
        stage=FailureStage.JOB,
        code=code or WorkerErrorCode.JOB_FAILED,
        message=f"job {job.job_id} failed: {reason or 'no reason given'} ({summary})",
        request_id=job.request_id,
        details=[
            {
                "sub_job_id": s.job_id,
                "server_id": s.server_id,
                "status": s.status,
                "error_code": s.error_code,
                "fail_reason": s.fail_reason,
            }
            for s in subs
        ]
        or None,
        job_id=job.job_id,
        order_id=order_id,
        server_ids=_known_servers(job, server_ids),
        sub_jobs=subs,
    )


def _deadline_failure(
    last: JobStatus | None, job_id: str, order_id: str | None, server_ids: tuple[str, ...]
) -> StageFailure:
    waiting_payment = last is not None and last.status == PENDING_PAYMENT
    status = last.status if last is not None else "unknown"
    return StageFailure(
        stage=FailureStage.PAYMENT if waiting_payment else FailureStage.TIMEOUT,
        code=WorkerErrorCode.DEADLINE_EXCEEDED,
        message=(
            f"order {order_id} was not paid before the request's deadline"
            if waiting_payment
            else f"job {job_id} did not end before the request's deadline (last status {status})"
        ),
        retryable=True,
        job_id=job_id,
        order_id=order_id,
        server_ids=_known_servers(last, server_ids),
        sub_jobs=events.sub_job_infos(last) if last is not None else (),
    )
