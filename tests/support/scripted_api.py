"""A scripted ECS API for pipeline tests (no HTTP): creates answer from a script, jobs in turn.

Owns `ScriptedApi`, `ACCEPTED` (an accepted create) and `job` (a job status with sub-jobs). It
is the client-level double, as httpx's MockTransport is the transport-level one
(`tests.support.mock_transport`): it checks what it is asked (a job is read only by the id
and in the project its create returned) so a test cannot pass by calling it wrongly.
"""

from __future__ import annotations

import asyncio
from typing import Any

from tests.support.fake_servers import NoServersListed
from worker.ecs.errors import EcsApiError, unavailable_error
from worker.ecs.models import CreateResult, JobStatus, SubJob


def job(status: str, *subs: tuple[str, str | None], code: str | None = None) -> JobStatus:
    return JobStatus(
        job_id="ff8080828e1234560000000000000001",
        status=status,
        sub_jobs=tuple(
            SubJob(
                job_id=f"sub{i}",
                status=sub_status,
                server_id=server,
                error_code="Ecs.0319" if sub_status == "FAIL" else None,
                fail_reason="sold out" if sub_status == "FAIL" else None,
                begin_time="2026-11-26T10:00:00.000Z",
                end_time="",
            )
            for i, (sub_status, server) in enumerate(subs)
        ),
        error_code=code,
        fail_reason="flavor sold out" if code else None,
        begin_time="2026-11-26T10:00:00.000Z",
        end_time="2026-11-26T10:04:00.000Z" if status in ("SUCCESS", "FAIL") else "",
        request_id="req-job",
    )


class ScriptedApi(NoServersListed):
    """Answers create with `create` (a result or an error) and job reads from `jobs` in turn.

    Honest about its arguments: a job may only be read after a create returned it, by that
    job id, in the project the create was made in.
    """

    def __init__(
        self,
        create: CreateResult | EcsApiError,
        jobs: list[JobStatus | EcsApiError],
        *,
        unavailable_creates: int = 0,
    ):
        self.create = create
        self.jobs = jobs
        self.bodies: list[dict[str, Any]] = []
        self.tokens: list[str] = []
        self.projects: list[str] = []
        self.job_reads = 0
        self.unavailable_creates = unavailable_creates  # the first ones find the breaker open
        self.waits: list[float] = []

    async def create_servers(
        self, body: dict[str, Any], client_token: str, project_id: str
    ) -> CreateResult:
        self.bodies.append(body)
        self.tokens.append(client_token)
        self.projects.append(project_id)
        if len(self.bodies) <= self.unavailable_creates:
            raise unavailable_error("ECS API circuit open")
        if isinstance(self.create, EcsApiError):
            raise self.create
        return self.create

    async def wait_available(self, within: float) -> bool:
        """The API comes back once `unavailable_creates` creates were refused."""
        self.waits.append(within)
        await asyncio.sleep(min(within, 0.005))
        return len(self.bodies) >= self.unavailable_creates

    async def get_job(self, job_id: str, project_id: str) -> JobStatus:
        assert isinstance(self.create, CreateResult), "no job to read: the create failed"
        assert job_id == self.create.job_id, f"read job {job_id}, created {self.create.job_id}"
        assert project_id == self.projects[-1], "the job is read in the project it was created in"
        answer = self.jobs[min(self.job_reads, len(self.jobs) - 1)]
        self.job_reads += 1
        if isinstance(answer, EcsApiError):
            raise answer
        return answer


ACCEPTED = CreateResult(
    job_id="ff8080828e1234560000000000000001",
    order_id=None,
    server_ids=("11111111-1111-4111-8111-111111111111",),
    dry_run=False,
    request_id="req-create",
    attempts=1,
)
