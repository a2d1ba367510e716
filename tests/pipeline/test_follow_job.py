"""Following a job, pinned on a fake clock: which job is read, when, and every field of each end.

The reader double checks every argument it receives, the clock moves only when the code under
test sleeps, and the jitter comes from a stub, so each test states exact times and delays.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import pytest

from ecsp_contract.events import SubJobInfo
from tests.support.clock import FakeClock
from worker.ecs.errors import EcsApiError, network_error
from worker.ecs.models import JobStatus, SubJob
from worker.pipeline.events import sub_job_infos
from worker.pipeline.failure import StageFailure
from worker.pipeline.follow import follow_job
from worker.pipeline.schedule import PollSchedule

JOB_ID = "ff8080828e1234560000000000000001"
PROJECT = "0605767ea3000f5b2fe8c0051de0b9ba"
ORDER = "CS2411261000ABCDE"
CREATED_SERVERS = ("11111111-1111-4111-8111-111111111111",)
#: initial 1 s, doubling, capped at 4 s.
SCHEDULE = PollSchedule(initial=1.0, factor=2.0, cap=4.0)


class Jitter(random.Random):
    """`uniform(a, b)` at a fixed point of [a, b]: 0 = lowest, 0.5 = no jitter, 1 = highest."""

    def __init__(self, point: float = 0.5) -> None:
        super().__init__(0)
        self.point = point

    def uniform(self, a: float, b: float) -> float:
        return a + (b - a) * self.point


@dataclass
class JobReader:
    """Answers reads of JOB_ID in PROJECT from `answers` in turn (the last one repeats)."""

    time: FakeClock
    answers: list[JobStatus | EcsApiError]
    read_at: list[float] = field(default_factory=list)

    async def get_job(self, job_id: str, project_id: str) -> JobStatus:
        assert (job_id, project_id) == (JOB_ID, PROJECT), "read the created job in its project"
        self.read_at.append(self.time.now)
        answer = self.answers[min(len(self.read_at), len(self.answers)) - 1]
        if isinstance(answer, EcsApiError):
            raise answer
        return answer


def sub(
    status: str, server: str | None, code: str | None = None, reason: str | None = None
) -> SubJob:
    return SubJob(
        job_id=f"sub-{server}",
        status=status,
        server_id=server,
        error_code=code,
        fail_reason=reason,
        begin_time="2026-11-26T10:00:00.000Z",
        end_time="2026-11-26T10:04:00.000Z",
    )


def job(
    status: str, *subs: SubJob, code: str | None = None, reason: str | None = None
) -> JobStatus:
    return JobStatus(
        job_id=JOB_ID,
        status=status,
        sub_jobs=subs,
        error_code=code,
        fail_reason=reason,
        begin_time="2026-11-26T10:00:00.000Z",
        end_time=None,
        request_id="req-job",
    )


@dataclass
class Run:
    time: FakeClock
    reader: JobReader
    announced: list[JobStatus]


async def follow(
    answers: list[JobStatus | EcsApiError], *, deadline_in: float = 60.0, jitter: float = 0.5
) -> tuple[JobStatus | StageFailure, Run]:
    """Follows JOB_ID against `answers`; returns the job or the failure, and what happened."""
    fake = FakeClock(100.0)
    run = Run(fake, JobReader(fake, answers), [])

    async def on_awaiting_payment(status: JobStatus) -> None:
        run.announced.append(status)

    try:
        result: JobStatus | StageFailure = await follow_job(
            run.reader,
            job_id=JOB_ID,
            order_id=ORDER,
            server_ids=CREATED_SERVERS,
            project_id=PROJECT,
            schedule=SCHEDULE,
            deadline=fake.now + deadline_in,
            on_awaiting_payment=on_awaiting_payment,
            rng=Jitter(jitter),
            sleep=fake.sleep,
            clock=fake,
        )
    except StageFailure as failure:
        result = failure
    return result, run


def failure_of(result: JobStatus | StageFailure) -> StageFailure:
    assert isinstance(result, StageFailure), result
    return result


# ----- the schedule


@pytest.mark.parametrize(
    ("point", "expected"),
    [
        (0.5, [1.0, 2.0, 4.0, 4.0, 4.0]),
        (0.0, [0.9, 1.8, 3.6, 3.6, 3.6]),
        (1.0, [1.1, 2.2, 4.4, 4.4, 4.4]),
    ],
)
def test_delays_start_at_initial_grow_by_factor_to_the_cap_with_ten_percent_jitter(
    point: float, expected: list[float]
) -> None:
    delays = SCHEDULE.delays(Jitter(point))
    assert [round(next(delays), 9) for _ in expected] == expected


def test_a_cap_below_a_grown_delay_is_kept_not_overshot() -> None:
    delays = PollSchedule(initial=3.0, factor=3.0, cap=5.0).delays(Jitter())
    assert [next(delays) for _ in range(3)] == [3.0, 5.0, 5.0]


# ----- what is read, and when


async def test_each_read_of_the_created_job_comes_after_its_scheduled_wait() -> None:
    result, run = await follow([job("INIT"), job("RUNNING"), job("RUNNING"), job("SUCCESS")])
    assert isinstance(result, JobStatus)
    assert result.status == "SUCCESS"
    assert run.time.sleeps == [1.0, 2.0, 4.0, 4.0]
    assert run.reader.read_at == [101.0, 103.0, 107.0, 111.0]


async def test_success_ends_the_polling_at_once() -> None:
    done = job("SUCCESS", sub("SUCCESS", "s1"))
    result, run = await follow([done, job("FAIL")])
    assert result is done
    assert len(run.reader.read_at) == 1


async def test_transient_read_errors_are_skipped_on_schedule() -> None:
    throttled = EcsApiError("APIG.0308", "slow down", http_status=429, retryable=True)
    result, run = await follow([throttled, throttled, job("SUCCESS")])
    assert isinstance(result, JobStatus)
    assert run.reader.read_at == [101.0, 103.0, 107.0]


async def test_awaiting_payment_is_announced_once_with_the_job_then_success() -> None:
    pending = job("PENDING_PAYMENT")
    result, run = await follow([pending, pending, job("SUCCESS")])
    assert isinstance(result, JobStatus)
    assert run.announced == [pending]


# ----- job reads that fail for good


@pytest.mark.parametrize(("status", "code"), [(403, "Ecs.0401"), (400, "Ecs.0005")])
async def test_a_rejected_job_read_fails_the_job_stage_with_the_api_code(
    status: int, code: str
) -> None:
    error = EcsApiError(code, "no access", http_status=status, request_id="req-9", retryable=False)
    running = job("RUNNING", sub("RUNNING", "s2"))
    failure = failure_of((await follow([running, error]))[0])
    assert (failure.stage, failure.code, failure.retryable) == ("job", code, False)
    assert failure.message == f"reading job {JOB_ID} failed: {code}: no access"
    assert (failure.http_status, failure.request_id, failure.details) == (status, "req-9", None)
    assert (failure.job_id, failure.order_id) == (JOB_ID, ORDER)
    assert failure.server_ids == (*CREATED_SERVERS, "s2")
    assert failure.sub_jobs == ()


async def test_a_job_that_is_gone_fails_with_job_not_found_naming_the_api_code() -> None:
    gone = EcsApiError("Ecs.0000", "not found", http_status=404, request_id="r", retryable=False)
    failure = failure_of((await follow([gone]))[0])
    assert (failure.stage, failure.code) == ("job", "ECSP.JobNotFound")
    assert failure.details == [{"api_code": "Ecs.0000"}]
    assert (failure.http_status, failure.job_id, failure.server_ids) == (
        404,
        JOB_ID,
        CREATED_SERVERS,
    )


# ----- jobs that end FAIL


async def test_a_failed_job_reports_its_code_reason_and_every_sub_job() -> None:
    failed = job(
        "FAIL",
        sub("SUCCESS", "s1"),
        sub("FAIL", "s2", "Ecs.0319", "sold out"),
        code="Ecs.0001",
        reason="quota",
    )
    failure = failure_of((await follow([failed]))[0])
    assert (failure.stage, failure.code, failure.retryable) == ("job", "Ecs.0001", False)
    assert failure.message == f"job {JOB_ID} failed: quota (1 of 2 servers succeeded)"
    assert failure.request_id == "req-job"
    assert failure.details == [
        {
            "sub_job_id": "sub-s1",
            "server_id": "s1",
            "status": "SUCCESS",
            "error_code": None,
            "fail_reason": None,
        },
        {
            "sub_job_id": "sub-s2",
            "server_id": "s2",
            "status": "FAIL",
            "error_code": "Ecs.0319",
            "fail_reason": "sold out",
        },
    ]
    assert (failure.job_id, failure.order_id) == (JOB_ID, ORDER)
    assert failure.server_ids == (*CREATED_SERVERS, "s1", "s2")
    assert failure.sub_jobs == sub_job_infos(failed)


async def test_without_a_job_level_code_the_first_failed_sub_jobs_code_and_reason_are_used() -> (
    None
):
    failed = job(
        "FAIL",
        sub("SUCCESS", "s1", "Ecs.9999", "not a failure"),
        sub("FAIL", "s2", None, None),
        sub("FAIL", "s3", "Ecs.0319", "sold out"),
        sub("FAIL", "s4", "Ecs.0001", "quota"),
    )
    failure = failure_of((await follow([failed]))[0])
    assert failure.code == "Ecs.0319"
    assert failure.message == f"job {JOB_ID} failed: sold out (1 of 4 servers succeeded)"


async def test_a_failed_job_that_says_nothing_still_fails_with_the_workers_code() -> None:
    failure = failure_of((await follow([job("FAIL")]))[0])
    assert failure.code == "ECSP.JobFailed"
    assert failure.message == f"job {JOB_ID} failed: no reason given (no sub-jobs)"
    assert failure.details is None
    assert failure.server_ids == CREATED_SERVERS


# ----- the deadline


async def test_the_last_wait_is_cut_so_the_last_read_comes_exactly_at_the_deadline() -> None:
    """1 + 2 = 3 s, then a 4 s wait would pass the 5.5 s deadline: cut to 2.5 s, read, fail."""
    result, run = await follow([job("RUNNING")], deadline_in=5.5)
    failure = failure_of(result)
    assert run.time.sleeps == [1.0, 2.0, 2.5]
    assert run.reader.read_at == [101.0, 103.0, 105.5]
    assert failure.stage == "timeout"


async def test_a_deadline_passing_before_any_successful_read_fails_timeout_knowing_the_create() -> (
    None
):
    down = network_error(ConnectionRefusedError("refused"))
    result, run = await follow([down], deadline_in=3.0)
    failure = failure_of(result)
    assert run.reader.read_at == [101.0, 103.0]
    assert (failure.stage, failure.code, failure.retryable) == (
        "timeout",
        "ECSP.DeadlineExceeded",
        True,
    )
    assert failure.message == (
        f"job {JOB_ID} did not end before the request's deadline (last status unknown)"
    )
    assert (failure.job_id, failure.order_id, failure.server_ids) == (
        JOB_ID,
        ORDER,
        CREATED_SERVERS,
    )
    assert failure.sub_jobs == ()
    assert (failure.http_status, failure.request_id, failure.details) == (None, None, None)


async def test_a_running_job_at_the_deadline_reports_its_last_status_and_sub_jobs() -> None:
    running = job("RUNNING", sub("SUCCESS", "s1"), sub("RUNNING", None))
    failure = failure_of((await follow([running], deadline_in=2.0))[0])
    assert failure.stage == "timeout"
    assert failure.message.endswith("(last status RUNNING)")
    assert failure.sub_jobs == sub_job_infos(running)
    assert failure.server_ids == (*CREATED_SERVERS, "s1")


async def test_an_order_still_unpaid_at_the_deadline_fails_payment() -> None:
    pending = job("PENDING_PAYMENT", sub("PENDING_PAYMENT", "s1"))
    result, run = await follow([pending], deadline_in=2.0)
    failure = failure_of(result)
    assert (failure.stage, failure.code, failure.retryable) == (
        "payment",
        "ECSP.DeadlineExceeded",
        True,
    )
    assert failure.message == f"order {ORDER} was not paid before the request's deadline"
    assert failure.sub_jobs == sub_job_infos(pending)
    assert run.announced == [pending]


async def test_a_deadline_already_passed_reads_nothing() -> None:
    result, run = await follow([job("SUCCESS")], deadline_in=0.0)
    assert failure_of(result).stage == "timeout"
    assert (run.reader.read_at, run.time.sleeps) == ([], [])


def test_sub_job_infos_copy_every_field() -> None:
    one = sub("FAIL", "s9", "Ecs.0319", "sold out")
    assert sub_job_infos(job("FAIL", one)) == (
        SubJobInfo(
            job_id="sub-s9",
            status="FAIL",
            server_id="s9",
            error_code="Ecs.0319",
            fail_reason="sold out",
            begin_time="2026-11-26T10:00:00.000Z",
            end_time="2026-11-26T10:04:00.000Z",
        ),
    )
