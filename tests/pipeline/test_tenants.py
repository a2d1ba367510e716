"""Tenants in the pipeline: a record's tenant is its topic's, and it decides the token, the
projects and the secrets; the shared topic stays the default tenant, exactly as before."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ecsp_contract.cloudevent import CloudEvent
from ecsp_contract.idempotency import DEFAULT_TOKEN_NAMESPACE, client_token, tenant_namespace
from tests.support.pipeline import PROJECT, SECRET_VALUE, example, message, pipeline_for, settings
from tests.support.scripted_api import ACCEPTED, ScriptedApi, job
from worker.ops.settings import Settings
from worker.pipeline.secrets import SecretSource
from worker.tenancy.load import parse_tenants
from worker.tenancy.model import TenantsDocument
from worker.tenancy.sharing import DefaultTenantScope

TEAM_A = "ecs.provisioning.requests.team-a"
TEAM_B = "ecs.provisioning.requests.team-b"


def tenants(tmp_path: Path) -> TenantsDocument:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    text = (
        "tenants:\n"
        f"  team-a: {{project_id: a-1, projects: [a-2], secret_dir: {tmp_path}/a}}\n"
        f"  team-b: {{project_id: b-1, secret_dir: {tmp_path}/b}}\n"
    )
    default = DefaultTenantScope(frozenset({PROJECT}), DEFAULT_TOKEN_NAMESPACE, None)
    return parse_tenants(text.encode(), default)


async def process(
    s: Settings, document: TenantsDocument, topic: str, value: dict[str, Any], **headers: str
) -> tuple[CloudEvent, ScriptedApi]:
    api = ScriptedApi(ACCEPTED, [job("SUCCESS", ("SUCCESS", ACCEPTED.server_ids[0]))])
    pipeline = pipeline_for(
        s, api, secrets=SecretSource(s.secret_env_prefix, s.secret_dir), tenants=document
    )
    record = message(
        json.dumps(value).encode(),
        key=b"order-42",
        topic=topic,
        headers=tuple((name, v.encode()) for name, v in headers.items()),
    )
    return await pipeline.process(record), api


def failure(event: CloudEvent) -> tuple[str, str]:
    return event.data["stage"], event.data["error"]["code"]


async def test_a_tenants_record_gets_its_token_and_default_project(tmp_path: Path) -> None:
    event, api = await process(
        settings(), tenants(tmp_path), TEAM_A, example("01-prepaid-keypair.json")
    )
    team_a = tenant_namespace(DEFAULT_TOKEN_NAMESPACE, "team-a")
    assert api.tokens == [client_token("order-42", team_a)]
    assert api.projects == ["a-1"]
    assert (event.type, event.data["project_id"]) == ("ecs.provisioning.succeeded", "a-1")


async def test_the_same_key_on_the_shared_topic_is_todays_token_and_project(
    tmp_path: Path,
) -> None:
    shared = "ecs.provisioning.requests"
    _, api = await process(
        settings(), tenants(tmp_path), shared, example("01-prepaid-keypair.json")
    )
    assert (api.tokens, api.projects) == ([client_token("order-42")], [PROJECT])


@pytest.mark.parametrize(
    ("topic", "project", "allowed"),
    [
        (TEAM_A, "a-2", True),
        (TEAM_A, "b-1", False),  # another tenant's project
        (TEAM_A, PROJECT, False),  # the default tenant's project
        (TEAM_B, "a-1", False),
        ("ecs.provisioning.requests", "a-1", False),  # the shared topic cannot name a tenant's
    ],
)
async def test_a_request_may_name_only_its_tenants_projects(
    tmp_path: Path, topic: str, project: str, allowed: bool
) -> None:
    event, api = await process(
        settings(),
        tenants(tmp_path),
        topic,
        example("01-prepaid-keypair.json"),
        **{"ecs-project-id": project},
    )
    if allowed:
        assert event.type == "ecs.provisioning.succeeded"
        assert api.projects == [project]
    else:
        assert failure(event) == ("validate", "ECSP.ProjectNotAllowed")
        assert api.bodies == []


async def test_a_secret_resolves_in_its_tenants_directory_and_nowhere_else(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    document = tenants(tmp_path)
    (tmp_path / "a" / "ADMIN_PASS").write_text(SECRET_VALUE + "\n")
    monkeypatch.setenv("TEST_ECSP_SECRET_ADMIN_PASS", SECRET_VALUE)  # the default tenant's
    with_reference = example("02-prepaid-password.json")  # adminPass: $ADMIN_PASS
    s = settings()

    event, api = await process(s, document, TEAM_A, with_reference)
    assert event.type == "ecs.provisioning.succeeded"
    assert api.bodies[0]["server"]["adminPass"] == SECRET_VALUE

    for other in (TEAM_B, "ecs.provisioning.requests.team-c"):  # B's scope; no tenant's topic
        monkeypatch.delenv("TEST_ECSP_SECRET_ADMIN_PASS")
        event, api = await process(s, document, other, with_reference)
        assert failure(event) == ("validate", "ECSP.UnknownSecret"), other
        assert api.bodies == []
        monkeypatch.setenv("TEST_ECSP_SECRET_ADMIN_PASS", SECRET_VALUE)

    # the environment is the default tenant's scope alone: team B does not see it either
    event, _ = await process(s, document, TEAM_B, with_reference)
    assert failure(event) == ("validate", "ECSP.UnknownSecret")
