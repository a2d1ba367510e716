"""Capacity-aware placement through the composed steps, over the real client and the simulator
(no broker): the `ecs-fallbacks` header, sold-out answers at create time and in the job, the
capacity memory across requests, a crash mid-fallback, quota. The broker runs are in
tests/e2e/test_placement_e2e.py.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from ecsp_contract.idempotency import client_token
from tests.support.placement_cloud import DiesFollowing, cloud, codes, token_of
from worker.pipeline.capacity_memory import CapacityMemory
from worker.pipeline.placement import Placer
from worker.simulator.knobs import Faults

CREATES = "POST /v1.1/{project_id}/cloudservers"


async def test_a_zone_sold_out_at_create_time_is_placed_in_the_next_zone() -> None:
    async with cloud(Faults(sold_out=("s6.small.1@az1",), sold_out_job_rate=0.0)) as c:
        data = await c.process(Placer(), "zone-fallback", "@az2")
        stats = await c.stats()
    assert data["server_ids"]
    assert data["placement"]["availability_zone"] == "az2"
    assert codes(data) == [("s6.small.1", "az1", "Ecs.0319"), ("s6.small.1", "az2", None)]
    assert stats["servers_by_token"] == {token_of("zone-fallback", "s6.small.1", "az2"): 2}
    assert data["client_token"] == client_token("zone-fallback")  # the request's own


async def test_a_flavor_and_zone_sold_out_in_the_job_is_placed_in_the_next_alternative() -> None:
    async with cloud(Faults(sold_out=("s6.small.1@*",), sold_out_job_rate=1.0)) as c:
        data = await c.process(Placer(), "flavor-and-zone", "@az2,c7.large.2@az3")
        stats = await c.stats()
    assert codes(data) == [
        ("s6.small.1", "az1", "Ecs.0319"),
        ("s6.small.1", "az2", "Ecs.0319"),
        ("c7.large.2", "az3", None),
    ]
    assert sorted(stats["servers_by_token"].values()) == [2, 2, 2]  # each token created once
    assert stats["jobs_by_status"] == {"FAIL": 2, "SUCCESS": 1}


async def test_every_alternative_sold_out_is_capacity_exhausted() -> None:
    async with cloud(Faults(sold_out=("*@*",), sold_out_job_rate=0.0)) as c:
        data = await c.process(Placer(), "all-sold-out", "@az2,c7@az3")
    assert (data["stage"], data["error"]["code"], data["retryable"]) == (
        "submit",
        "ECSP.CapacityExhausted",
        True,
    )
    assert [a[2] for a in codes(data)] == ["Ecs.0319"] * 3


async def test_without_the_header_no_fallback_is_invented() -> None:
    async with cloud(Faults(sold_out=("s6.small.1@az1",), sold_out_job_rate=0.0)) as c:
        data = await c.process(Placer(), "no-header", "")
        stats = await c.stats()
    assert data["error"]["code"] == "Ecs.0319"
    assert data["placement"] is None  # today's event, byte for byte
    assert stats["requests_by_operation"][CREATES] == 1


async def test_ten_requests_for_a_sold_out_offering_ask_the_api_about_it_once() -> None:
    async with cloud(Faults(sold_out=("s6.small.1@az1",), sold_out_job_rate=0.0)) as c:
        placer = Placer()
        done = await asyncio.gather(*(c.process(placer, f"burst-{i}", "@az2") for i in range(10)))
        stats = await c.stats()
    assert stats["faults_injected"]["sold_out_at_create"] == 1
    assert all(d["placement"]["availability_zone"] == "az2" for d in done)
    assert len(stats["servers_by_token"]) == 10


async def test_capacity_switched_back_on_is_used_once_the_memory_expires() -> None:
    now = [0.0]
    async with cloud(Faults(sold_out=("s6.small.1@az1",), sold_out_job_rate=0.0)) as c:
        placer = Placer(CapacityMemory(180.0), clock=lambda: now[0])
        first = await c.process(placer, "before", "@az2")
        await c.faults(sold_out=[])
        remembered = await c.process(placer, "remembered", "@az2")
        now[0] = 181.0
        back = await c.process(placer, "after", "@az2")
    assert first["placement"]["availability_zone"] == "az2"
    assert remembered["placement"]["availability_zone"] == "az2"
    assert [s["reason"] for s in remembered["placement"]["skipped"]] == ["sold_out_recently"]
    assert back["placement"]["availability_zone"] == "az1"


async def test_a_crash_mid_fallback_then_a_redelivery_creates_no_token_twice() -> None:
    async with cloud(Faults(sold_out=("s6.small.1@az1",), sold_out_job_rate=1.0)) as c:
        following = asyncio.Event()
        dying = DiesFollowing(c.client, token_of("crash", "s6.small.1", "az2"), following)
        first_pod = asyncio.create_task(c.process(Placer(), "crash", "@az2,@az3", api=dying))
        await following.wait()  # alternative 0 failed sold out in its job, 1 was accepted
        first_pod.cancel()  # the pod is killed while following alternative 1
        with pytest.raises(asyncio.CancelledError):
            await first_pod
        data = await c.process(Placer(), "crash", "@az2,@az3")  # the redelivery
        stats = await c.stats()
    # the redelivery found az2's servers by tag and resumed there: its first job came back
    assert codes(data) == [("s6.small.1", "az2", None)]
    assert stats["replays"] == 1
    assert sorted(stats["servers_by_token"].values()) == [2, 2]  # each token created once


async def test_a_quota_answer_fails_at_once_without_trying_further_alternatives() -> None:
    faults = Faults(sold_out=("s6.small.1@az1",), quota_exceeded=("c7.8xlarge.2@*",))
    async with cloud(replace(faults, sold_out_job_rate=0.0)) as c:
        data = await c.process(Placer(), "quota", "c7.8xlarge.2@az2,c6.large.2@az3")
        stats = await c.stats()
    assert (data["stage"], data["error"]["code"], data["retryable"]) == (
        "submit",
        "Ecs.0001",
        False,
    )
    assert [a[2] for a in codes(data)] == ["Ecs.0319", "Ecs.0001"]
    assert stats["requests_by_operation"][CREATES] == 2
