"""Guardrails apply to every placement (issue 27), through the composed steps against a scripted
API: a forbidden placement is skipped with reason `policy` and never reaches the API, even when
it is the body's own; when every placement is forbidden the request fails at `policy` as it
would without the header, with nothing sent and nothing spent from the hourly budget."""

from __future__ import annotations

from typing import Any

from ecsp_contract.idempotency import client_token
from tests.support.pipeline import PROJECT, ComposedPipeline, body, message, pipeline_for, settings
from tests.support.scripted_api import ACCEPTED, ScriptedApi, job
from worker.ecs.errors import EcsApiError
from worker.ops.metrics import Metrics
from worker.pipeline.alternatives import placement_token
from worker.pipeline.guardrails import GuardrailsParts, SilentGuardrailsObserver
from worker.pipeline.secrets import SecretSource
from worker.policy.budget import HourlyBudget
from worker.policy.load import parse_policy

#: The body (example 01) asks for s2.small.1 in az1-dc1; the policy allows only s6 flavors and
#: forbids zone az3-dc1.
POLICY = """default:
  flavors: {allow: ["s6.*"]}
  availability_zones: {deny: ["az3-*"]}
  max_servers_per_hour: 10
"""


def pipeline(
    api: ScriptedApi, budget: HourlyBudget, metrics: Metrics | None = None
) -> ComposedPipeline:
    s = settings()
    document = parse_policy(POLICY.encode())
    rails = GuardrailsParts(lambda: document, budget, 20, metrics or SilentGuardrailsObserver())
    return pipeline_for(
        s, api, secrets=SecretSource(s.secret_env_prefix, s.secret_dir), guardrails=rails
    )


async def process(
    api: ScriptedApi, budget: HourlyBudget, key: str, fallbacks: str, **server: Any
) -> Any:
    headers = (("ecs-fallbacks", fallbacks.encode()),)
    record = message(body(**server), key=key.encode(), headers=headers)
    return (await pipeline(api, budget).process(record)).data


async def test_the_bodys_own_placement_forbidden_is_skipped_and_an_allowed_one_takes_it() -> None:
    api = ScriptedApi(ACCEPTED, [job("SUCCESS", ("SUCCESS", ACCEPTED.server_ids[0]))])
    budget = HourlyBudget()
    data = await process(api, budget, "own-forbidden", "s6.large.2@az3-dc1,s6.large.2@az2-dc1")

    assert data["server_ids"] == list(ACCEPTED.server_ids)
    placement = data["placement"]
    assert (placement["flavorRef"], placement["availability_zone"]) == ("s6.large.2", "az2-dc1")
    assert placement["attempts"] == [
        {"flavorRef": "s6.large.2", "availability_zone": "az2-dc1", "code": None}
    ]
    assert placement["skipped"] == [
        {"flavorRef": "s2.small.1", "availability_zone": "az1-dc1", "reason": "policy"},
        {"flavorRef": "s6.large.2", "availability_zone": "az3-dc1", "reason": "policy"},
    ]
    # only the allowed placement reached the API, with its own token and flavor/zone
    assert api.tokens == [placement_token(client_token("own-forbidden"), "s6.large.2", "az2-dc1")]
    (sent,) = api.bodies
    assert (sent["server"]["flavorRef"], sent["server"]["availability_zone"]) == (
        "s6.large.2",
        "az2-dc1",
    )
    assert data["client_token"] == client_token("own-forbidden")
    assert budget.used(PROJECT) == 1


async def test_every_placement_forbidden_fails_at_policy_with_nothing_sent_or_spent() -> None:
    api = ScriptedApi(ACCEPTED, [job("SUCCESS", ("SUCCESS", ACCEPTED.server_ids[0]))])
    budget = HourlyBudget()
    data = await process(api, budget, "all-forbidden", "c7.large.2,s6.large.2@az3-dc1")

    assert (data["stage"], data["error"]["code"], data["retryable"]) == (
        "policy",
        "ECSP.PolicyViolation",
        False,
    )
    # the body's own violations, as without the header
    assert [(d["rule"], d["path"]) for d in data["error"]["details"]] == [
        ("flavors", "server.flavorRef")
    ]
    assert "and its 2 alternative(s)" in data["error"]["message"]
    assert [(s["flavorRef"], s["reason"]) for s in data["placement"]["skipped"]] == [
        ("s2.small.1", "policy"),
        ("c7.large.2", "policy"),
        ("s6.large.2", "policy"),
    ]
    assert data["placement"]["attempts"] == []
    assert api.bodies == []
    assert budget.used(PROJECT) == 0  # nothing was created: the budget is given back


async def test_every_placement_forbidden_is_counted_as_a_policy_violation() -> None:
    """As without the header: ecsp_policy_violations_total{rule} (the alert's metric)."""
    metrics = Metrics()
    api = ScriptedApi(ACCEPTED, [])
    record = message(body(), headers=(("ecs-fallbacks", b"c7.large.2"),))
    await pipeline(api, HourlyBudget(), metrics).process(record)
    counted = metrics.registry.get_sample_value("ecsp_policy_violations_total", {"rule": "flavors"})
    assert counted == 1


SOLD_OUT = EcsApiError(code="Ecs.0319", message="sold out", http_status=400, retryable=False)


async def test_every_placement_refused_at_create_time_gives_the_budget_back() -> None:
    api = ScriptedApi(SOLD_OUT, [])
    budget = HourlyBudget()
    data = await process(api, budget, "refused", "@az2-dc1", flavorRef="s6.large.2")

    assert (data["stage"], data["error"]["code"], data["retryable"]) == (
        "submit",
        "ECSP.CapacityExhausted",
        True,
    )
    assert len(api.bodies) == 2
    assert budget.used(PROJECT) == 0  # the API refused both creates: nothing was submitted


async def test_placements_whose_jobs_sold_out_keep_their_budget() -> None:
    """A create the API accepted counts, even if its job then failed sold out."""
    sold_out_job = job("FAIL", ("FAIL", None), code="Ecs.0319")
    api = ScriptedApi(ACCEPTED, [sold_out_job])
    budget = HourlyBudget()
    data = await process(api, budget, "in-jobs", "@az2-dc1", flavorRef="s6.large.2")

    assert (data["stage"], data["error"]["code"]) == ("job", "ECSP.CapacityExhausted")
    assert len(api.bodies) == 2
    assert budget.used(PROJECT) == 1
