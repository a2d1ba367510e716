"""What one request did with its placements (`PlacementRecord`, which becomes `data.placement`)
and the failures that end a request's placements: every placement sold out (`capacity_exhausted`) or
none allowed (`forbidden_failure`)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from ecsp_contract.events import Placement, PlacementAttempt, PlacementSkip
from ecsp_contract.failures import FailureStage, WorkerErrorCode
from worker.pipeline.alternatives import Alternative
from worker.pipeline.deletion import built_servers
from worker.pipeline.failure import StageFailure
from worker.pipeline.placement_plan import Skipped

#: A failure message lists at most this many placements.
MAX_LISTED = 11


@dataclass
class PlacementRecord:
    """What one request did with its placements so far."""

    first: Alternative
    attempts: list[tuple[Alternative, str | None]] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)

    def if_it_succeeds(self, alternative: Alternative) -> Placement:
        """`data.placement` if `alternative`, now tried, succeeds."""
        return PlacementRecord(
            self.first, [*self.attempts, (alternative, None)], self.skipped
        ).placement()

    def placement(self) -> Placement:
        last = self.attempts[-1][0] if self.attempts else self.first
        return Placement(
            flavorRef=last.flavor_ref,
            availability_zone=last.availability_zone,
            attempts=[
                PlacementAttempt(
                    flavorRef=a.flavor_ref, availability_zone=a.availability_zone, code=c
                )
                for a, c in self.attempts
            ],
            skipped=[
                PlacementSkip(
                    flavorRef=s.alternative.flavor_ref,
                    availability_zone=s.alternative.availability_zone,
                    reason=s.reason,
                )
                for s in self.skipped
            ],
        )


def left_behind(failure: StageFailure) -> list[str]:
    """Servers a failed job built that are still there (not deleted by a compensation)."""
    deleted = set(failure.compensation.deleted) if failure.compensation else set()
    return [server for server in built_servers(failure.sub_jobs) if server not in deleted]


def _named(alternative: Alternative) -> str:
    return f"{alternative.flavor_ref}@{alternative.availability_zone or '(no zone)'}"


def capacity_exhausted(
    last: StageFailure, record: PlacementRecord, *, single: bool
) -> StageFailure:
    """Every placement sold out: ECSP.CapacityExhausted (the API's code with one placement)."""
    placement = record.placement()
    if single:
        return dataclasses.replace(last, placement=placement)
    tried = [f"{_named(a)} {code}" for a, code in record.attempts]
    skipped = [f"{_named(s.alternative)} ({s.reason})" for s in record.skipped]
    message = "every placement was sold out: " + ", ".join(tried[:MAX_LISTED])
    if skipped:
        message += "; skipped: " + ", ".join(skipped[:MAX_LISTED])
    return dataclasses.replace(
        last,
        code=WorkerErrorCode.CAPACITY_EXHAUSTED,
        message=message,
        retryable=True,
        placement=placement,
    )


def forbidden_failure(record: PlacementRecord) -> StageFailure:
    """Nothing was allowed: the policy failure of the body's own placement, as without
    alternatives (`worker.pipeline.guardrails`), naming the alternatives forbidden too."""
    violations = next(s.violations for s in record.skipped if s.alternative == record.first)
    alternatives = len(record.skipped)
    also = f" (and its {alternatives - 1} alternative(s))" if alternatives > 1 else ""
    return StageFailure(
        stage=FailureStage.POLICY,
        code=WorkerErrorCode.POLICY_VIOLATION,
        message="the request breaks the platform's policy"
        + also
        + ": "
        + "; ".join(str(v) for v in violations),
        retryable=False,
        details=[v.as_detail() for v in violations],
        placement=record.placement(),
    )
