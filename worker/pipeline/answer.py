"""The answer step: a record in, its one outcome out — the outermost step of every request.

Owns `Answer` and `AnswerConfig`. It finds the record's tenant by the topic it came from
(`worker.pipeline.tenant`), identifies the record in that tenant (key, token in the tenant's
namespace, project, trace), starts the request's context, hands the request to the next step, and
turns a failure of any step into the request's `failed` event (counted by stage and logged once). It
never raises for a message: if even the failed event cannot be built, the answer is the minimal one,
which echoes nothing of the record (`port.minimal_failed_event`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import structlog

from ecsp_contract.failures import FailureStage
from worker.pipeline import events
from worker.pipeline.context import EventSettings, RequestContext
from worker.pipeline.failure import StageFailure, log_unexpected
from worker.pipeline.identity import identify
from worker.pipeline.observer import PipelineObserver
from worker.pipeline.port import (
    InboundMessage,
    Outcome,
    ProgressSink,
    answer_key,
    minimal_failed_event,
)
from worker.pipeline.state import Received, Request, Step
from worker.pipeline.tenant import TenantTable
from worker.pipeline.turns import CpuTurns

log = structlog.get_logger("worker.pipeline")

#: Log lines carry at most this much of a failure's text.
MAX_LOGGED_TEXT = 1000


@dataclass(frozen=True)
class AnswerConfig:
    """Who the worker is to its events, whose a record is, and how its deadline is made."""

    events: EventSettings
    tenants: TenantTable
    request_deadline_seconds: float


@dataclass(frozen=True)
class Answer:
    """The `RequestHandler` the consumer calls (`worker.pipeline.port`)."""

    config: AnswerConfig
    observer: PipelineObserver
    turns: CpuTurns  # a failed event (its request copy, its details) is built in a CPU turn
    next_step: Step[Received]

    async def __call__(self, message: InboundMessage, progress: ProgressSink | None) -> Outcome:
        try:
            ctx = self._context(message, progress)
        except Exception as exc:  # a value no check foresaw: answer all the same
            return self._minimal(message, FailureStage.DECODE, exc)
        request = Request(Received(ctx, message))
        try:
            return await self.next_step(request)
        except StageFailure as failure:
            return await self.turns.run(partial(self._failed, message, request.ctx, failure))
        except Exception as exc:  # only a step composed without its guard lets one through
            return self._minimal(message, FailureStage.DECODE, exc)

    def _context(self, message: InboundMessage, progress: ProgressSink | None) -> RequestContext:
        c = self.config
        tenant = c.tenants.of(message.topic)
        identity = identify(
            message, namespace=tenant.token_namespace, default_project=tenant.default_project
        )
        structlog.contextvars.bind_contextvars(client_token=identity.token, tenant=tenant.name)
        return RequestContext.starting(
            c.events,
            identity,
            tenant,
            message,
            deadline_seconds=c.request_deadline_seconds,
            progress=progress,
        )

    def _failed(
        self, message: InboundMessage, ctx: RequestContext, failure: StageFailure
    ) -> Outcome:
        """The `failed` event, from the context the request had reached."""
        self.observer.request_failed(failure.stage)
        log.info(
            "request failed",
            stage=failure.stage,
            code=failure.code[:MAX_LOGGED_TEXT],
            reason=failure.message[:MAX_LOGGED_TEXT],
            job_id=failure.job_id,
        )
        try:
            return ctx.outcome(events.failed(ctx, failure))
        except Exception as exc:
            return self._minimal(message, failure.stage, exc)

    def _minimal(self, message: InboundMessage, stage: FailureStage, exc: Exception) -> Outcome:
        log_unexpected(exc)
        event = minimal_failed_event(message, self.config.events.source, stage=stage, exception=exc)
        return Outcome(event, answer_key(message.key))
