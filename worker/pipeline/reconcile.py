"""Finding a request's servers by their tags once the API no longer knows the token.

Owns `find_servers` (every server the token tag finds, through the paged server list, sorted
into this request's and the rest), `Reconciliation`, `recreate_token` (the token of the one
re-create `ECSP_AFTER_TOKEN_WINDOW=recreate` allows) and the two failures a lookup can end in:
`token_expired_failure` and `other_body_failure` (stage ``conflict``).

A token tag alone proves nothing: until `ecsp_contract.reserved` refused them, a publisher
could write it. A server counts as this request's only when it carries this deployment's tag
and the request tag with this request's digest (`tagging.RequestTag`). Among the servers the
token tag finds,

- with the deployment's tag and another digest: the key was used for another body, which the
  API answers ``Ecs.0122`` inside the window; after it the answer is the same conflict;
- with the deployment's tag and no request tag: created by a release before the request tag
  (or, then, forged): `unverified`. They are listed in a ``token_expired`` failure but never
  taken as the request's servers; a publisher who knows they are can use a new key.
- without the deployment's tag: another deployment's (or forged), ignored.

A server counts towards the requested number unless its status is ``ERROR``; deleted servers are
not listed by the API at all. Nothing here creates anything: a re-create is decided by the
caller and only when nothing of this deployment was found.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from ecsp_contract.events import ServerInfo
from ecsp_contract.failures import FailureStage, WorkerErrorCode
from worker.ecs.models import ServerSummary
from worker.ecs.servers import ServerLister, ServerQuery, list_all_servers
from worker.pipeline.failure import StageFailure
from worker.pipeline.tagging import RequestTag, token_tag

UNUSABLE_STATUSES = frozenset({"ERROR"})
_RECREATE_NAME = "ecs-provisioner:recreate-after-token-window"


@dataclass(frozen=True)
class Reconciliation:
    """The servers found for a token: this request's (`servers`), against the number it asked
    for, and the deployment's others (`unverified`: no request tag; `other_body`)."""

    token: str
    requested: int
    servers: tuple[ServerInfo, ...]
    unverified: tuple[ServerInfo, ...] = ()
    other_body: tuple[ServerInfo, ...] = ()

    @property
    def complete(self) -> bool:
        usable = [s for s in self.servers if s.status not in UNUSABLE_STATUSES]
        return len(usable) >= self.requested

    @property
    def listed(self) -> tuple[ServerInfo, ...]:
        """What a failure lists: this request's servers, then the unverified ones."""
        return self.servers + self.unverified

    @property
    def anything(self) -> bool:
        return bool(self.servers or self.unverified or self.other_body)

    def summary(self) -> str:
        states = ", ".join(f"{s.server_id} {s.status}" for s in self.servers) or "none"
        text = f"found {len(self.servers)} of {self.requested} servers by tag ({states})"
        if self.unverified:
            text += (
                f", and {len(self.unverified)} with the token tag but no ecsp-request tag "
                "(created before that tag existed): not taken as this request's"
            )
        return text


def _info(server: ServerSummary) -> ServerInfo:
    return ServerInfo(server_id=server.server_id, name=server.name, status=server.status)


async def find_servers(
    lister: ServerLister,
    project_id: str,
    token: str,
    requested: int,
    *,
    deployment_tag: str,
    digest: str,
) -> Reconciliation:
    """The servers tagged with ``token`` in the project, sorted by id (stable events) into this
    request's (``deployment_tag`` and a request tag with ``digest``) and the rest."""
    found = await list_all_servers(lister, project_id, ServerQuery(tags=token_tag(token)))
    ours: list[ServerInfo] = []
    unverified: list[ServerInfo] = []
    other_body: list[ServerInfo] = []
    for server in sorted(found, key=lambda s: s.server_id):
        if deployment_tag not in server.tags:
            continue
        request_tag = RequestTag.of(server.tags)
        if request_tag is None:
            unverified.append(_info(server))
        elif request_tag.digest == digest:
            ours.append(_info(server))
        else:
            other_body.append(_info(server))
    return Reconciliation(token, requested, tuple(ours), tuple(unverified), tuple(other_body))


def recreate_token(token: str) -> str:
    """The token of the re-create: derived from the old one, the same on every redelivery."""
    return str(uuid.uuid5(uuid.UUID(token), _RECREATE_NAME))


def token_expired_failure(
    found: Reconciliation, *, code: str, why: str, request_id: str | None = None
) -> StageFailure:
    """A ``token_expired`` failure naming what the tags found (possibly nothing)."""
    return StageFailure(
        stage=FailureStage.TOKEN_EXPIRED,
        code=code,
        message=f"{why}; {found.summary()}; nothing was created",
        request_id=request_id,
        server_ids=tuple(s.server_id for s in found.listed),
        servers=found.listed,
    )


def other_body_failure(found: Reconciliation) -> StageFailure:
    """The key's servers were created from another body: a conflict, as ``Ecs.0122`` is (their
    ids are not named: the other body may be someone else's request)."""
    return StageFailure(
        stage=FailureStage.CONFLICT,
        code=WorkerErrorCode.OTHER_BODY,
        message=f"{len(found.other_body)} server(s) carrying this key's client-token tag were "
        "created from another body: the key was used before for another request; nothing was "
        "created",
    )
