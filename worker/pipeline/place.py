"""The place step: a request with `ecs-fallbacks` tried in its placements until one has capacity.

Owns `Place`. Without the header the request goes on exactly as it came (today's body, token and
events). With it, the process's `Placer` (`worker.pipeline.placement`) runs the rest of the
request's life (submit, compensate, follow) once per placement it plans, each with that
placement's body and token, until one is not sold out; the events say where and why
(`data.placement`). Alternatives the policy forbids are skipped, never tried. Such a request
keeps its resolved body while its job is followed: a sold-out job needs it for the next
placement.

A redelivered request (a crash, a rebalance, a re-published key) may have been placed already,
in any of its placements, on grounds a new plan does not see: the earlier delivery's memory, or
a create refused then whose capacity has come back since. So before its first create the step
looks every placement up by its `ecsp-client-token` tag (one server list each, at once) and, if
one has servers, resumes there: its create is answered with its first job, and no other
placement is created next to it. While the API is down the lookup waits for it, as a create
does (`worker.pipeline.submit`). A body without room for the worker's tags, or a dry run, is not
looked up (nothing could be found). The server list is eventually consistent: servers a job
started moments ago may not be listed yet.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import ClassVar, Protocol

import structlog

from ecsp_contract.events import Placement
from ecsp_contract.failures import FailureStage, WorkerErrorCode
from worker.ecs.errors import EcsApiError
from worker.ecs.servers import ServerLister
from worker.pipeline.alternatives import Alternative, alternatives
from worker.pipeline.api_errors import error_code
from worker.pipeline.create import api_failure
from worker.pipeline.failure import StageFailure
from worker.pipeline.placement import Placer
from worker.pipeline.placement_plan import Forbidden
from worker.pipeline.port import Intake, Outcome
from worker.pipeline.reconcile import Reconciliation, find_servers
from worker.pipeline.state import DecodedRequest, Request, Resolved, Step
from worker.pipeline.tagging import RequestTag, deployment_tag, request_digest, tag_body

log = structlog.get_logger("worker.pipeline")


class ForbiddenOf(Protocol):
    """The policy hook for a request: which of its alternatives' bodies break which rules."""

    def __call__(self, request: DecodedRequest) -> Forbidden: ...


class PlacementApi(ServerLister, Protocol):
    async def wait_available(self, within: float) -> bool:
        """Wait (at most `within` s) until the API takes calls again after an outage."""
        ...


@dataclass(frozen=True)
class Place:
    """Runs the rest of the request in each planned placement until one is not sold out."""

    placer: Placer
    forbidden_of: ForbiddenOf
    api: PlacementApi
    intake: Intake
    deployment_name: str  # whose servers a lookup takes (their deployment tag)
    next_step: Step[Resolved]
    stage: ClassVar[FailureStage] = FailureStage.SUBMIT

    async def __call__(self, request: Request[Resolved]) -> Outcome:
        if not request.state.fallbacks:
            return await self.next_step(request)
        origin = request.state  # every placement is made from it (see the module doc)

        async def attempt(alternative: Alternative, placement: Placement) -> Outcome:
            return await self.next_step(request.advance(_in(origin, alternative, placement)))

        found = alternatives(origin.request.wire, origin.request.token, origin.fallbacks)
        return await self.placer.place(
            found,
            attempt=attempt,
            forbidden=self.forbidden_of(origin.request),
            resume=await self.placed_before(origin, found),
        )

    async def placed_before(
        self, state: Resolved, found: Sequence[Alternative]
    ) -> Alternative | None:
        """The last of `found` whose servers are there (an earlier delivery's), if any."""
        if state.request.body.dry_run or not _searchable(state):
            return None
        deadline = state.ctx.deadline
        while True:
            try:
                placed = await self._with_servers(state.request, found)
            except EcsApiError as exc:
                if error_code(exc) != WorkerErrorCode.API_UNAVAILABLE:
                    raise api_failure(exc) from None
            else:
                if placed is not None:
                    log.info(
                        "placement created by an earlier delivery; resuming there",
                        flavor=placed.flavor_ref,
                        zone=placed.availability_zone,
                    )
                return placed
            if deadline.passed():
                raise StageFailure(
                    stage=FailureStage.TIMEOUT,
                    code=WorkerErrorCode.DEADLINE_EXCEEDED,
                    message="the ECS API was unavailable until the request's deadline "
                    f"({deadline.describe()}); re-publishing with the same key is safe",
                    retryable=True,
                )
            with self.intake.holding():
                await self.api.wait_available(max(0.0, deadline.remaining()))

    async def _with_servers(
        self, request: DecodedRequest, found: Sequence[Alternative]
    ) -> Alternative | None:
        requested = request.body.server.count or 1
        lookups = [
            find_servers(
                self.api,
                request.project_id,
                alternative.token,
                requested,
                deployment_tag=deployment_tag(self.deployment_name),
                digest=request_digest(request.wire),
            )
            for alternative in found
        ]
        answers = await asyncio.gather(*lookups, return_exceptions=True)
        for answer in answers:  # every lookup has ended: the first failure stands for them
            if isinstance(answer, BaseException):
                raise answer
        placed = [
            a
            for a, r in zip(found, answers, strict=True)
            if isinstance(r, Reconciliation) and r.servers
        ]
        return placed[-1] if placed else None


def _searchable(state: Resolved) -> bool:
    """Whether the placements' servers carry the worker's tags (the body has room for them; the
    decision depends on the body's own tags only)."""
    request = state.request
    tag = RequestTag(request_digest(request.wire), state.on_partial_failure)
    tagged = tag_body(request.wire, token=request.token, deployment_name="", request_tag=tag)
    return tagged.tagging == "tagged"


def _in(state: Resolved, alternative: Alternative, placement: Placement) -> Resolved:
    """`state` in `alternative`: its body and token; the events say `placement` if it works."""
    return replace(
        state,
        ctx=replace(state.ctx, placement=placement),
        request=replace(state.request, token=alternative.token),
        body=alternative.body_of(state.body),
    )
