"""The pipeline with guardrails, against a scripted API: a violation never reaches the API, and
servers the API refused are given back to the hourly budget."""

from __future__ import annotations

from tests.support.pipeline import PROJECT, ComposedPipeline, body, message, pipeline_for, settings
from tests.support.scripted_api import ACCEPTED, ScriptedApi
from worker.ecs.errors import EcsApiError
from worker.pipeline.guardrails import GuardrailsParts
from worker.pipeline.secrets import SecretSource
from worker.policy.budget import HourlyBudget
from worker.policy.load import parse_policy


def pipeline(api: ScriptedApi, policy: str, budget: HourlyBudget) -> ComposedPipeline:
    s = settings()
    document = parse_policy(policy.encode())
    return pipeline_for(
        s,
        api,
        secrets=SecretSource(s.secret_env_prefix, s.secret_dir),
        guardrails=GuardrailsParts(lambda: document, budget, parked_per_partition=20),
    )


async def test_a_violation_fails_at_policy_and_never_reaches_the_api() -> None:
    api = ScriptedApi(ACCEPTED, [])
    event = await pipeline(api, "default: {max_count: 1}", HourlyBudget()).process(
        message(body(count=2)), None
    )
    data = event.data
    assert (data["stage"], data["error"]["code"], data["retryable"]) == (
        "policy",
        "ECSP.PolicyViolation",
        False,
    )
    assert data["error"]["details"] == [
        {
            "rule": "max_count",
            "path": "server.count",
            "message": "count 2 is more than the 1 servers allowed per request",
        }
    ]
    assert api.bodies == []


async def test_servers_the_api_refused_are_given_back_to_the_budget() -> None:
    budget = HourlyBudget()
    refused = EcsApiError(code="Ecs.0005", message="bad", http_status=400, retryable=False)
    api = ScriptedApi(refused, [])
    rails = pipeline(api, "default: {max_servers_per_hour: 3}", budget)
    event = await rails.process(message(body(count=3)), None)
    assert event.data["stage"] == "submit"
    assert len(api.bodies) == 1
    assert budget.used(PROJECT) == 0
