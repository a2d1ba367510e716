"""Placer.place over the real ECS client against the simulator, composed the way the pipeline
step will compose it: `submit` (tags, token window) with the alternative's token and body as the
create, `follow_job` as the follow. No broker: what needs the pipeline wiring is listed in
docs/placement.md.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from ecsp_contract.failures import FailureStage, WorkerErrorCode
from ecsp_contract.idempotency import client_token
from ecsp_contract.placement import parse_fallbacks
from ecsp_contract.verdict import check_body
from tests.support.bodies import server_body
from worker.ecs.auth import AkSkAuth
from worker.ecs.client import EcsClient, EcsClientSettings
from worker.ecs.credentials import Credential
from worker.ecs.models import JobStatus
from worker.ecs.ratelimit import TokenBucket
from worker.ecs.retry import RetryPolicy
from worker.pipeline.alternatives import Alternative, alternatives
from worker.pipeline.decode import DecodedRequest
from worker.pipeline.failure import StageFailure
from worker.pipeline.follow import PollSchedule, follow_job
from worker.pipeline.placement import Placed, Placer
from worker.pipeline.submit import SubmitPolicy, Submitted, submit
from worker.simulator.config import Faults, SimulatorConfig
from worker.simulator.server import running_simulator

AK, SK = "PLACEAK0000000000001", "place-secret-key-1"
PROJECT = "0123456789abcdef0123456789abcdef"
FAST = RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.02, deadline=10)
POLL = PollSchedule(initial=0.01, factor=1.0, cap=0.01)


@dataclass
class Cloud:
    """The simulator, a client of it, and the create/follow of one request's placements."""

    client: EcsClient
    session: aiohttp.ClientSession
    base_url: str

    def request(self, key: str, count: int = 2) -> DecodedRequest:
        checked = check_body(server_body(count=count, availability_zone="az1"), ())
        return DecodedRequest(key, client_token(key), PROJECT, checked.body, checked.wire)

    async def place(
        self,
        placer: Placer,
        request: DecodedRequest,
        header: str,
        die_following: tuple[int, asyncio.Event] | None = None,
    ) -> Placed[JobStatus]:
        """Places `request`; with `die_following` (index, event) the pod "dies" (hangs, to be
        cancelled) once it follows that alternative's job, after setting the event."""
        found = alternatives(request.wire, request.token, parse_fallbacks(header))

        async def create(alternative: Alternative) -> Submitted:
            asked = dataclasses.replace(request, token=alternative.token)
            body = alternative.body_of(request.wire)
            return await submit(self.client, asked, body, SubmitPolicy(), record_age_seconds=0.0)

        async def follow_created(alternative: Alternative, submitted: Submitted) -> JobStatus:
            created = submitted.created
            assert created is not None
            assert created.job_id is not None
            if die_following is not None and die_following[0] == alternative.index:
                die_following[1].set()
                await asyncio.Event().wait()

            async def no_payment(job: JobStatus) -> None:
                return None

            return await follow_job(
                self.client,
                job_id=created.job_id,
                order_id=created.order_id,
                server_ids=created.server_ids,
                project_id=PROJECT,
                schedule=POLL,
                deadline=time.monotonic() + 10,
                on_awaiting_payment=no_payment,
            )

        return await placer.place(found, create=create, follow=follow_created)

    async def faults(self, **faults: Any) -> None:
        async with self.session.post(f"{self.base_url}/_sim/faults", json=faults) as response:
            assert response.status == 200, await response.text()

    async def stats(self) -> dict[str, Any]:
        async with self.session.get(f"{self.base_url}/_sim/stats") as response:
            result: dict[str, Any] = await response.json()
            return result


@asynccontextmanager
async def cloud(faults: Faults) -> AsyncIterator[Cloud]:
    config = SimulatorConfig(credentials={AK: SK}, job_seconds=(0.0, 0.0), seed=11, faults=faults)
    async with running_simulator(config) as base_url, aiohttp.ClientSession() as session:
        settings = EcsClientSettings(endpoint=base_url, request_timeout=5.0, retry=FAST)
        client = EcsClient(session, settings, AkSkAuth(Credential(AK, SK)), TokenBucket(rate=0))
        yield Cloud(client, session, base_url)


def _codes(placed: Placed[JobStatus]) -> list[tuple[str, str | None, str | None]]:
    return [(a.flavorRef, a.availability_zone, a.code) for a in placed.placement.attempts]


async def test_a_zone_sold_out_at_create_time_is_placed_in_the_next_zone() -> None:
    async with cloud(Faults(sold_out=("s6.small.1@az1",), sold_out_job_rate=0.0)) as c:
        request = c.request("zone-fallback")
        placed = await c.place(Placer(), request, "@az2")
        stats = await c.stats()
    assert placed.result.status == "SUCCESS"
    assert _codes(placed) == [("s6.small.1", "az1", "Ecs.0319"), ("s6.small.1", "az2", None)]
    assert stats["servers_by_token"] == {placed.alternative.token: 2}


async def test_a_flavor_and_zone_sold_out_in_the_job_is_placed_in_the_next_alternative() -> None:
    async with cloud(Faults(sold_out=("s6.small.1@*",), sold_out_job_rate=1.0)) as c:
        request = c.request("flavor-and-zone")
        placed = await c.place(Placer(), request, "@az2,c7.large.2@az3")
        stats = await c.stats()
    assert _codes(placed) == [
        ("s6.small.1", "az1", "Ecs.0319"),
        ("s6.small.1", "az2", "Ecs.0319"),
        ("c7.large.2", "az3", None),
    ]
    assert sorted(stats["servers_by_token"].values()) == [2, 2, 2]  # each token created once
    assert stats["jobs_by_status"] == {"FAIL": 2, "SUCCESS": 1}


async def test_every_alternative_sold_out_is_capacity_exhausted() -> None:
    async with cloud(Faults(sold_out=("*@*",), sold_out_job_rate=0.0)) as c:
        with pytest.raises(StageFailure) as raised:
            await c.place(Placer(), c.request("all-sold-out"), "@az2,c7@az3")
    failure = raised.value
    assert (failure.stage, failure.code, failure.retryable) == (
        FailureStage.SUBMIT,
        WorkerErrorCode.CAPACITY_EXHAUSTED,
        True,
    )
    assert failure.placement is not None
    assert [a.code for a in failure.placement.attempts] == ["Ecs.0319"] * 3


async def test_without_the_header_no_fallback_is_invented() -> None:
    async with cloud(Faults(sold_out=("s6.small.1@az1",), sold_out_job_rate=0.0)) as c:
        with pytest.raises(StageFailure) as raised:
            await c.place(Placer(), c.request("no-header"), "")
        stats = await c.stats()
    assert raised.value.code == "Ecs.0319"
    assert stats["requests_by_operation"]["POST /v1.1/{project_id}/cloudservers"] == 1


async def test_ten_requests_for_a_sold_out_offering_ask_the_api_about_it_once() -> None:
    async with cloud(Faults(sold_out=("s6.small.1@az1",), sold_out_job_rate=0.0)) as c:
        placer = Placer()
        placed = await asyncio.gather(
            *(c.place(placer, c.request(f"burst-{i}"), "@az2") for i in range(10))
        )
        stats = await c.stats()
    assert stats["faults_injected"]["sold_out_at_create"] == 1
    assert all(p.alternative.availability_zone == "az2" for p in placed)
    assert len(stats["servers_by_token"]) == 10


async def test_capacity_switched_back_on_is_used_once_the_memory_expires() -> None:
    now = [0.0]
    async with cloud(Faults(sold_out=("s6.small.1@az1",), sold_out_job_rate=0.0)) as c:
        placer = Placer(clock=lambda: now[0])
        first = await c.place(placer, c.request("before"), "@az2")
        await c.faults(sold_out=[])
        remembered = await c.place(placer, c.request("remembered"), "@az2")
        now[0] = 181.0
        back = await c.place(placer, c.request("after"), "@az2")
    assert first.alternative.index == 1
    assert remembered.alternative.index == 1
    assert [s.reason for s in remembered.placement.skipped] == ["sold_out_recently"]
    assert back.alternative.index == 0


async def test_a_crash_mid_fallback_then_a_redelivery_creates_no_token_twice() -> None:
    async with cloud(Faults(sold_out=("s6.small.1@az1",), sold_out_job_rate=1.0)) as c:
        following = asyncio.Event()
        first_pod = asyncio.create_task(
            c.place(Placer(), c.request("crash"), "@az2,@az3", die_following=(1, following))
        )
        await following.wait()  # alternative 0 failed sold out in its job, 1 was accepted
        first_pod.cancel()  # the pod is killed while following alternative 1
        with pytest.raises(asyncio.CancelledError):
            await first_pod
        placed = await c.place(Placer(), c.request("crash"), "@az2,@az3")  # the redelivery
        stats = await c.stats()
    assert placed.alternative.index == 1
    assert _codes(placed) == [("s6.small.1", "az1", "Ecs.0319"), ("s6.small.1", "az2", None)]
    assert stats["replays"] == 2  # both tokens got their first job back
    assert sorted(stats["servers_by_token"].values()) == [2, 2]  # and created once each


async def test_a_quota_answer_fails_at_once_without_trying_further_alternatives() -> None:
    faults = Faults(sold_out=("s6.small.1@az1",), quota_exceeded=("c7.8xlarge.2@*",))
    async with cloud(dataclasses.replace(faults, sold_out_job_rate=0.0)) as c:
        with pytest.raises(StageFailure) as raised:
            await c.place(Placer(), c.request("quota"), "c7.8xlarge.2@az2,c6.large.2@az3")
        stats = await c.stats()
    failure = raised.value
    assert (failure.stage, failure.code, failure.retryable) == (
        FailureStage.SUBMIT,
        "Ecs.0001",
        False,
    )
    assert failure.placement is not None
    assert [a.code for a in failure.placement.attempts] == ["Ecs.0319", "Ecs.0001"]
    assert stats["requests_by_operation"]["POST /v1.1/{project_id}/cloudservers"] == 2
