"""The validate step: the key, the project, the body and the request's headers, checked locally.

Owns `Validate` and `validate`. It keeps the redacted copy of the request for the events
first (so a request refused here is echoed too), then checks: a key to derive the token from,
a project of the request's tenant (the default tenant's: the default project and the
allow-list), the body by the contract's one verdict (`ecsp_contract.verdict`,
the same one `ecs-provisioner validate` and `publish` use), and the `ecs-on-partial-failure` and
`ecs-fallbacks` headers. Anything wrong ends the request with a `validate` StageFailure naming
what is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial
from typing import Any, ClassVar

import pydantic_core

from ecsp_contract.extensions import ExtraField
from ecsp_contract.failures import FailureStage, WorkerErrorCode
from ecsp_contract.placement import FALLBACKS_HEADER
from ecsp_contract.redaction import redact
from ecsp_contract.verdict import InvalidBody, ReservedTags, check_body
from worker.pipeline.alternatives import fallbacks_of
from worker.pipeline.failure import StageFailure
from worker.pipeline.identity import Identity
from worker.pipeline.port import Outcome
from worker.pipeline.state import (
    DecodedRequest,
    Parsed,
    Request,
    Step,
    Validated,
)
from worker.pipeline.tagging import OnPartialFailure
from worker.pipeline.tenant import Tenant
from worker.pipeline.turns import CpuTurns

PARTIAL_FAILURE_HEADER = "ecs-on-partial-failure"
#: A request copy is put into events only up to this size, so events stay small.
MAX_REQUEST_COPY_BYTES = 128 * 1024


@dataclass(frozen=True)
class ValidateConfig:
    """What validation needs of the configuration (meanings: the configuration table)."""

    extra_fields: tuple[ExtraField, ...] = ()
    include_request: bool = True
    on_partial_failure: OnPartialFailure = "keep"
    partial_failure_header_allowed: bool = True  # False: the operator forbids the header


@dataclass(frozen=True)
class Validate:
    """Keeps the redacted copy, then checks key, project, body and headers."""

    config: ValidateConfig
    turns: CpuTurns
    next_step: Step[Validated]
    stage: ClassVar[FailureStage] = FailureStage.VALIDATE

    async def __call__(self, request: Request[Parsed]) -> Outcome:
        validated = partial(self.validated, request)  # a redacted copy and checks: CPU work
        return await self.next_step(request.advance(await self.turns.run(validated)))

    def validated(self, request: Request[Parsed]) -> Validated:
        c, state = self.config, request.state
        value = state.message.value
        if c.include_request and value and len(value) <= MAX_REQUEST_COPY_BYTES:
            copy = pydantic_core.to_json(redact(state.document, state.ctx.settings.redact_fields))
            request.advance(replace(state, ctx=replace(state.ctx, request_copy=copy)))
            state = request.state
        checked = validate(
            state.ctx.identity,
            state.document,
            tenant=state.ctx.tenant,
            extra_fields=c.extra_fields,
        )
        on_partial_failure = partial_failure_choice(
            state.message.header(PARTIAL_FAILURE_HEADER),
            c.on_partial_failure,
            header_allowed=c.partial_failure_header_allowed,
        )
        fallbacks = fallbacks_of(state.message.header(FALLBACKS_HEADER))
        return Validated(state.ctx, state.message, checked, on_partial_failure, fallbacks)


def validate(
    identity: Identity,
    document: dict[str, Any],
    *,
    tenant: Tenant,
    extra_fields: tuple[ExtraField, ...] = (),
) -> DecodedRequest:
    """Checks key, project (one of `tenant`'s) and body; a `validate` StageFailure names what is
    wrong."""
    if identity.key is None or identity.token is None:
        raise StageFailure(
            stage=FailureStage.VALIDATE,
            code=WorkerErrorCode.MISSING_KEY,
            message="message has no key: the key (a non-empty UTF-8 string) identifies the "
            "request and makes its create idempotent",
        )
    if identity.project_id is None or identity.project_id not in tenant.projects:
        raise StageFailure(
            stage=FailureStage.VALIDATE,
            code=WorkerErrorCode.PROJECT_NOT_ALLOWED,
            message=f"project {identity.project_id!r} is not one of tenant {tenant.name}'s "
            "projects (the worker's allow-list for its topic)",
        )
    try:
        checked = check_body(document, extra_fields)
    except InvalidBody as exc:
        problems = exc.problems
        raise StageFailure(
            stage=FailureStage.VALIDATE,
            code=(
                WorkerErrorCode.RESERVED_TAG
                if isinstance(exc, ReservedTags)
                else WorkerErrorCode.INVALID_REQUEST
            ),
            message="; ".join(f"{p.path}: {p.message}" for p in problems[:5])
            + (f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""),
            details=[{"path": p.path, "message": p.message} for p in problems],
        ) from None
    return DecodedRequest(
        key=identity.key,
        token=identity.token,
        project_id=identity.project_id,
        tenant=tenant.name,
        body=checked.body,
        wire=checked.wire,
    )


def partial_failure_choice(
    header: str | None, default: OnPartialFailure, *, header_allowed: bool = True
) -> OnPartialFailure:
    """The header's choice (``keep``/``delete``, any case) or the setting; a `validate`
    StageFailure for another value, or for any header when the operator forbids it. It is what
    this message asks: the first create of the key fixes what happens (`compensate`)."""
    if header is None:
        return default
    if not header_allowed:
        raise StageFailure(
            stage=FailureStage.VALIDATE,
            code=WorkerErrorCode.INVALID_REQUEST,
            message=f"header {PARTIAL_FAILURE_HEADER} is not accepted by this worker "
            f"(ECSP_ALLOW_PARTIAL_FAILURE_HEADER=false): its setting ({default}) applies to "
            "every request",
            details=[{"path": f"headers.{PARTIAL_FAILURE_HEADER}", "message": "not accepted"}],
        )
    choice = header.strip().lower()
    if choice == "keep":
        return "keep"
    if choice == "delete":
        return "delete"
    raise StageFailure(
        stage=FailureStage.VALIDATE,
        code=WorkerErrorCode.INVALID_REQUEST,
        message=f"header {PARTIAL_FAILURE_HEADER} must be keep or delete",
        details=[{"path": f"headers.{PARTIAL_FAILURE_HEADER}", "message": "keep or delete"}],
    )
