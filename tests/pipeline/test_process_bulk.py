"""Which jobs the pipeline hands to the bulk follower, and that a woken job is read only then.

Tagged jobs are woken by the server list (one job read at the end); untagged ones (no room for
the tags) and unpaid orders stay on the per-job schedule and never wait for a listing.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from tests.support.pipeline import PROJECT, body, message, pipeline_for, settings
from tests.support.scripted_api import ACCEPTED, ScriptedApi, job
from worker.ecs.models import JobStatus, ServerPage, ServerSummary
from worker.ecs.servers import ServerQuery
from worker.pipeline.bulk_follow import BulkFollowConfig, BulkFollower
from worker.pipeline.secrets import SecretSource

CONFIG = BulkFollowConfig(
    deployment_tag="ecs-provisioner", interval_seconds=0.01, safety_net_seconds=60.0,
    unseen_seconds=60.0,
)  # fmt: skip


@dataclass
class BuildingLister:
    """Lists the request's server as BUILD for `building_listings` listings, then nothing."""

    api: ScriptedApi
    building_listings: int
    queries: list[tuple[str, ServerQuery, int, str | None]] = field(default_factory=list)

    async def list_servers(
        self, project_id: str, query: ServerQuery, *, limit: int, marker: str | None = None
    ) -> ServerPage:
        self.queries.append((project_id, query, limit, marker))
        if len(self.queries) > self.building_listings:
            return ServerPage(0, ())
        tags = (f"ecsp-client-token={self.api.tokens[-1]}",)
        return ServerPage(1, (ServerSummary("s1", "web", "BUILD", None, tags),))


class CountingApi(ScriptedApi):
    """Remembers how many listings had happened at each job read."""

    lister: BuildingLister | None = None
    listings_at_reads: list[int]

    async def get_job(self, job_id: str, project_id: str) -> JobStatus:
        assert self.lister is not None
        self.listings_at_reads.append(len(self.lister.queries))
        return await super().get_job(job_id, project_id)


def counting_api() -> tuple[CountingApi, BuildingLister]:
    api = CountingApi(ACCEPTED, [job("SUCCESS", ("SUCCESS", "s1"))])
    api.listings_at_reads = []
    lister = BuildingLister(api, building_listings=3)
    api.lister = lister
    return api, lister


async def process(api: ScriptedApi, lister: BuildingLister, value: bytes) -> Any:
    s = settings()
    follower = BulkFollower(lister, CONFIG)
    pipeline = pipeline_for(s, api, secrets=SecretSource("", None), follower=follower)
    try:
        return await asyncio.wait_for(pipeline.process(message(value), None), 10)
    finally:
        await follower.close()


async def test_a_tagged_job_is_read_once_when_its_servers_left_build() -> None:
    api, lister = counting_api()
    event = await process(api, lister, body())
    assert event.type == "ecs.provisioning.succeeded"
    assert api.listings_at_reads == [4]  # seen building 3 times, gone in the 4th: one read
    query = ServerQuery(tags="ecsp-deployment=ecs-provisioner", status="BUILD")
    assert lister.queries == [(PROJECT, query, 1000, None)] * 4


async def test_a_job_without_room_for_the_tags_follows_the_per_job_schedule() -> None:
    api, lister = counting_api()
    full = [{"key": f"k{i}", "value": "v"} for i in range(9)]
    event = await process(api, lister, body(server_tags=full))
    assert event.type == "ecs.provisioning.succeeded"
    assert event.data["tagging"] == "no_room"
    assert api.listings_at_reads == [0]  # read on its own schedule; nothing listed


async def test_an_unpaid_order_follows_the_per_job_schedule() -> None:
    api, lister = counting_api()
    document = json.loads(body())
    document["server"]["extendparam"]["isAutoPay"] = "false"
    event = await process(api, lister, json.dumps(document).encode())
    assert event.type == "ecs.provisioning.succeeded"
    assert api.listings_at_reads == [0]
