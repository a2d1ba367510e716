"""The create call with its safety nets: tags, the pre-tagging body, and the token window.

Owns `create_or_find`: it sends the tagged body (`tagging.tag_body`) with the request's token, and

- on ``Ecs.0122`` with the tagged body, sends the untagged body: exactly the bytes a release
  without tags sent, so a request first submitted before the upgrade gets its first answer (and
  job) back instead of a conflict; a real conflict stays ``Ecs.0122`` (stage ``conflict``);
- on ``Ecs.0124``, or before the create when the record is older than the token window, looks
  the servers up by their token tag: all found → a `Submitted` without a create
  (``reconciled``); some found → ``token_expired``; none found after ``Ecs.0124`` →
  ``token_expired``, or with ``after_token_window=recreate`` one create with a token derived from
  the old one (its own ``Ecs.0124`` is reconciled by its own tag, never re-created again). An old
  record with nothing found is still sent with its token: the API replays, answers ``Ecs.0124``,
  or creates if it never saw the token.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol

import structlog

from ecsp_contract.events import Tagging
from ecsp_contract.failures import STAGE_OF_API_CODE, FailureStage, WorkerErrorCode
from worker.ecs.errors import EcsApiError
from worker.ecs.models import CreateResult
from worker.ecs.servers import ServerLister
from worker.pipeline.api_errors import error_code
from worker.pipeline.failure import StageFailure
from worker.pipeline.reconcile import (
    Reconciliation,
    find_servers,
    recreate_token,
    token_expired_failure,
)
from worker.pipeline.state import DecodedRequest
from worker.pipeline.tagging import tag_body

log = structlog.get_logger("worker.pipeline")

CONFLICT, TOKEN_EXPIRED = "Ecs.0122", "Ecs.0124"

AfterTokenWindow = Literal["fail", "recreate"]


class CreatingApi(ServerLister, Protocol):
    async def create_servers(
        self, body: dict[str, Any], client_token: str, project_id: str
    ) -> CreateResult: ...


@dataclass(frozen=True)
class CreatePolicy:
    """What `create_or_find` needs of the configuration."""

    deployment_name: str = "ecs-provisioner"
    token_window_seconds: float = 8 * 3600.0
    after_token_window: AfterTokenWindow = "fail"  # noqa: S105 - not a secret


@dataclass(frozen=True)
class Submitted:
    """The create's result, or the servers found instead of creating (``reconciled``)."""

    token: str  # the token the servers carry (a re-create's differs from the request's)
    tagging: Tagging
    created: CreateResult | None = None
    reconciled: Reconciliation | None = None


def api_failure(exc: EcsApiError, *, note: str = "") -> StageFailure:
    """The failure of a create the API refused (Ecs.0122 → conflict, Ecs.0124 → token_expired)."""
    code = error_code(exc)
    return StageFailure(
        stage=STAGE_OF_API_CODE.get(code, FailureStage.SUBMIT),
        code=code,
        message=exc.message + note,
        retryable=exc.retryable and code not in STAGE_OF_API_CODE,
        http_status=exc.http_status,
        request_id=exc.request_id,
        details=exc.details,
    )


async def create_or_find(
    api: CreatingApi,
    request: DecodedRequest,
    body: dict[str, Any],
    policy: CreatePolicy,
    *,
    record_age_seconds: float | None,
) -> Submitted:
    """Create (or find) the request's servers; raises StageFailure when it ends here."""
    token, project_id = request.token, request.project_id
    requested = request.body.server.count or 1
    tagged = tag_body(body, token=token, deployment_name=policy.deployment_name)
    searchable = tagged.tagging == "tagged" and not request.body.dry_run
    old = record_age_seconds is not None and record_age_seconds > policy.token_window_seconds
    if searchable and old:
        found = await find_servers(api, project_id, token, requested)
        if found.complete:
            return Submitted(token, "tagged", reconciled=found)
        if found.servers:
            raise token_expired_failure(
                found,
                code=WorkerErrorCode.TOKEN_WINDOW_PASSED,
                why="the record is older than the token window",
            )
    try:
        created = await api.create_servers(tagged.body, token, project_id)
        return Submitted(token, tagged.tagging, created=created)
    except EcsApiError as exc:
        if exc.code == CONFLICT and tagged.tagging == "tagged":
            return await _untagged(api, body, token, project_id)
        if exc.code == TOKEN_EXPIRED and searchable:
            return await _after_token_window(api, body, request, policy, exc)
        if exc.code == TOKEN_EXPIRED:
            raise api_failure(
                exc, note=" (the create carried no token tag, so its servers cannot be looked up)"
            ) from None
        raise api_failure(exc) from None


async def _untagged(api: CreatingApi, body: dict[str, Any], token: str, project: str) -> Submitted:
    """The body a release without tags sent: its first answer comes back if it was that one."""
    try:
        created = await api.create_servers(body, token, project)
    except EcsApiError as exc:
        raise api_failure(exc) from None
    log.info("token known with the untagged body: first submitted by a release without tags")
    return Submitted(token, "first_submitted_untagged", created=created)


async def _after_token_window(
    api: CreatingApi,
    body: dict[str, Any],
    request: DecodedRequest,
    policy: CreatePolicy,
    expired: EcsApiError,
) -> Submitted:
    project_id, requested = request.project_id, request.body.server.count or 1
    found = await find_servers(api, project_id, request.token, requested)
    if found.complete:
        return Submitted(request.token, "tagged", reconciled=found)
    why = "the API no longer knows the client token (Ecs.0124)"
    if found.servers or policy.after_token_window != "recreate":  # noqa: S105 - not a secret
        raise token_expired_failure(
            found, code=expired.code, why=why, request_id=expired.request_id
        )
    new_token = recreate_token(request.token)
    retagged = tag_body(body, token=new_token, deployment_name=policy.deployment_name)
    try:
        created = await api.create_servers(retagged.body, new_token, project_id)
    except EcsApiError as exc:
        if exc.code != TOKEN_EXPIRED:
            raise api_failure(exc) from None
        again = await find_servers(api, project_id, new_token, requested)
        if again.complete:
            return Submitted(new_token, "tagged", reconciled=again)
        raise token_expired_failure(
            again, code=exc.code, why="the re-create's token has expired too", request_id=None
        ) from None
    log.warning("re-created after the token window: nothing was found by the old token's tag")
    return Submitted(new_token, "tagged", created=created)
