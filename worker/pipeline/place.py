"""The place step: a request with `ecs-fallbacks` tried in its placements until one has capacity.

Owns `Place`. Without the header the request goes on exactly as it came (today's body, token and
events). With it, the process's `Placer` (`worker.pipeline.placement`) runs the rest of the
request's life (submit, compensate, follow) once per placement it plans, each with that
placement's body and token, until one is not sold out; the events say where and why
(`data.placement`). Alternatives the policy forbids are skipped, never tried. Such a request
keeps its resolved body while its job is followed: a sold-out job needs it for the next
placement.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar, Protocol

from ecsp_contract.events import Placement
from ecsp_contract.failures import FailureStage
from worker.pipeline.alternatives import Alternative, alternatives
from worker.pipeline.placement import Placer
from worker.pipeline.placement_plan import Forbidden
from worker.pipeline.port import Outcome
from worker.pipeline.state import DecodedRequest, Request, Resolved, Step


class ForbiddenOf(Protocol):
    """The policy hook for a request: which of its alternatives' bodies break which rules."""

    def __call__(self, request: DecodedRequest) -> Forbidden: ...


@dataclass(frozen=True)
class Place:
    """Runs the rest of the request in each planned placement until one is not sold out."""

    placer: Placer
    forbidden_of: ForbiddenOf
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
            found, attempt=attempt, forbidden=self.forbidden_of(origin.request)
        )


def _in(state: Resolved, alternative: Alternative, placement: Placement) -> Resolved:
    """`state` in `alternative`: its body and token; the events say `placement` if it works."""
    return replace(
        state,
        ctx=replace(state.ctx, placement=placement),
        request=replace(state.request, token=alternative.token),
        body=alternative.body_of(state.body),
    )
