"""The simulator, a client of it and one request's life through the composed steps with an ecs-
fallbacks header: the placement tests' cloud."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp

from ecsp_contract.cloudevent import CloudEvent
from ecsp_contract.idempotency import client_token
from tests.support.bodies import server_body
from tests.support.ecs_client import layered_client
from tests.support.pipeline import pipeline_for
from worker.ecs.auth import AkSkAuth
from worker.ecs.client import EcsClient
from worker.ecs.credentials import Credential
from worker.ecs.models import CreateResult, JobStatus
from worker.ecs.retry import RetryConfig
from worker.ops.settings import Settings
from worker.pipeline.alternatives import placement_token
from worker.pipeline.placement import Placer
from worker.pipeline.port import InboundMessage
from worker.simulator.knobs import Faults, SimulatorConfig
from worker.simulator.serving import running_simulator

AK, SK = "PLACEAK0000000000001", "place-secret-key-1"
PROJECT = "0123456789abcdef0123456789abcdef"
FAST = RetryConfig(max_attempts=3, base_delay=0.01, max_delay=0.02, deadline=10)


@dataclass
class Cloud:
    """The simulator and a client of it; `process` runs one request through the steps."""

    client: EcsClient
    session: aiohttp.ClientSession
    base_url: str

    async def process(
        self, placer: Placer, key: str, header: str, api: Any = None
    ) -> dict[str, Any]:
        """The terminal event's data of request `key` with the `ecs-fallbacks` header."""
        settings = Settings(
            ecs_project_id=PROJECT,
            job_poll_initial_seconds=0.01,
            job_poll_max_seconds=0.01,
            request_deadline_seconds=20.0,
        )
        value = json.dumps(server_body(count=2, availability_zone="az1")).encode()
        headers = (("ecs-fallbacks", header.encode()),) if header else ()
        record = InboundMessage(
            "requests", 0, 1, key.encode(), value, headers, int(time.time() * 1000)
        )
        pipeline = pipeline_for(settings, api or self.client, placer=placer)
        event: CloudEvent = await pipeline.process(record)
        data: dict[str, Any] = event.data
        return data

    async def faults(self, **faults: Any) -> None:
        async with self.session.post(f"{self.base_url}/_sim/faults", json=faults) as response:
            assert response.status == 200, await response.text()

    async def stats(self) -> dict[str, Any]:
        async with self.session.get(f"{self.base_url}/_sim/stats") as response:
            result: dict[str, Any] = await response.json()
            return result


@asynccontextmanager
async def cloud(faults: Faults) -> AsyncIterator[Cloud]:
    config = SimulatorConfig(
        credentials={AK: SK}, job_seconds=(0.0, 0.0), seed=11, faults=faults, admin_routes=True
    )
    async with running_simulator(config) as base_url, aiohttp.ClientSession() as session:
        client = layered_client(session, base_url, AkSkAuth(Credential(AK, SK)), retry=FAST)
        yield Cloud(client, session, base_url)


def codes(data: dict[str, Any]) -> list[tuple[str, str | None, str | None]]:
    return [
        (a["flavorRef"], a["availability_zone"], a["code"]) for a in data["placement"]["attempts"]
    ]


def token_of(key: str, flavor: str, zone: str) -> str:
    return placement_token(client_token(key), flavor, zone)


@dataclass
class DiesFollowing:
    """The client, except that the pod "dies" (hangs, to be cancelled) once it follows the
    job created with `token`, after setting `following`."""

    client: EcsClient
    token: str
    following: asyncio.Event
    job_id: str | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)

    async def create_servers(
        self, body: dict[str, Any], client_token: str, project_id: str
    ) -> CreateResult:
        created = await self.client.create_servers(body, client_token, project_id)
        if client_token == self.token:
            self.job_id = created.job_id
        return created

    async def get_job(self, job_id: str, project_id: str) -> JobStatus:
        if job_id == self.job_id:
            self.following.set()
            await asyncio.Event().wait()
        return await self.client.get_job(job_id, project_id)
