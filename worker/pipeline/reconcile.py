"""Finding a request's servers by their client-token tag once the API no longer knows the token.

Owns `find_servers` (every server the token tag finds, through the paged server list),
`Reconciliation` (are all requested servers there?), `recreate_token` (the token of the one
re-create `ECSP_AFTER_TOKEN_WINDOW=recreate` allows) and `token_expired_failure`.

A server counts towards the requested number unless its status is ``ERROR``; deleted servers are
not listed by the API at all. Nothing here creates anything: a re-create is decided by the
caller and only when nothing at all was found.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from ecsp_contract.events import ServerInfo
from ecsp_contract.failures import FailureStage
from worker.ecs.servers import ServerLister, ServerQuery, list_all_servers
from worker.pipeline.failure import StageFailure
from worker.pipeline.tagging import token_tag

UNUSABLE_STATUSES = frozenset({"ERROR"})
_RECREATE_NAME = "ecs-provisioner:recreate-after-token-window"


@dataclass(frozen=True)
class Reconciliation:
    """The servers found for a token, against the number the request asked for."""

    token: str
    requested: int
    servers: tuple[ServerInfo, ...]

    @property
    def complete(self) -> bool:
        usable = [s for s in self.servers if s.status not in UNUSABLE_STATUSES]
        return len(usable) >= self.requested

    @property
    def server_ids(self) -> tuple[str, ...]:
        return tuple(server.server_id for server in self.servers)

    def summary(self) -> str:
        states = ", ".join(f"{s.server_id} {s.status}" for s in self.servers) or "none"
        return f"found {len(self.servers)} of {self.requested} servers by tag ({states})"


async def find_servers(
    lister: ServerLister, project_id: str, token: str, requested: int
) -> Reconciliation:
    """Every server tagged with ``token`` in the project (sorted by id, for stable events)."""
    found = await list_all_servers(lister, project_id, ServerQuery(tags=token_tag(token)))
    servers = tuple(
        ServerInfo(server_id=s.server_id, name=s.name, status=s.status)
        for s in sorted(found, key=lambda s: s.server_id)
    )
    return Reconciliation(token=token, requested=requested, servers=servers)


def recreate_token(token: str) -> str:
    """The token of the re-create: derived from the old one, the same on every redelivery."""
    return str(uuid.uuid5(uuid.UUID(token), _RECREATE_NAME))


def token_expired_failure(
    found: Reconciliation, *, code: str, why: str, request_id: str | None = None
) -> StageFailure:
    """A ``token_expired`` failure naming what the tag found (possibly nothing)."""
    return StageFailure(
        stage=FailureStage.TOKEN_EXPIRED,
        code=code,
        message=f"{why}; {found.summary()}; nothing was created",
        request_id=request_id,
        server_ids=found.server_ids,
        servers=found.servers,
    )
