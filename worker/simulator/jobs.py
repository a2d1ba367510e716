"""ECS jobs: their planned life and how `GET /v1/{project_id}/jobs/{job_id}` shows it.

Owns the `Job` model. A job's whole future is drawn once, at creation, from the seeded
generator (one sub-job per server, each with its own duration and outcome); its status at any
moment is then computed from timestamps, so thousands of running jobs cost no tasks or timers.

Life of a job (times relative to ``started_at``, which is the creation time, or the payment
time for an unpaid prePaid order; until then the job is ``PENDING_PAYMENT``):
``INIT`` for the first tenth of the shortest sub-job, then ``RUNNING``; each sub-job turns
``SUCCESS``/``FAIL`` at its own end; the job ends with the last one, ``FAIL`` if any failed.
While running, ``end_time`` is ``""`` and ``error_code``/``fail_reason`` are absent, as in the
real API; a finished job carries both (null on success). A running sub-job's ``entities`` hold
only ``server_id`` (as in a real RUNNING answer); a finished one has what the SDK's
``SubJobEntities`` has: ``nic_id`` once the server is built, ``errorcode_message`` on failure.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from worker.simulator.knobs import Range
from worker.simulator.wire import api_time

INIT_FRACTION = 0.1


@dataclass(frozen=True)
class Failure:
    """A job failure code as the job API reports it in ``error_code`` / ``fail_reason``."""

    code: str
    reason: str
    whole_job: bool  # quota failures stop every server of the job; capacity ones may not


# Realistic causes, with weights: sold out dominates in practice.
FAILURES: tuple[tuple[Failure, int], ...] = (
    (
        Failure(
            "Ecs.0319",
            "Insufficient capacity for the flavor in the availability zone (sold out). "
            "Try another flavor or AZ.",
            whole_job=False,
        ),
        50,
    ),
    (
        Failure(
            "Ecs.0001",
            "Insufficient ECS quota. Contact customer service to increase quota.",
            whole_job=True,
        ),
        25,
    ),
    (
        Failure("Ecs.0012", "Insufficient IP addresses in the subnet.", whole_job=False),
        15,
    ),
    (
        Failure(
            "Ecs.0021",
            "Insufficient EVS disk quota. Contact customer service to increase quota.",
            whole_job=True,
        ),
        10,
    ),
)


#: What a partial failure (``partial_failure_rate``) reports: one server could not be placed;
#: and what every sub-job of a job for a sold-out offering (``Faults.sold_out``) reports.
PARTIAL_FAILURE = SOLD_OUT = FAILURES[0][0]


@dataclass(frozen=True, slots=True)
class SubJob:
    """One ``createSingleServer`` sub-job: its server and when/how it ends."""

    job_id: str
    server_id: str
    end_offset: float  # seconds after the job started
    failure: Failure | None


@dataclass(slots=True)
class Job:
    """A ``createServer`` job. Mutable only in ``started_at`` (set when its order is paid)."""

    job_id: str
    project_id: str
    created_at: float
    started_at: float | None
    init_seconds: float
    duration: float
    sub_jobs: tuple[SubJob, ...]
    failure: Failure | None
    order_id: str | None

    def status(self, now: float) -> str:
        """INIT, RUNNING, SUCCESS, FAIL or PENDING_PAYMENT at ``now``."""
        if self.started_at is None:
            return "PENDING_PAYMENT"
        elapsed = now - self.started_at
        if elapsed >= self.duration:
            return "FAIL" if self.failure else "SUCCESS"
        return "INIT" if elapsed < self.init_seconds else "RUNNING"

    def finished_at(self) -> float | None:
        """When the job ends (known once it has started)."""
        return None if self.started_at is None else self.started_at + self.duration

    def server_ready(self, index: int, now: float) -> bool:
        """Whether sub-job ``index`` has built its server by ``now``."""
        sub = self.sub_jobs[index]
        return (
            self.started_at is not None
            and sub.failure is None
            and now - self.started_at >= sub.end_offset
        )


@dataclass(frozen=True)
class JobPlan:
    """What a create asks of the job planner."""

    project_id: str
    count: int
    job_seconds: Range
    failure_rate: float
    awaiting_payment: bool
    order_id: str | None
    partial_failure_rate: float = 0.0
    sold_out: bool = False  # the offering is out of capacity: every sub-job fails Ecs.0319


def plan_job(
    plan: JobPlan,
    rng: random.Random,
    new_id: Callable[[], str],
    new_server_id: Callable[[], str],
    now: float,
) -> Job:
    """Draw a job's whole life: durations, outcome and failing sub-jobs."""
    low, high = plan.job_seconds
    offsets = [rng.uniform(low, high) for _ in range(plan.count)]
    failure: Failure | None = None
    failing: set[int] = set()
    if plan.sold_out:
        failure, failing = SOLD_OUT, set(range(plan.count))
    elif plan.failure_rate and rng.random() < plan.failure_rate:
        failures, weights = zip(*FAILURES, strict=True)
        failure = rng.choices(failures, weights=weights)[0]
        if failure.whole_job:
            failing = set(range(plan.count))
        else:
            failing = set(rng.sample(range(plan.count), rng.randint(1, plan.count)))
    elif plan.count > 1 and plan.partial_failure_rate and rng.random() < plan.partial_failure_rate:
        failure = PARTIAL_FAILURE
        failing = {rng.randrange(plan.count)}
    sub_jobs = tuple(
        SubJob(
            job_id=new_id(),
            server_id=new_server_id(),
            end_offset=offset,
            failure=failure if index in failing else None,
        )
        for index, offset in enumerate(offsets)
    )
    return Job(
        job_id=new_id(),
        project_id=plan.project_id,
        created_at=now,
        started_at=None if plan.awaiting_payment else now,
        init_seconds=INIT_FRACTION * min(offsets),
        duration=max(offsets),
        sub_jobs=sub_jobs,
        failure=failure,
        order_id=plan.order_id,
    )


def _render_sub_job(job: Job, sub: SubJob, started_at: float, now: float) -> dict[str, object]:
    begin = started_at + job.init_seconds
    view: dict[str, object] = {
        "begin_time": api_time(begin),
        "end_time": "",
        "entities": {"server_id": sub.server_id},
        "job_id": sub.job_id,
        "job_type": "createSingleServer",
        "status": "RUNNING",
    }
    if now - started_at >= sub.end_offset:
        view["end_time"] = api_time(started_at + sub.end_offset)
        view["status"] = "FAIL" if sub.failure else "SUCCESS"
        view["error_code"] = sub.failure.code if sub.failure else None
        view["fail_reason"] = sub.failure.reason if sub.failure else None
        view["entities"] = _finished_entities(sub)
    return view


def _finished_entities(sub: SubJob) -> dict[str, str]:
    """SDK ``SubJobEntities``: the server, its primary NIC once built, the reason on failure."""
    if sub.failure is not None:
        return {"server_id": sub.server_id, "errorcode_message": sub.failure.reason}
    nic_id = str(uuid.uuid5(uuid.UUID(sub.server_id), "primary-nic"))
    return {"server_id": sub.server_id, "nic_id": nic_id}


def render_job(job: Job, now: float) -> dict[str, object]:
    """The body of ``GET /v1/{project_id}/jobs/{job_id}`` at ``now``."""
    status = job.status(now)
    view: dict[str, object] = {
        "begin_time": api_time(job.created_at),
        "end_time": "",
        "entities": {},
        "job_id": job.job_id,
        "job_type": "createServer",
        "status": status,
    }
    if job.started_at is None or status == "INIT":
        return view
    started_at = job.started_at
    view["entities"] = {
        "sub_jobs": [_render_sub_job(job, sub, started_at, now) for sub in job.sub_jobs],
        "sub_jobs_total": len(job.sub_jobs),
    }
    if status in ("SUCCESS", "FAIL"):
        view["end_time"] = api_time(started_at + job.duration)
        view["error_code"] = job.failure.code if job.failure else None
        view["fail_reason"] = job.failure.reason if job.failure else None
    return view
