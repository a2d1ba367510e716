"""The guardrails step of a request: the policy check before any API call, the hourly budget
before the create, and the budget given back when no server came of it.

A request that breaks the policy fails with stage `policy`, code `ECSP.PolicyViolation`, not
retryable, `details` listing every broken rule with its JSON path. A request over its project's
hourly budget waits until there is room or its deadline passes (stage `timeout`, retryable): parked,
so its partition keeps moving for the records behind it, or, beyond the bound of parked requests per
partition, holding its partition's intake (`worker.pipeline.parking`). Dry runs are checked but
spend no budget. What a request spent is given back when the rest of its life created nothing: the
API refused the create, the create was never sent, or its servers were found by tag instead. A
request with `ecs-fallbacks` is checked per placement by the place step instead
(`GuardrailsParts.forbidden_of`: a forbidden alternative is skipped, and only when all are does the
request fail at `policy`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import structlog

from ecsp_contract.failures import FailureStage, WorkerErrorCode
from worker.pipeline.failure import StageFailure
from worker.pipeline.parking import Parking
from worker.pipeline.placement_plan import Forbidden, nothing_forbidden
from worker.pipeline.port import Outcome, PartitionKey
from worker.pipeline.state import DecodedRequest, Request, Step, Validated
from worker.policy.budget import HourlyBudget, Spending
from worker.policy.check import requested_servers, violations
from worker.policy.model import PolicyDocument

log = structlog.get_logger("worker.pipeline")


class GuardrailsObserver(Protocol):
    def policy_violation(self, rule: str) -> None: ...

    def budget_waiting(self, delta: int) -> None: ...

    def budget_parked(self, delta: int) -> None: ...


class SilentGuardrailsObserver:
    def policy_violation(self, rule: str) -> None:
        return None

    def budget_waiting(self, delta: int) -> None:
        return None

    def budget_parked(self, delta: int) -> None:
        return None


@dataclass(frozen=True)
class GuardrailsParts:
    """What the guardrails take from the process: the policy in force (a callable: it may be
    reloaded), the hourly budget, how many waiters park per partition, the observer."""

    policy: Callable[[], PolicyDocument]
    budget: HourlyBudget
    parked_per_partition: int
    observer: GuardrailsObserver = SilentGuardrailsObserver()  # noqa: RUF009 - stateless

    def forbidden_of(self, request: DecodedRequest) -> Forbidden:
        """The rules each of the request's placements breaks (the place step's hook)."""
        rules = self.policy().rules_for(request.project_id, request.tenant)
        return lambda alternative: violations(rules, alternative.body_of(request.wire))


def nothing_forbidden_of(request: DecodedRequest) -> Forbidden:
    """Without a policy file, no placement is forbidden."""
    del request
    return nothing_forbidden


@dataclass(frozen=True)
class Guardrails:
    """The policy in force (a callable: it may be reloaded), the budget, where waiters wait."""

    policy: Callable[[], PolicyDocument]
    budget: HourlyBudget
    parking: Parking
    next_step: Step[Validated]
    observer: GuardrailsObserver = SilentGuardrailsObserver()  # noqa: RUF009 - stateless
    stage: ClassVar[FailureStage] = FailureStage.POLICY

    async def __call__(self, request: Request[Validated]) -> Outcome:
        spent = await self.checked_and_admitted(request.state)
        try:
            outcome = await self.next_step(request)
        except StageFailure as failure:
            if failure.stage is FailureStage.POLICY:  # every placement forbidden (place step)
                self._count(failure.details or [])
            if spent is not None and failure.created_nothing:
                spent.refund()
            raise
        if spent is not None and not outcome.created:
            spent.refund()  # found by tag instead of created
        return outcome

    async def checked_and_admitted(self, state: Validated) -> Spending | None:
        """The policy check (per placement later, with fallbacks), then the budget's admission
        (what was spent: None for none)."""
        if not state.fallbacks:
            self.check(state.request)
        partition = (state.message.topic, state.message.partition)
        return await self.admit(state.request, partition, state.ctx.deadline.at)

    def check(self, request: DecodedRequest) -> None:
        """Raises a `policy` StageFailure listing every rule the request breaks."""
        found = violations(
            self.policy().rules_for(request.project_id, request.tenant), request.wire
        )
        if not found:
            return
        for violation in found:
            self.observer.policy_violation(violation.rule)
        raise StageFailure(
            stage=FailureStage.POLICY,
            code=WorkerErrorCode.POLICY_VIOLATION,
            message="the request breaks the platform's policy: " + "; ".join(str(v) for v in found),
            retryable=False,
            details=[v.as_detail() for v in found],
        )

    def _count(self, details: list[dict[str, Any]]) -> None:
        """`ecsp_policy_violations_total`: one per broken rule of a request failing at policy."""
        for detail in details:
            self.observer.policy_violation(str(detail["rule"]))

    async def admit(
        self, request: DecodedRequest, partition: PartitionKey, deadline: float
    ) -> Spending | None:
        """Waits until the project's hourly budget has room for the request's servers.

        Returns what was spent (None when no budget applies); raises a `timeout` StageFailure
        when `deadline` (monotonic) passes first.
        """
        if request.body.dry_run:
            return None
        project, tenant = request.project_id, request.tenant
        servers = requested_servers(request.wire)

        def limit() -> int | None:
            return self.policy().rules_for(project, tenant).max_servers_per_hour

        cap = limit()
        if cap is None:
            return None
        spent = self.budget.try_spend(project, servers, cap)
        if spent is not None:
            return spent
        log.info(
            "waiting for the project's hourly budget",
            servers=servers,
            budget=cap,
            used=self.budget.used(project),
        )
        with self.parking.waiting(partition), self._waiting():
            spent = await self.budget.spend(project, servers, limit, deadline)
        if spent is None:
            raise StageFailure(
                stage=FailureStage.TIMEOUT,
                code=WorkerErrorCode.DEADLINE_EXCEEDED,
                message=f"waited for project {project}'s hourly budget until the deadline: "
                f"{servers} more server(s) did not fit",
                retryable=True,
            )
        log.info("hourly budget has room; creating", servers=servers)
        return spent

    @contextlib.contextmanager
    def _waiting(self) -> Iterator[None]:
        self.observer.budget_waiting(+1)
        try:
            yield
        finally:
            self.observer.budget_waiting(-1)
