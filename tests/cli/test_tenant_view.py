"""`--tenant NAME`: the client commands' view of a tenant's topics and token namespace."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from ecsp_contract.idempotency import tenant_namespace
from worker.cli.tenant_view import as_tenant
from worker.ops.settings import ConfigError, Settings

SHARED = Settings(
    topic_requests="reqs", topic_results="res", topic_failures="fail", topic_progress=""
)
OWN_NAMESPACE = uuid.UUID("6f1c0e39-4a55-4c4e-9d5e-0f6d8e6a2b11")


def test_the_shared_topics_are_the_default_tenants() -> None:
    assert as_tenant(SHARED, None) is SHARED
    assert as_tenant(SHARED, "default") is SHARED


def test_a_tenant_gets_its_topics_and_the_derived_token_namespace() -> None:
    team = as_tenant(SHARED, "team-a")
    assert (team.topic_requests, team.topic_results, team.topic_failures) == (
        "reqs.team-a",
        "res.team-a",
        "fail.team-a",
    )
    assert team.topic_progress == ""  # off stays off
    assert team.token_namespace == tenant_namespace(SHARED.token_namespace, "team-a")


def test_the_tenants_file_names_the_namespace_and_the_tenants(tmp_path: Path) -> None:
    path = tmp_path / "tenants.yaml"
    path.write_text(
        "tenants:\n"
        f"  team-a: {{project_id: a1, token_namespace: '{OWN_NAMESPACE}'}}\n"
        "  team-b: {project_id: b1}\n"
    )
    settings = SHARED.model_copy(update={"tenants_file": path})
    assert as_tenant(settings, "team-a").token_namespace == OWN_NAMESPACE
    with pytest.raises(ConfigError, match=r"names no such tenant \(it names: team-a, team-b\)"):
        as_tenant(settings, "team-c")


@pytest.mark.parametrize("name", ["Team_A", "a.b", "-a", "a--b", ""])
def test_a_name_that_cannot_be_a_tenants_is_a_usage_error(name: str) -> None:
    with pytest.raises(ConfigError, match="--tenant"):
        as_tenant(SHARED, name)
