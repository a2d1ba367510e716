"""Guardrails end to end: real broker, real simulator, the worker in-process with a policy file.

A request against the policy fails at `policy` before any API call; the policy file is re-read
without a restart (an invalid version keeps the last good one); a project over its hourly budget
waits instead of failing: parked while the partition keeps moving for other projects, and beyond
the bound of parked requests with its partition paused.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Any

from ecsp_contract.idempotency import client_token
from tests.support.bodies import server_body
from tests.support.kafka import by_key, wait_for
from tests.support.metrics import sample
from tests.support.stack import stack

S6_ONLY = 'default:\n  flavors: {allow: ["s6.*"]}\n  max_count: 3\n'
S6_AND_C7 = 'default:\n  flavors: {allow: ["s6.*", "c7.*"]}\n  max_count: 3\n'


def replace_file(path: Path, text: str) -> None:
    """Swaps the file's content in one step, as a ConfigMap update does."""
    staged = path.with_suffix(".staged")
    staged.write_text(text)
    os.replace(staged, path)


def policy_failure(event: dict[str, Any]) -> tuple[str, str, bool, list[tuple[str, str]]]:
    data = event["data"]
    rules = [(d["rule"], d["path"]) for d in data["error"]["details"]]
    return data["stage"], data["error"]["code"], data["retryable"], rules


async def test_policy_refuses_before_the_api_and_a_changed_file_applies_without_restart(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(S6_ONLY)
    async with stack(
        kafka_bootstrap, ECSP_POLICY_FILE=str(policy), ECSP_POLICY_RELOAD_SECONDS="0.2"
    ) as s:
        await s.publish(
            [
                ("c7", server_body(flavorRef="c7.large.2")),
                ("count-5", server_body(count=5)),
                ("allowed", server_body(count=3)),
            ]
        )
        first = by_key(await s.outcomes(3))
        stats = await s.sim("GET", "/_sim/stats")
        assert stats["creates"] == 1
        assert set(stats["servers_by_token"]) == {client_token("allowed")}

        replace_file(policy, "default:\n  flavors: {allow: [c7.*\n")  # broken YAML
        await wait_for(lambda: sample(s.metrics, "ecsp_policy_reloads_total", outcome="invalid"))
        assert sample(s.metrics, "ecsp_policy_file_valid") == 0
        await s.publish([("c7-while-invalid", server_body(flavorRef="c7.large.2"))])
        while_invalid = by_key(await s.outcomes(4))["c7-while-invalid"]

        replace_file(policy, S6_AND_C7)
        await wait_for(
            lambda: sample(s.metrics, "ecsp_policy_reloads_total", outcome="loaded") == 2
        )
        await s.publish([("c7-after-change", server_body(flavorRef="c7.large.2"))])
        after = by_key(await s.outcomes(5))["c7-after-change"]
        final_stats = await s.sim("GET", "/_sim/stats")

    assert policy_failure(first["c7"][0]) == (
        "policy",
        "ECSP.PolicyViolation",
        False,
        [("flavors", "server.flavorRef")],
    )
    assert policy_failure(first["count-5"][0]) == (
        "policy",
        "ECSP.PolicyViolation",
        False,
        [("max_count", "server.count")],
    )
    assert first["allowed"][0]["type"] == "ecs.provisioning.succeeded"
    assert len(first["allowed"][0]["data"]["server_ids"]) == 3
    # the last good policy stayed in force while the file was broken
    assert policy_failure(while_invalid[0])[0] == "policy"
    assert after[0]["type"] == "ecs.provisioning.succeeded"
    assert final_stats["creates"] == 2
    assert set(final_stats["servers_by_token"]) == {
        client_token("allowed"),
        client_token("c7-after-change"),
    }


BUDGET_WINDOW = 30.0


async def test_over_the_hourly_budget_requests_wait_with_the_partition_paused_not_fail(
    kafka_bootstrap: str, tmp_path: Path, suite_log: Path
) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("default:\n  max_servers_per_hour: 5\n")
    keys = [f"budget-{i}-{tmp_path.name}" for i in range(4)]
    async with stack(
        kafka_bootstrap,
        ECSP_POLICY_FILE=str(policy),
        ECSP_POLICY_BUDGET_WINDOW_SECONDS=str(BUDGET_WINDOW),
        ECSP_POLICY_BUDGET_PARKED_PER_PARTITION="1",
    ) as s:
        await s.publish([(key, server_body(count=2)) for key in keys])
        # two fit the budget of 5 at once; of the other two, one parks and one (beyond the
        # bound of 1 parked) holds their partition
        await wait_for(lambda: sample(s.metrics, "ecsp_policy_budget_waiting") == 2)
        assert sample(s.metrics, "ecsp_policy_budget_parked") == 1
        assert sample(s.metrics, "ecsp_partitions_paused") == 1
        early = await s.outcomes(2, timeout=BUDGET_WINDOW / 2)
        stats = await s.sim("GET", "/_sim/stats")
        events = by_key(await s.outcomes(4, timeout=BUDGET_WINDOW + 60))
        await wait_for(lambda: sample(s.metrics, "ecsp_partitions_paused") == 0)
        final_stats = await s.sim("GET", "/_sim/stats")

    assert len(early) == 2
    assert {e.json()["type"] for e in early} == {"ecs.provisioning.succeeded"}
    assert stats["creates"] == 2
    assert set(events) == set(keys)
    assert {e[0]["type"] for e in events.values()} == {"ecs.provisioning.succeeded"}
    assert final_stats["creates"] == 4
    assert final_stats["servers_total"] == 8
    begins = sorted(_begin(e[0]) for e in events.values())
    # the waiting two were created only once the first two left the budget window
    assert (begins[2] - begins[1]).total_seconds() >= BUDGET_WINDOW - 1
    waited = [
        line for line in _log_lines(suite_log, keys) if "waiting for the project's hourly" in line
    ]
    assert len(waited) == 2


def _begin(event: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(event["data"]["begin_time"].replace("Z", "+00:00"))


def _log_lines(path: Path, keys: list[str]) -> list[str]:
    return [line for line in path.read_text().splitlines() if any(k in line for k in keys)]


async def test_a_project_over_its_budget_does_not_hold_up_another_projects_request_behind_it(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """Issue 25, "one project's budget stalls another": on one partition, project A's request
    waits for A's hourly budget; project B's request published after it is answered while A's
    still waits (before parking, the paused partition kept B until A's room or deadline)."""
    other = "b" * 32
    policy = tmp_path / "policy.yaml"
    policy.write_text(f"default:\n  max_servers_per_hour: 2\nprojects:\n  {other}: {{}}\n")
    async with stack(
        kafka_bootstrap,
        ECSP_POLICY_FILE=str(policy),
        ECSP_POLICY_BUDGET_WINDOW_SECONDS="600",
        ECSP_ECS_PROJECT_ALLOWLIST=other,
    ) as s:
        await s.publish([("a-fits", server_body(count=2)), ("a-waits", server_body(count=2))])
        await wait_for(lambda: sample(s.metrics, "ecsp_policy_budget_waiting") == 1)
        await s.publish(
            [("b-behind", server_body(count=2))], headers=[("ecs-project-id", other.encode())]
        )
        answered = by_key(await s.outcomes(2, timeout=60))
        assert sample(s.metrics, "ecsp_policy_budget_waiting") == 1  # A still waits

    assert set(answered) == {"a-fits", "b-behind"}
    assert answered["b-behind"][0]["type"] == "ecs.provisioning.succeeded"
    assert answered["b-behind"][0]["data"]["project_id"] == other
