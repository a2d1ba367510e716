"""The simulated project state: jobs, servers and orders, with the API's retention rules.

Owns lookups that respect time: a finished job disappears ``job_retention_seconds`` after it
ends (an unpaid one after ``pending_payment_retention_seconds``), a server answers only once its
sub-job succeeded, an order can be paid once. Expired jobs are dropped when looked up and by a
sweep every `SWEEP_EVERY` creates, so memory stays bounded without timers.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from worker.simulator.jobs import Job

SWEEP_EVERY = 1024


@dataclass(frozen=True, slots=True)
class Server:
    """A server as the create request described it, tied to the sub-job that builds it."""

    server_id: str
    name: str
    project_id: str
    flavor_ref: str
    image_ref: str
    availability_zone: str
    job: Job
    index: int
    tags: tuple[str, ...] = ()  # "key=value", as the list API shows them


@dataclass(frozen=True)
class Retention:
    """How long jobs stay visible after they end (or, unpaid, after they were created)."""

    finished_seconds: float
    pending_payment_seconds: float


class Registry:
    """Jobs by id, servers by id, orders by id."""

    def __init__(self, retention: Retention) -> None:
        self._retention = retention
        self._jobs: dict[str, Job] = {}
        self._servers: dict[str, Server] = {}
        self._orders: dict[str, Job] = {}
        self._adds = 0

    def _expired(self, job: Job, now: float) -> bool:
        finished_at = job.finished_at()
        if finished_at is None:
            return now - job.created_at >= self._retention.pending_payment_seconds
        return now - finished_at >= self._retention.finished_seconds

    def add(self, job: Job, servers: list[Server], now: float) -> None:
        """Register a new job with its servers (and its order, if any)."""
        self._adds += 1
        if self._adds % SWEEP_EVERY == 0:
            self.sweep(now)
        self._jobs[job.job_id] = job
        for server in servers:
            self._servers[server.server_id] = server
        if job.order_id is not None:
            self._orders[job.order_id] = job

    def job(self, project_id: str, job_id: str, now: float) -> Job | None:
        """The job if it exists in this project and has not expired."""
        job = self._jobs.get(job_id)
        if job is None or job.project_id != project_id:
            return None
        if self._expired(job, now):
            self._forget(job)
            return None
        return job

    def server(self, project_id: str, server_id: str, now: float) -> Server | None:
        """The server if its sub-job has succeeded (404 while creating or after a failure)."""
        server = self._servers.get(server_id)
        if server is None or server.project_id != project_id:
            return None
        return server if server.job.server_ready(server.index, now) else None

    def server_record(self, project_id: str, server_id: str) -> Server | None:
        """The server's record whatever its state (building, failed, deleted)."""
        server = self._servers.get(server_id)
        return server if server is not None and server.project_id == project_id else None

    def servers(self, project_id: str | None = None) -> list[Server]:
        """Every server record of a project (or of all), newest first, as the list API sorts."""
        return [
            s
            for s in reversed(self._servers.values())
            if project_id is None or s.project_id == project_id
        ]

    def pay(self, order_id: str, now: float) -> Job | None:
        """Pay an order: its job starts now if it was waiting. None if the order is unknown."""
        job = self._orders.get(order_id)
        if job is not None and job.started_at is None:
            job.started_at = now
        return job

    def sweep(self, now: float) -> None:
        """Drop every expired job (its servers that were built stay)."""
        for job in [job for job in self._jobs.values() if self._expired(job, now)]:
            self._forget(job)

    def _forget(self, job: Job) -> None:
        self._jobs.pop(job.job_id, None)
        if job.order_id is not None:
            self._orders.pop(job.order_id, None)
        for sub in job.sub_jobs:
            if job.started_at is None or sub.failure is not None:
                self._servers.pop(sub.server_id, None)

    def jobs_by_status(self, now: float) -> dict[str, int]:
        """How many visible jobs are in each status at ``now``."""
        self.sweep(now)
        return dict(Counter(job.status(now) for job in self._jobs.values()))
