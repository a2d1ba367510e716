"""Filters and paging of the server list (ListServersDetails), independent of any caller.

Owns `ServerQuery` (the API's filter parameters, by their wire names) and `list_all_servers`,
which walks the pages with ``marker`` (the id of the last server of the previous page: the
API's recommended paging; ``offset`` is a deprecated page number) until a short page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from worker.ecs.models import ServerPage, ServerSummary

MAX_PAGE_SIZE = 1000  # the API's largest `limit`


@dataclass(frozen=True)
class ServerQuery:
    """Filters of ``GET /v1/{project_id}/cloudservers/detail``; None means "not filtered".

    ``tags``: servers carrying this tag (``key=value``, or a key); ``not_tags``: servers without
    this tag key; ``name`` is a fuzzy match; ``status`` e.g. ACTIVE; ``reservation_id`` the id a
    batch create returned.
    """

    tags: str | None = None
    not_tags: str | None = None
    name: str | None = None
    status: str | None = None
    flavor: str | None = None
    ip: str | None = None
    reservation_id: str | None = None
    enterprise_project_id: str | None = None

    def params(self) -> list[tuple[str, str]]:
        """The query parameters, by their wire names, in a fixed order."""
        wire = {
            "tags": self.tags,
            "not-tags": self.not_tags,
            "name": self.name,
            "status": self.status,
            "flavor": self.flavor,
            "ip": self.ip,
            "reservation_id": self.reservation_id,
            "enterprise_project_id": self.enterprise_project_id,
        }
        return [(name, value) for name, value in wire.items() if value is not None]


class ServerLister(Protocol):
    async def list_servers(
        self, project_id: str, query: ServerQuery, *, limit: int, marker: str | None = None
    ) -> ServerPage: ...


async def list_all_servers(
    lister: ServerLister, project_id: str, query: ServerQuery, *, page_size: int = MAX_PAGE_SIZE
) -> tuple[ServerSummary, ...]:
    """Every server matching ``query``, page after page (each page one API call)."""
    found: dict[str, ServerSummary] = {}
    marker: str | None = None
    while True:
        page = await lister.list_servers(project_id, query, limit=page_size, marker=marker)
        for server in page.servers:
            found.setdefault(server.server_id, server)
        if len(page.servers) < page_size or page.servers[-1].server_id == marker:
            return tuple(found.values())
        marker = page.servers[-1].server_id
