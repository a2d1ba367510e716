"""A server's life after its create: its status at any moment, and its deletion.

Owns `DeleteJob`/`DeleteSubJob` (a ``deleteServers`` job with one ``deleteServer`` sub-job per
server), `DeleteStore` (delete jobs by id and when each server's deletion ends) and
`server_status`, the one place that says what status a server shows at ``now``:

- ``BUILD`` while its create sub-job runs; a server whose sub-job failed disappears (None);
- ``ACTIVE`` once built; while a deletion runs it stays ``ACTIVE`` with
  ``OS-EXT-STS:task_state`` ``deleting``; ``DELETED`` once the deletion ended;
- None while its prePaid order is unpaid (the servers do not exist yet).

Like jobs, everything is computed from timestamps: no timers or tasks.
"""

from __future__ import annotations

from dataclasses import dataclass

from worker.simulator.registry import Server

BUILD, ACTIVE, DELETED = "BUILD", "ACTIVE", "DELETED"


@dataclass(frozen=True, slots=True)
class DeleteSubJob:
    """One server's ``deleteServer`` sub-job: when it ends, and why it failed (if it did)."""

    job_id: str
    server_id: str
    ends_at: float
    fail_reason: str | None


@dataclass(frozen=True, slots=True)
class DeleteJob:
    """A ``deleteServers`` job."""

    job_id: str
    project_id: str
    created_at: float
    sub_jobs: tuple[DeleteSubJob, ...]

    @property
    def ends_at(self) -> float:
        return max((sub.ends_at for sub in self.sub_jobs), default=self.created_at)

    def status(self, now: float) -> str:
        """RUNNING until the last sub-job ends; then FAIL if any failed, else SUCCESS."""
        if now < self.ends_at:
            return "RUNNING"
        return "FAIL" if any(sub.fail_reason for sub in self.sub_jobs) else "SUCCESS"


class DeleteStore:
    """Delete jobs by id; when each server's (first and only) deletion ends."""

    def __init__(self) -> None:
        self._jobs: dict[str, DeleteJob] = {}
        self._deletion_ends: dict[str, float] = {}

    def deletion_end(self, server_id: str) -> float | None:
        """When the server's deletion ends (or ended); None if it was never deleted."""
        return self._deletion_ends.get(server_id)

    def add(self, job: DeleteJob) -> None:
        self._jobs[job.job_id] = job
        for sub in job.sub_jobs:
            if sub.fail_reason is None:
                self._deletion_ends.setdefault(sub.server_id, sub.ends_at)

    def job(self, project_id: str, job_id: str) -> DeleteJob | None:
        job = self._jobs.get(job_id)
        return job if job is not None and job.project_id == project_id else None


def server_status(server: Server, deletes: DeleteStore, now: float) -> str | None:
    """BUILD, ACTIVE or DELETED at ``now``; None when the server does not exist (any more)."""
    job = server.job
    if job.started_at is None:
        return None
    sub = job.sub_jobs[server.index]
    built = now - job.started_at >= sub.end_offset
    if sub.failure is not None:
        return None if built else BUILD
    if not built:
        return BUILD
    deletion_end = deletes.deletion_end(server.server_id)
    if deletion_end is not None and now >= deletion_end:
        return DELETED
    return ACTIVE


def is_deleting(server: Server, deletes: DeleteStore, now: float) -> bool:
    """Whether a deletion of the server is under way at ``now``."""
    deletion_end = deletes.deletion_end(server.server_id)
    return deletion_end is not None and now < deletion_end
