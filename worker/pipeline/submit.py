"""The submit step: the create (or the servers found by tag), after waiting out an API outage.

Owns `Submit`. While the API is down (the circuit breaker is open) the request waits for it, up
to its deadline, without spending attempts, holding every partition's intake (new records wait
in Kafka): the one place an open breaker is waited out. Then `create.create_or_find` sends it.
A dry run ends here (`validated`), and so does a request whose servers were found by their tag
(`succeeded`, reconciled); a create the API accepted moves on without its body, and the record's
value is let go.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any, ClassVar, Protocol

import structlog

from ecsp_contract.failures import FailureStage, WorkerErrorCode
from worker.ecs.errors import EcsApiError
from worker.pipeline import events
from worker.pipeline.api_errors import error_code
from worker.pipeline.create import CreateConfig, CreatingApi, Submitted, create_or_find
from worker.pipeline.deadline import RequestDeadline
from worker.pipeline.failure import StageFailure
from worker.pipeline.port import Intake, Outcome
from worker.pipeline.state import Created, DecodedRequest, Request, Resolved, Step

log = structlog.get_logger("worker.pipeline")

#: Log lines carry at most this much of an error's text.
MAX_LOGGED_TEXT = 1000


class CreateAnswers(Protocol):
    """Told as soon as the API answered a create (`failure`: how it refused it); the placer
    (`worker.pipeline.placement`) learns about the offering and lets waiting requests go on."""

    def create_answered(self, body: dict[str, Any], failure: StageFailure | None) -> None: ...


class NoOneListening:
    def create_answered(self, body: dict[str, Any], failure: StageFailure | None) -> None:
        return None


class SubmittingApi(CreatingApi, Protocol):
    async def wait_available(self, within: float) -> bool:
        """Wait (at most `within` s) until the API takes calls again after an outage."""
        ...


@dataclass(frozen=True)
class Submit:
    """Creates the request's servers (or finds them) once the API is available."""

    api: SubmittingApi
    intake: Intake
    create: CreateConfig
    next_step: Step[Created]
    answers: CreateAnswers = NoOneListening()  # noqa: RUF009 - stateless
    stage: ClassVar[FailureStage] = FailureStage.SUBMIT

    async def __call__(self, request: Request[Resolved]) -> Outcome:
        ended = await self.submitted(request)
        if isinstance(ended, Outcome):
            return ended
        return await self.next_step(request.advance(ended))

    async def submitted(self, request: Request[Resolved]) -> Outcome | Created:
        """The request's end (dry run, found by tag) or its accepted create."""
        state = request.state
        try:
            deadline, submitted = await self._when_available(state)
        except StageFailure as failure:
            self.answers.create_answered(state.body, failure)
            raise
        self.answers.create_answered(state.body, None)
        state.message.release_value()  # decoded and sent: the job is followed without it
        ctx = replace(state.ctx, deadline=deadline, tagging=submitted.tagging)
        request.advance(replace(state, ctx=ctx))  # from here on, events say the tagging
        if submitted.reconciled is not None:
            log.info("servers found by their token tag", servers=len(submitted.reconciled.servers))
            return ctx.outcome(events.reconciled(ctx, submitted.reconciled))
        created = submitted.created
        assert created is not None
        if created.dry_run:
            log.info("dry run validated", attempts=created.attempts)
            return ctx.outcome(events.validated(ctx, created))
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
        return Created(
            ctx=ctx,
            project_id=state.request.project_id,
            token=submitted.token,
            tagging=submitted.tagging,
            created=created,
            job_id=created.job_id,
            on_partial_failure=state.on_partial_failure,
            delete_flags=delete_flags(state.request),
            may_await_payment=may_await_payment(state.request),
            request_tag=submitted.request_tag,
        )

    async def _when_available(self, state: Resolved) -> tuple[RequestDeadline, Submitted]:
        """`create_or_find`, but while the API is down the request waits for it (holding every
        partition's intake) up to its deadline; then it is sent again with the same token."""
        deadline = state.ctx.deadline
        waited_since: float | None = None
        while True:
            if deadline.passed():
                raise _not_submitted_in_time(deadline, waited_since)
            deadline = deadline.before_token_expires(self.create.token_window_seconds)
            try:
                return deadline, await create_or_find(
                    self.api, state.request, state.body, self.create,
                    on_partial_failure=state.on_partial_failure,
                    record_age_seconds=state.message.age_seconds(),
                )  # fmt: skip
            except (StageFailure, EcsApiError) as exc:
                if not _api_unavailable(exc):
                    raise
                if waited_since is None:
                    waited_since = time.monotonic()
                    log.info("waiting for the ECS API", reason=str(exc)[:MAX_LOGGED_TEXT])
            with self.intake.holding():
                await self.api.wait_available(max(0.0, deadline.remaining()))


def delete_flags(request: DecodedRequest) -> tuple[bool, bool]:
    """(delete_publicip, delete_volume): remove what the request created with the servers."""
    server = request.body.server
    new_eip = server.publicip is not None and server.publicip.eip is not None
    return new_eip, bool(server.data_volumes)


def may_await_payment(request: DecodedRequest) -> bool:
    """A prePaid order not paid automatically: its job waits for payment first."""
    extend = request.body.server.extendparam
    return extend is not None and extend.charging_mode == "prePaid" and extend.is_auto_pay != "true"


def _api_unavailable(exc: StageFailure | EcsApiError) -> bool:
    code = error_code(exc) if isinstance(exc, EcsApiError) else exc.code
    return code == WorkerErrorCode.API_UNAVAILABLE


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
