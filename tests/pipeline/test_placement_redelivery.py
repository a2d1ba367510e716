"""A redelivered request with `ecs-fallbacks` resumes in the placement an earlier delivery
created, never in a second one (found by the reliability run with capacity switched on and off:
41 of 148 such requests ended with servers in two or three placements).

An earlier delivery may have moved past a placement on grounds a new plan does not see: a create
refused at once (the API does not remember a refused create with its token) or a skip from that
pod's capacity memory. If capacity came back there, a fresh plan would create it; so the place
step looks every placement up by its token tag first and resumes where servers are. Against the
simulator through the real client, no broker; the second pod is a fresh `Placer`.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.support.pipeline import body, message, pipeline_for, settings
from tests.support.placement_cloud import Cloud, DiesFollowing, cloud, codes, token_of
from tests.support.scripted_api import ACCEPTED, ScriptedApi, job
from worker.ecs.errors import unavailable_error
from worker.ecs.models import ServerPage
from worker.ecs.servers import ServerQuery
from worker.pipeline.capacity_memory import CapacityMemory
from worker.pipeline.placement import Placer
from worker.simulator.knobs import Faults

LIST = "GET /v1/{project_id}/cloudservers/detail"


async def _dies_following_the_alternative(c: Cloud, placer: Placer, key: str) -> None:
    """The pod processes `key` (body in az1, fallback az2) and dies following az2's job."""
    following = asyncio.Event()
    dying = DiesFollowing(c.client, token_of(key, "s6.small.1", "az2"), following)
    pod = asyncio.create_task(c.process(placer, key, "@az2", api=dying))
    await following.wait()
    pod.cancel()
    with pytest.raises(asyncio.CancelledError):
        await pod


async def test_capacity_back_for_a_placement_refused_at_create_time_then_a_redelivery() -> None:
    async with cloud(Faults(sold_out=("s6.small.1@az1",), sold_out_job_rate=0.0)) as c:
        await _dies_following_the_alternative(c, Placer(), "refused")
        await c.faults(sold_out=[])  # capacity is back in az1
        data = await c.process(Placer(), "refused", "@az2")  # the redelivery, another pod
        stats = await c.stats()
    # the request's servers are where the first delivery created them, and only there
    assert stats["servers_by_token"] == {token_of("refused", "s6.small.1", "az2"): 2}
    assert codes(data) == [("s6.small.1", "az2", None)]  # resumed: az1 is not asked again
    assert stats["faults_injected"]["sold_out_at_create"] == 1
    assert stats["replays"] == 1


async def test_a_placement_skipped_from_the_memory_then_a_redelivery() -> None:
    async with cloud(Faults(sold_out=("s6.small.1@az1",), sold_out_job_rate=0.0)) as c:
        placer = Placer(CapacityMemory())
        await c.process(placer, "teaches-the-memory", "@az2")  # az1: sold out, remembered
        await c.faults(sold_out=[])  # capacity is back; this pod does not know yet
        await _dies_following_the_alternative(c, placer, "skipped")
        data = await c.process(Placer(), "skipped", "@az2")  # the redelivery, another pod
        stats = await c.stats()
    assert stats["servers_by_token"] == {
        token_of("teaches-the-memory", "s6.small.1", "az2"): 2,
        token_of("skipped", "s6.small.1", "az2"): 2,
    }
    assert data["placement"]["availability_zone"] == "az2"


async def test_a_finished_request_redelivered_after_capacity_came_back_is_answered_again() -> None:
    """The common case: the event was published, the offset not yet committed (a crash, a
    rebalance) or the key published again; the same job and servers, not a new create."""
    async with cloud(Faults(sold_out=("s6.small.1@az1",), sold_out_job_rate=0.0)) as c:
        first = await c.process(Placer(), "finished", "@az2")
        await c.faults(sold_out=[])
        again = await c.process(Placer(), "finished", "@az2")
        stats = await c.stats()
    assert (again["job_id"], again["server_ids"]) == (first["job_id"], first["server_ids"])
    assert stats["servers_by_token"] == {token_of("finished", "s6.small.1", "az2"): 2}


async def test_a_placement_remembered_sold_out_is_still_resumed_when_it_has_the_servers() -> None:
    """Resuming ignores the memory: another request saw the offering sold out since, but this
    request's servers are there."""
    async with cloud(Faults(sold_out_job_rate=0.0)) as c:
        first = await c.process(Placer(), "own-placement", "@az2")  # az1 had capacity
        await c.faults(sold_out=["s6.small.1@az1"])
        placer = Placer(CapacityMemory())
        await c.process(placer, "other", "@az2")  # teaches this pod: az1 sold out
        again = await c.process(placer, "own-placement", "@az2")
        stats = await c.stats()
    assert codes(first) == [("s6.small.1", "az1", None)]
    assert again["job_id"] == first["job_id"]
    assert codes(again) == [("s6.small.1", "az1", None)]
    assert stats["faults_injected"]["sold_out_at_create"] == 1  # "other"'s, not a new create


async def test_the_lookup_costs_one_server_list_per_placement_and_none_without_the_header() -> None:
    async with cloud(Faults(sold_out_job_rate=0.0)) as c:
        await c.process(Placer(), "plain", "")
        plain = (await c.stats())["requests_by_operation"].get(LIST, 0)
        await c.process(Placer(), "three-placements", "@az2,c7.large.2@az3")
        with_header = (await c.stats())["requests_by_operation"].get(LIST, 0)
    assert (plain, with_header) == (0, 3)


class ListsAfterAnOutage(ScriptedApi):
    """The server list answers 'unavailable' (breaker open) until the API is back."""

    def __init__(self) -> None:
        super().__init__(ACCEPTED, [job("SUCCESS", ("SUCCESS", ACCEPTED.server_ids[0]))])
        self.lists = 0
        self.back = False

    async def list_servers(
        self, project_id: str, query: ServerQuery, *, limit: int, marker: str | None = None
    ) -> ServerPage:
        self.lists += 1
        if not self.back:
            raise unavailable_error("ECS API circuit open")
        return await super().list_servers(project_id, query, limit=limit, marker=marker)

    async def wait_available(self, within: float) -> bool:
        self.waits.append(within)
        self.back = True
        return True


async def test_during_an_outage_the_lookup_waits_for_the_api_and_the_request_goes_on() -> None:
    api = ListsAfterAnOutage()
    record = message(body(), headers=(("ecs-fallbacks", b"@az2-dc1"),))
    event = await pipeline_for(settings(), api).process(record)
    data: dict[str, Any] = event.data
    assert event.type == "ecs.provisioning.succeeded", data
    assert len(api.waits) == 1
    assert api.lists == 4  # both placements looked up in vain, then again once it was back
    assert len(api.bodies) == 1
