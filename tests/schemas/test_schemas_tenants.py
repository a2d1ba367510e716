"""Tenants in the contract: safe names, their topics, and token namespaces that never change."""

from __future__ import annotations

import pytest

from ecsp_contract.idempotency import DEFAULT_TOKEN_NAMESPACE, client_token, tenant_namespace
from ecsp_contract.tenants import DEFAULT_TENANT, tenant_name_problem, tenant_topic


@pytest.mark.parametrize("name", ["team-a", "payments2", "a", "a-b-c", "x" * 40, "0"])
def test_safe_topic_suffixes_are_tenant_names(name: str) -> None:
    assert tenant_name_problem(name) is None


@pytest.mark.parametrize(
    "name",
    ["", "Team-a", "team_a", "a.b", "-a", "a-", "a--b", "a b", "x" * 41, "é", "a/b", "a*"],
)
def test_anything_else_is_refused(name: str) -> None:
    problem = tenant_name_problem(name)
    assert problem is not None
    assert "hyphens" in problem


def test_default_names_the_shared_topics_tenant_and_no_team() -> None:
    assert tenant_name_problem(DEFAULT_TENANT) == (
        "'default' is the name of the tenant of the shared topics"
    )


def test_a_tenants_topic_is_the_shared_one_with_its_name_appended() -> None:
    assert tenant_topic("ecs.provisioning.requests", "team-a") == (
        "ecs.provisioning.requests.team-a"
    )


def test_tenant_tokens_are_pinned_and_differ_from_the_default_tenants() -> None:
    """A changed derivation would create a second server for a redelivered request after an
    upgrade: these values must never change (like the default tenant's golden tokens)."""
    team_a = tenant_namespace(DEFAULT_TOKEN_NAMESPACE, "team-a")
    assert str(team_a) == "ae1faa1d-bff2-5c93-846b-41ee311094fa"
    assert client_token("order-42", team_a) == "b2f04d3f-7745-56a0-b6b8-00a33f67ee03"
    assert client_token("order-42") == "5a29f466-0403-515b-adf3-6c196a20f0e7"
    team_b = tenant_namespace(DEFAULT_TOKEN_NAMESPACE, "team-b")
    assert client_token("order-42", team_b) not in {
        client_token("order-42"),
        client_token("order-42", team_a),
    }
