"""Server-list and delete methods for scripted APIs whose tests create nothing to find again."""

from __future__ import annotations

from collections.abc import Sequence

from worker.ecs.models import ServerPage
from worker.ecs.servers import ServerQuery


class NoServersListed:
    """The server list is empty (a record older than the token window finds nothing by tag and
    is sent with its token, as before); deleting is not expected."""

    async def list_servers(
        self, project_id: str, query: ServerQuery, *, limit: int, marker: str | None = None
    ) -> ServerPage:
        return ServerPage(count=0, servers=())

    async def delete_servers(
        self,
        project_id: str,
        server_ids: Sequence[str],
        *,
        delete_publicip: bool,
        delete_volume: bool,
    ) -> str:
        raise AssertionError("this test expects no delete")
