"""The guardrails step of a request: the policy check before any API call, the hourly budget
before the create.

A request that breaks the policy fails with stage `policy`, code `ECSP.PolicyViolation`, not
retryable, `details` listing every broken rule with its JSON path. A request over its project's
hourly budget waits — holding its partition's intake, so the consumer pauses it — until there is
room or its deadline passes (stage `timeout`, retryable). Dry runs are checked but spend no budget.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

import structlog

from ecsp_contract.failures import FailureStage, WorkerErrorCode
from worker.pipeline.decode import DecodedRequest
from worker.pipeline.failure import StageFailure
from worker.pipeline.holds import IntakeHolds, PartitionKey
from worker.policy.budget import HourlyBudget, Spending
from worker.policy.check import requested_servers, violations
from worker.policy.model import PolicyDocument

log = structlog.get_logger("worker.pipeline")


class GuardrailsObserver(Protocol):
    def policy_violation(self, rule: str) -> None: ...

    def budget_waiting(self, delta: int) -> None: ...


@dataclass(frozen=True)
class Guardrails:
    """The policy in force (a callable: it may be reloaded), the budget, the intake holds."""

    policy: Callable[[], PolicyDocument]
    budget: HourlyBudget
    holds: IntakeHolds
    observer: GuardrailsObserver | None = None

    def check(self, request: DecodedRequest) -> None:
        """Raises a `policy` StageFailure listing every rule the request breaks."""
        found = violations(self.policy().rules_for(request.project_id), request.wire)
        if not found:
            return
        if self.observer is not None:
            for violation in found:
                self.observer.policy_violation(violation.rule)
        raise StageFailure(
            stage=FailureStage.POLICY,
            code=WorkerErrorCode.POLICY_VIOLATION,
            message="the request breaks the platform's policy: " + "; ".join(str(v) for v in found),
            retryable=False,
            details=[v.as_detail() for v in found],
        )

    async def admit(
        self, request: DecodedRequest, partition: PartitionKey, deadline: float
    ) -> Spending | None:
        """Waits until the project's hourly budget has room for the request's servers.

        Returns what was spent (None when no budget applies); raises a `timeout` StageFailure
        when `deadline` (monotonic) passes first.
        """
        if request.body.dry_run:
            return None
        project = request.project_id
        servers = requested_servers(request.wire)

        def limit() -> int | None:
            return self.policy().rules_for(project).max_servers_per_hour

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
        with self.holds.holding(partition), self._waiting():
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
        if self.observer is not None:
            self.observer.budget_waiting(+1)
        try:
            yield
        finally:
            if self.observer is not None:
                self.observer.budget_waiting(-1)
