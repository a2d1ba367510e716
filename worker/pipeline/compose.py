"""A request's life composed from its steps: the one place their order is written.

Owns `PipelineParts` (what the steps take: small configs and collaborators) and `compose`. The
steps are built innermost first, each wrapped in the middlewares (`StageGuard` always), and
handed to the one before as its `next_step`:

    answer → decode → validate → guardrails → secrets → place → submit → compensate → follow

Adding a step is one module with one class, and one line here that builds it between its
neighbours (docs/architecture.md, "Adding a step").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, cast

from ecsp_contract.failures import FailureStage
from worker.pipeline.answer import Answer, AnswerConfig
from worker.pipeline.compensate import Compensate
from worker.pipeline.create import CreateConfig
from worker.pipeline.decode import Decode
from worker.pipeline.deletion import ServerDeleter
from worker.pipeline.follow import Follow, Pacing
from worker.pipeline.guardrails import Guardrails, GuardrailsParts, nothing_forbidden_of
from worker.pipeline.middleware import Middleware, StageGuard
from worker.pipeline.observer import PipelineObserver
from worker.pipeline.parking import Parking
from worker.pipeline.place import Place
from worker.pipeline.placement import Placer
from worker.pipeline.port import Intake, RequestHandler
from worker.pipeline.schedule import JobSchedule
from worker.pipeline.secrets import ResolveSecrets, SecretScopes
from worker.pipeline.state import Step
from worker.pipeline.submit import Submit, SubmittingApi
from worker.pipeline.turns import CpuTurns
from worker.pipeline.validate import Validate, ValidateConfig

S = TypeVar("S")


class EcsApi(SubmittingApi, ServerDeleter, Protocol):
    """Create, list and delete servers, read jobs, wait out an outage (`EcsClient`)."""


@dataclass(frozen=True)
class PipelineParts:
    """Everything the steps take from the process."""

    answer: AnswerConfig
    validate: ValidateConfig
    max_request_bytes: int
    create: CreateConfig
    api: EcsApi
    secrets: SecretScopes  # each tenant's `$NAME` scope
    intake: Intake
    pacing: Pacing  # how jobs are followed (each on its schedule, or woken in bulk)
    schedule: JobSchedule  # the per-job schedule (compensation's delete jobs use it too)
    observer: PipelineObserver
    placer: Placer  # the process's capacity memory and probes (ecs-fallbacks)
    guardrails: GuardrailsParts | None = None  # None: no policy file, no guardrails step


def compose(
    parts: PipelineParts, middlewares: Sequence[Middleware] = (StageGuard,)
) -> RequestHandler:
    """The request handler the consumer calls (`worker.pipeline.port.RequestHandler`)."""

    def wrap(step: Step[S], stage: FailureStage) -> Step[S]:
        wrapped: Step[Any] = step
        for middleware in middlewares:
            wrapped = middleware(wrapped, stage)
        return cast(Step[S], wrapped)

    api, rails, turns = parts.api, parts.guardrails, CpuTurns()
    follow = wrap(Follow(api, parts.pacing, parts.observer), Follow.stage)
    compensate = wrap(
        Compensate(
            api, parts.schedule, parts.answer.request_deadline_seconds, follow, parts.observer
        ),
        Compensate.stage,
    )
    submit = wrap(Submit(api, parts.intake, parts.create, compensate, parts.placer), Submit.stage)
    forbidden_of = nothing_forbidden_of if rails is None else rails.forbidden_of
    place = wrap(
        Place(parts.placer, forbidden_of, api, parts.intake, parts.create.deployment_name, submit),
        Place.stage,
    )
    secrets = wrap(ResolveSecrets(parts.secrets, place), ResolveSecrets.stage)
    guarded = secrets
    if rails is not None:
        parking = Parking(parts.intake, rails.parked_per_partition, rails.observer)
        guardrails = Guardrails(rails.policy, rails.budget, parking, secrets, rails.observer)
        guarded = wrap(guardrails, Guardrails.stage)
    validate = wrap(Validate(parts.validate, turns, guarded), Validate.stage)
    decode = wrap(Decode(parts.max_request_bytes, turns, validate), Decode.stage)
    return Answer(parts.answer, parts.observer, turns, decode)
