"""The pipeline's guardrails step without a broker: the `policy` failure, budget waits that park
(the partition keeps moving) up to a bound and hold the partition's intake beyond it, dry runs,
and the deadline."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from ecsp_contract.failures import FailureStage, WorkerErrorCode
from ecsp_contract.request import CreateServersBody, to_wire
from tests.support.bodies import server_body
from worker.consumer.holds import IntakeHolds
from worker.pipeline.failure import StageFailure
from worker.pipeline.guardrails import Guardrails
from worker.pipeline.parking import Parking
from worker.pipeline.port import Outcome
from worker.pipeline.state import DecodedRequest, Request, Validated
from worker.policy.budget import HourlyBudget
from worker.policy.load import parse_policy

PARTITION = ("requests", 3)


class Observer:
    def __init__(self) -> None:
        self.violations: list[str] = []
        self.waiting = 0
        self.parked = 0

    def policy_violation(self, rule: str) -> None:
        self.violations.append(rule)

    def budget_waiting(self, delta: int) -> None:
        self.waiting += delta

    def budget_parked(self, delta: int) -> None:
        self.parked += delta


def request(body: dict[str, Any], project: str = "p1", tenant: str = "default") -> DecodedRequest:
    model = CreateServersBody.model_validate(body)
    return DecodedRequest(
        key="k", token="t", project_id=project, tenant=tenant, body=model, wire=to_wire(model)
    )


async def unreachable(request: Request[Validated]) -> Outcome:
    raise AssertionError("these tests call check and admit only")


def guardrails(
    policy: str, window: float = 3600.0, parked_per_partition: int = 20
) -> tuple[Guardrails, IntakeHolds, Observer]:
    document = parse_policy(policy.encode())
    holds, observer = IntakeHolds(), Observer()
    parking = Parking(holds, parked_per_partition, observer)
    rails = Guardrails(lambda: document, HourlyBudget(window), parking, unreachable, observer)
    return rails, holds, observer


def test_a_broken_rule_is_a_policy_failure_listing_each_rule_and_path() -> None:
    rails, _, observer = guardrails("default: {flavors: {allow: [s6.*]}, max_count: 1}")
    with pytest.raises(StageFailure) as caught:
        rails.check(request(server_body(count=2, flavorRef="c7.large.2")))
    failure = caught.value
    assert (failure.stage, failure.code, failure.retryable) == (
        FailureStage.POLICY,
        WorkerErrorCode.POLICY_VIOLATION,
        False,
    )
    assert [(d["rule"], d["path"]) for d in failure.details or []] == [
        ("flavors", "server.flavorRef"),
        ("max_count", "server.count"),
    ]
    assert observer.violations == ["flavors", "max_count"]
    rails.check(request(server_body()))  # an allowed request passes


async def test_no_budget_and_dry_runs_spend_nothing() -> None:
    rails, _, _ = guardrails("default: {max_count: 5}")
    assert await rails.admit(request(server_body(count=5)), PARTITION, time.monotonic()) is None
    rails, _, _ = guardrails("default: {max_servers_per_hour: 1}")
    dry = {**server_body(), "dry_run": True}
    for _ in range(3):
        assert await rails.admit(request(dry), PARTITION, time.monotonic()) is None


async def test_over_budget_a_request_parks_and_its_partition_keeps_moving() -> None:
    """Issue 25: project A over its budget paused the partition, so project B's request behind
    it waited for A's room or deadline. Now A's request waits alone."""
    rails, holds, observer = guardrails("default: {max_servers_per_hour: 3}", window=0.5)
    first = await rails.admit(request(server_body(count=2)), PARTITION, time.monotonic() + 10)
    assert first is not None
    waiter = asyncio.create_task(
        rails.admit(request(server_body(count=2)), PARTITION, time.monotonic() + 10)
    )
    await asyncio.sleep(0.1)
    assert not waiter.done()
    assert not holds.is_held(*PARTITION)  # the partition moves on for other records
    assert (observer.waiting, observer.parked) == (1, 1)
    deadline = time.monotonic() + 10
    assert await rails.admit(request(server_body(), project="p2"), PARTITION, deadline)
    assert await asyncio.wait_for(waiter, 5) is not None
    assert (observer.waiting, observer.parked) == (0, 0)


async def test_beyond_the_parked_bound_a_waiter_holds_its_partition_until_room_comes() -> None:
    rails, holds, observer = guardrails(
        "default: {max_servers_per_hour: 3}", window=0.5, parked_per_partition=1
    )
    deadline = time.monotonic() + 10
    assert await rails.admit(request(server_body(count=3)), PARTITION, deadline) is not None
    parked = asyncio.create_task(rails.admit(request(server_body(count=2)), PARTITION, deadline))
    await asyncio.sleep(0.05)
    assert not holds.is_held(*PARTITION)
    holding = asyncio.create_task(rails.admit(request(server_body()), PARTITION, deadline))
    await asyncio.sleep(0.05)
    assert holds.is_held(*PARTITION)
    assert not holds.is_held("requests", 4)
    assert (observer.waiting, observer.parked) == (2, 1)
    assert await asyncio.wait_for(parked, 5) is not None
    assert await asyncio.wait_for(holding, 5) is not None
    assert not holds.is_held(*PARTITION)
    assert (observer.waiting, observer.parked) == (0, 0)


async def test_a_request_still_waiting_at_its_deadline_fails_timeout_retryable() -> None:
    rails, holds, _ = guardrails("default: {max_servers_per_hour: 2}")
    assert await rails.admit(request(server_body(count=2)), PARTITION, time.monotonic() + 10)
    with pytest.raises(StageFailure) as caught:
        await rails.admit(request(server_body()), PARTITION, time.monotonic() + 0.2)
    assert (caught.value.stage, caught.value.code, caught.value.retryable) == (
        FailureStage.TIMEOUT,
        WorkerErrorCode.DEADLINE_EXCEEDED,
        True,
    )
    assert "hourly budget" in caught.value.message
    assert not holds.is_held(*PARTITION)


async def test_other_projects_have_budgets_of_their_own() -> None:
    rails, _, _ = guardrails(
        "default: {max_servers_per_hour: 1}\nprojects: {big: {max_servers_per_hour: 10}}"
    )
    deadline = time.monotonic() + 10
    assert await rails.admit(request(server_body(), project="p1"), PARTITION, deadline)
    assert await rails.admit(request(server_body(count=5), project="big"), PARTITION, deadline)
    assert await rails.admit(request(server_body(count=5), project="big"), PARTITION, deadline)


async def test_a_tenants_rules_and_budget_apply_to_its_requests_only() -> None:
    rails, _, observer = guardrails(
        "default: {max_count: 1}\ntenants: {team-a: {max_count: 5, max_servers_per_hour: 5}}\n"
    )
    rails.check(request(server_body(count=5), project="a-1", tenant="team-a"))
    with pytest.raises(StageFailure):
        rails.check(request(server_body(count=5), project="b-1", tenant="team-b"))
    assert observer.violations == ["max_count"]
    deadline = time.monotonic() + 10
    a = request(server_body(count=5), project="a-1", tenant="team-a")
    assert await rails.admit(a, PARTITION, deadline) is not None
    assert (
        await rails.admit(
            request(server_body(), project="b-1", tenant="team-b"), PARTITION, deadline
        )
        is None
    )
