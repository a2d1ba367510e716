"""Keys and tokens across tenants, through the composed steps over the real client and the
simulator (no broker), whose token memory is the account's (worker/simulator/idempotency.py).

Issue 25, "cross-project key squatting": project A used key `order-42` first; project B's
`order-42` was answered `Ecs.0122` (after the window `token_expired`), because both derived the
same token. Tenants derive tokens in namespaces of their own, so a key one team used first is no
conflict for another; within one tenant a key is one request, whichever of its projects.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp

from ecsp_contract.idempotency import DEFAULT_TOKEN_NAMESPACE, client_token, tenant_namespace
from tests.support.bodies import server_body
from tests.support.ecs_client import layered_client
from tests.support.pipeline import message, pipeline_for
from worker.ecs.auth import AkSkAuth
from worker.ecs.client import EcsClient
from worker.ecs.credentials import Credential
from worker.ecs.retry import RetryConfig
from worker.ops.settings import Settings
from worker.simulator.knobs import SimulatorConfig
from worker.simulator.serving import running_simulator
from worker.tenancy.model import TenantsDocument

AK, SK = "TOKENAK0000000000001", "token-secret-key-1"
SHARED, A1, A2, B1 = "0" * 32, "a1" + "0" * 30, "a2" + "0" * 30, "b1" + "0" * 30
TENANTS = TenantsDocument.model_validate(
    {
        "tenants": {
            "team-a": {"project_id": A1, "projects": [A2]},
            "team-b": {"project_id": B1},
        }
    }
)
SETTINGS = Settings(
    ecs_project_id=SHARED,
    job_poll_initial_seconds=0.01,
    job_poll_max_seconds=0.01,
    request_deadline_seconds=20.0,
    bulk_follow=False,
)
FAST = RetryConfig(max_attempts=3, base_delay=0.01, max_delay=0.02, deadline=10)


@asynccontextmanager
async def cloud() -> AsyncIterator[tuple[EcsClient, aiohttp.ClientSession, str]]:
    config = SimulatorConfig(credentials={AK: SK}, job_seconds=(0.0, 0.0), admin_routes=True)
    async with running_simulator(config) as base_url, aiohttp.ClientSession() as session:
        client = layered_client(session, base_url, AkSkAuth(Credential(AK, SK)), retry=FAST)
        yield client, session, base_url


async def process(client: EcsClient, tenant: str, project: str) -> dict[str, Any]:
    topic = f"{SETTINGS.topic_requests}.{tenant}" if tenant else SETTINGS.topic_requests
    record = message(
        json.dumps(server_body()).encode(),
        key=b"order-42",
        topic=topic,
        headers=(("ecs-project-id", project.encode()),),
    )
    event = await pipeline_for(SETTINGS, client, tenants=TENANTS).process(record)
    data: dict[str, Any] = event.data
    return data


def outcome(data: dict[str, Any]) -> str:
    return data["stage"] + ": " + data["error"]["code"] if "stage" in data else "succeeded"


async def test_a_key_another_tenant_used_first_is_its_own_request_with_its_own_token() -> None:
    async with cloud() as (client, session, base_url):
        first = await process(client, "team-a", A1)
        second = await process(client, "team-b", B1)
        async with session.get(f"{base_url}/_sim/stats") as response:
            stats = await response.json()
    token_a = client_token("order-42", tenant_namespace(DEFAULT_TOKEN_NAMESPACE, "team-a"))
    token_b = client_token("order-42", tenant_namespace(DEFAULT_TOKEN_NAMESPACE, "team-b"))
    assert (outcome(first), outcome(second)) == ("succeeded", "succeeded")
    assert (first["client_token"], second["client_token"]) == (token_a, token_b)
    assert stats["servers_by_token"] == {token_a: 1, token_b: 1}


async def test_within_one_tenant_a_key_is_one_request_whichever_of_its_projects() -> None:
    """What holds inside a tenant (and on the shared topic): the same key in another of its
    projects is the same token with other request parameters, a conflict, never a server."""
    async with cloud() as (client, _, _):
        first = await process(client, "team-a", A1)
        other_project = await process(client, "team-a", A2)
    assert outcome(first) == "succeeded"
    assert outcome(other_project) == "conflict: Ecs.0122"
    assert other_project["client_token"] == first["client_token"]
