"""EcsClient.list_servers / delete_servers and list_all_servers over HTTP against the simulator."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from tests.support.bodies import server_body
from tests.support.ecs_sim import PROJECT, new_token, simulator, wait_final
from worker.ecs.errors import EcsApiError
from worker.ecs.models import ServerPage, ServerSummary
from worker.ecs.servers import ServerQuery, list_all_servers


async def test_list_by_tag_across_pages_then_delete_and_follow_the_job() -> None:
    async with simulator() as sim:
        client = sim.client()
        tag = {"key": "owner", "value": "t-1"}
        created = await client.create_servers(
            server_body(count=5, server_tags=[tag]), new_token(), PROJECT
        )
        await client.create_servers(server_body(count=2), new_token(), PROJECT)
        assert created.job_id is not None
        await wait_final(client, created.job_id)

        query = ServerQuery(tags="owner=t-1")
        page = await client.list_servers(PROJECT, query, limit=2)
        assert page.count == 5
        assert len(page.servers) == 2
        found = await list_all_servers(client, PROJECT, query, page_size=2)
        assert sorted(s.server_id for s in found) == sorted(created.server_ids)
        assert {(s.status, s.task_state, s.tags) for s in found} == {
            ("ACTIVE", None, ("owner=t-1",))
        }

        job_id = await client.delete_servers(
            PROJECT, created.server_ids[:2], delete_publicip=True, delete_volume=False
        )
        job = await wait_final(client, job_id)
        assert job.status == "SUCCESS"
        assert set(job.server_ids) == set(created.server_ids[:2])
        remaining = await list_all_servers(client, PROJECT, query)
        assert len(remaining) == 3
        stats = await sim.stats()
        assert stats["deletes"] == 2


async def test_list_rejects_a_bad_limit_locally_and_the_api_a_bad_marker() -> None:
    async with simulator() as sim:
        client = sim.client()
        with pytest.raises(ValueError):
            await client.list_servers(PROJECT, ServerQuery(), limit=0)
        with pytest.raises(EcsApiError) as caught:
            await client.list_servers(PROJECT, ServerQuery(), limit=10, marker="nope")
        assert caught.value.code == "Ecs.0005"


def test_query_params_use_the_wire_names_in_a_fixed_order() -> None:
    query = ServerQuery(not_tags="a", tags="b=c", status="ACTIVE")
    assert query.params() == [("tags", "b=c"), ("not-tags", "a"), ("status", "ACTIVE")]


@dataclass
class _Pages:
    """A lister that answers fixed pages and records the markers it was asked for."""

    pages: list[tuple[str, ...]]
    markers: list[str | None] = field(default_factory=list)

    async def list_servers(
        self, project_id: str, query: ServerQuery, *, limit: int, marker: str | None = None
    ) -> ServerPage:
        self.markers.append(marker)
        ids = self.pages[len(self.markers) - 1]
        servers = tuple(ServerSummary(i, None, "ACTIVE", None, ()) for i in ids)
        return ServerPage(count=sum(map(len, self.pages)), servers=servers)


async def test_list_all_follows_markers_until_a_short_page() -> None:
    lister = _Pages([("a", "b"), ("c", "d"), ("e",)])
    found = await list_all_servers(lister, PROJECT, ServerQuery(), page_size=2)
    assert [s.server_id for s in found] == ["a", "b", "c", "d", "e"]
    assert lister.markers == [None, "b", "d"]


async def test_list_all_stops_when_an_api_repeats_the_marker_page() -> None:
    lister = _Pages([("a", "b"), ("a", "b")])
    found = await list_all_servers(lister, PROJECT, ServerQuery(), page_size=2)
    assert [s.server_id for s in found] == ["a", "b"]
