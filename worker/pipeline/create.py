"""The create call with its safety nets: tags, earlier releases' bodies, and the token window.

Owns `create_or_find`: it sends this release's tagged body (`tagging.create_bodies`) with the
request's token, and

- on ``Ecs.0122``, sends the next body of `create_bodies`: the same tags recording the other
  partial-failure choice (the first create of the key fixed it), then exactly the bytes the
  release before the request tag sent, then those of the release before tags. A request first
  submitted by any of them gets its first answer (and job) back instead of a conflict; when all
  are refused it is a real conflict (stage ``conflict``). Only ``Ecs.0122`` moves on: the API
  answers it at once, and a real conflict costs at most four calls;
- on ``Ecs.0124``, or before the create when the record is older than the token window, looks
  the servers up by their tags (`reconcile.find_servers`): all of this request's found → a
  `Submitted` without a create (``reconciled``); any created from another body → ``conflict``;
  some of this request's, or any without a request tag → ``token_expired``; none found after
  ``Ecs.0124`` → ``token_expired``, or with ``after_token_window=recreate`` one create with a
  token derived from the old one (its own ``Ecs.0124`` is reconciled by its own tags, never
  re-created again). An old record with nothing found is still sent with its token: the API
  replays, answers ``Ecs.0124``, or creates if it never saw the token.

Why a redelivery across an upgrade never creates twice: the token is unchanged, and the body the
first create sent is among the bodies tried, so the API replays that first create.
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
    other_body_failure,
    recreate_token,
    token_expired_failure,
)
from worker.pipeline.state import DecodedRequest
from worker.pipeline.tagging import (
    OnPartialFailure,
    RequestTag,
    TaggedBody,
    create_bodies,
    deployment_tag,
    request_digest,
)

log = structlog.get_logger("worker.pipeline")

CONFLICT, TOKEN_EXPIRED = "Ecs.0122", "Ecs.0124"

AfterTokenWindow = Literal["fail", "recreate"]


class CreatingApi(ServerLister, Protocol):
    async def create_servers(
        self, body: dict[str, Any], client_token: str, project_id: str
    ) -> CreateResult: ...


@dataclass(frozen=True)
class CreateConfig:
    """What `create_or_find` needs of the configuration."""

    deployment_name: str = "ecs-provisioner"
    token_window_seconds: float = 8 * 3600.0
    after_token_window: AfterTokenWindow = "fail"  # noqa: S105 - not a secret


@dataclass(frozen=True)
class Submitted:
    """The create's result, or the servers found instead of creating (``reconciled``), and the
    request tag the created servers carry (None: the body that was accepted had none)."""

    token: str  # the token the servers carry (a re-create's differs from the request's)
    tagging: Tagging
    created: CreateResult | None = None
    reconciled: Reconciliation | None = None
    request_tag: RequestTag | None = None


@dataclass(frozen=True)
class _Lookup:
    """How the servers of a token are looked up: which deployment, which request digest."""

    api: CreatingApi
    project_id: str
    requested: int
    deployment_tag: str
    digest: str

    async def find(self, token: str) -> Reconciliation:
        found = await find_servers(
            self.api,
            self.project_id,
            token,
            self.requested,
            deployment_tag=self.deployment_tag,
            digest=self.digest,
        )
        if found.other_body:
            raise other_body_failure(found)
        return found


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
    config: CreateConfig,
    *,
    on_partial_failure: OnPartialFailure,
    record_age_seconds: float | None,
) -> Submitted:
    """Create (or find) the request's servers; raises StageFailure when it ends here."""
    token, project_id = request.token, request.project_id
    request_tag = RequestTag(request_digest(request.wire), on_partial_failure)
    bodies = create_bodies(
        body, token=token, deployment_name=config.deployment_name, request_tag=request_tag
    )
    searchable = bodies[0].tagging == "tagged" and not request.body.dry_run
    lookup = _Lookup(
        api,
        project_id,
        request.body.server.count or 1,
        deployment_tag(config.deployment_name),
        request_tag.digest,
    )
    old = record_age_seconds is not None and record_age_seconds > config.token_window_seconds
    if searchable and old:
        found = await lookup.find(token)
        if found.complete:
            return Submitted(token, "tagged", reconciled=found)
        if found.anything:
            raise token_expired_failure(
                found,
                code=WorkerErrorCode.TOKEN_WINDOW_PASSED,
                why="the record is older than the token window",
            )
    try:
        return await _create(api, bodies, token, project_id)
    except EcsApiError as exc:
        if exc.code == TOKEN_EXPIRED and searchable:
            return await _after_token_window(
                lookup, body, request_tag=request_tag, token=token, config=config, expired=exc
            )
        if exc.code == TOKEN_EXPIRED:
            raise api_failure(
                exc, note=" (the create carried no token tag, so its servers cannot be looked up)"
            ) from None
        raise api_failure(exc) from None


async def _create(
    api: CreatingApi, bodies: tuple[TaggedBody, ...], token: str, project_id: str
) -> Submitted:
    """Sends `bodies` in turn while the API answers Ecs.0122; raises the last EcsApiError."""
    *earlier, last = bodies
    for tagged in earlier:
        try:
            created = await api.create_servers(tagged.body, token, project_id)
        except EcsApiError as exc:
            if exc.code != CONFLICT:
                raise
            continue
        return _submitted(token, tagged, created, first=tagged is bodies[0])
    created = await api.create_servers(last.body, token, project_id)
    return _submitted(token, last, created, first=last is bodies[0])


def _submitted(token: str, tagged: TaggedBody, created: CreateResult, *, first: bool) -> Submitted:
    if not first:
        log.info("token known with an earlier body", tagging=tagged.tagging)
    return Submitted(token, tagged.tagging, created=created, request_tag=tagged.request_tag)


async def _after_token_window(
    lookup: _Lookup,
    body: dict[str, Any],
    *,
    request_tag: RequestTag,
    token: str,
    config: CreateConfig,
    expired: EcsApiError,
) -> Submitted:
    found = await lookup.find(token)
    if found.complete:
        return Submitted(token, "tagged", reconciled=found)
    why = "the API no longer knows the client token (Ecs.0124)"
    if found.anything or config.after_token_window != "recreate":  # noqa: S105 - not a secret
        raise token_expired_failure(
            found, code=expired.code, why=why, request_id=expired.request_id
        )
    new_token = recreate_token(token)
    retagged = create_bodies(
        body, token=new_token, deployment_name=config.deployment_name, request_tag=request_tag
    )
    try:
        recreated = await _create(lookup.api, retagged, new_token, lookup.project_id)
    except EcsApiError as exc:
        if exc.code != TOKEN_EXPIRED:
            raise api_failure(exc) from None
        again = await lookup.find(new_token)
        if again.complete:
            return Submitted(new_token, "tagged", reconciled=again)
        raise token_expired_failure(
            again, code=exc.code, why="the re-create's token has expired too", request_id=None
        ) from None
    log.warning("re-created after the token window: nothing was found by the old token's tag")
    return recreated
