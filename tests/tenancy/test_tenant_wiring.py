"""The tenants file turned into what each side takes (`worker.assembly`): the consumer's request
topics and each tenant's event topics, the state topics, the pipeline's tenants and secrets."""

from __future__ import annotations

from pathlib import Path

from ecsp_contract.events import EventType
from ecsp_contract.idempotency import DEFAULT_TOKEN_NAMESPACE, tenant_namespace
from ecsp_contract.tenants import DEFAULT_TENANT
from worker.assembly import secret_scopes, state_topics, tenant_table, worker_config
from worker.ops.settings import Settings
from worker.pipeline.secrets import NO_SECRETS, SecretSource
from worker.tenancy.model import TenantsDocument

TENANTS = TenantsDocument.model_validate(
    {
        "tenants": {
            "team-a": {"project_id": "a-1", "projects": ["a-2"], "secret_dir": "/run/team-a"},
            "team-b": {"project_id": "b-1"},
        }
    }
)
SETTINGS = Settings(ecs_project_id="shared-1", ecs_project_allowlist="shared-2")


def test_the_worker_subscribes_to_the_shared_topic_and_each_tenants_and_routes_by_them() -> None:
    config = worker_config(SETTINGS, TENANTS)
    assert config.request_topics == (
        "ecs.provisioning.requests",
        "ecs.provisioning.requests.team-a",
        "ecs.provisioning.requests.team-b",
    )
    shared = config.route("ecs.provisioning.requests")
    team_a = config.route("ecs.provisioning.requests.team-a")
    assert shared[EventType.FAILED] == "ecs.provisioning.failures"
    assert team_a == {
        EventType.SUCCEEDED: "ecs.provisioning.results.team-a",
        EventType.VALIDATED: "ecs.provisioning.results.team-a",
        EventType.FAILED: "ecs.provisioning.failures.team-a",
        EventType.SUBMITTED: "ecs.provisioning.progress.team-a",
        EventType.AWAITING_PAYMENT: "ecs.provisioning.progress.team-a",
    }


def test_without_tenants_the_worker_is_todays() -> None:
    config = worker_config(SETTINGS, TenantsDocument())
    assert config.request_topics == ("ecs.provisioning.requests",)
    assert config.tenant_routes == {}
    assert config.topic_of == {t: SETTINGS.topic_of(t) for t in EventType}


def test_tenants_topics_follow_the_configured_shared_ones_and_off_stays_off() -> None:
    settings = SETTINGS.model_copy(update={"topic_results": "team.results", "topic_progress": ""})
    team_b = worker_config(settings, TENANTS).route("ecs.provisioning.requests.team-b")
    assert team_b[EventType.SUCCEEDED] == "team.results.team-b"
    assert team_b[EventType.SUBMITTED] == ""


def test_each_tenants_events_are_recorded_on_its_own_state_topic() -> None:
    state_of = state_topics(SETTINGS, TENANTS)
    assert state_of["ecs.provisioning.results"] == "ecs.provisioning.state"
    assert state_of["ecs.provisioning.failures.team-a"] == "ecs.provisioning.state.team-a"
    assert state_of["ecs.provisioning.progress.team-b"] == "ecs.provisioning.state.team-b"
    assert len(state_of) == 9  # three event topics for each of three tenants
    assert state_topics(SETTINGS.model_copy(update={"topic_state": ""}), TENANTS) == {}


def test_the_pipeline_knows_each_tenant_by_its_request_topic() -> None:
    table = tenant_table(SETTINGS, TENANTS)
    shared = table.of("ecs.provisioning.requests")
    assert (shared.name, shared.default_project) == (DEFAULT_TENANT, "shared-1")
    assert shared.projects == {"shared-1", "shared-2"}
    assert shared.token_namespace == DEFAULT_TOKEN_NAMESPACE
    team_a = table.of("ecs.provisioning.requests.team-a")
    assert (team_a.name, team_a.default_project) == ("team-a", "a-1")
    assert team_a.projects == {"a-1", "a-2"}
    assert team_a.token_namespace == tenant_namespace(DEFAULT_TOKEN_NAMESPACE, "team-a")


def test_a_tenants_secrets_are_its_directory_only() -> None:
    scopes = secret_scopes(SETTINGS, TENANTS)
    assert scopes.of("team-a") == SecretSource(env_prefix=None, directory=Path("/run/team-a"))
    assert scopes.of("team-b") == SecretSource(env_prefix=None, directory=None) == NO_SECRETS
    assert scopes.of(DEFAULT_TENANT).env_prefix == "ECSP_SECRET_"
