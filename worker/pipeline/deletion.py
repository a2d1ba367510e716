"""Deleting the servers a failed job built, safely again after a crash or a redelivery:
`compensate`.

It first lists the servers by their token tag, so a server already gone counts as deleted and
one whose deletion is under way is waited for, not deleted a second time; only a server whose
own request tag says ``delete`` for this request (`tagging.RequestTag`) is sent to
DeleteServers, whose job is followed like a create job. Whatever it does not delete is named,
with the reason. The `Compensate` step (`worker.pipeline.compensate`) decides whether to call it.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass
from typing import Protocol

import structlog

from ecsp_contract.events import Compensation, ServerNotDeleted, SubJobInfo
from worker.ecs.errors import EcsApiError
from worker.ecs.models import JobStatus, ServerSummary
from worker.ecs.servers import ServerLister, ServerQuery, list_all_servers
from worker.pipeline.api_errors import error_code
from worker.pipeline.events import sub_job_infos
from worker.pipeline.failure import StageFailure
from worker.pipeline.follow import JobReader, follow_job
from worker.pipeline.schedule import JobSchedule
from worker.pipeline.tagging import RequestTag, token_tag

log = structlog.get_logger("worker.pipeline")

NOT_FOUND_CODE = "Ecs.0114"  # the server is gone already
_JITTER = random.Random()


class ServerDeleter(ServerLister, JobReader, Protocol):
    async def delete_servers(
        self,
        project_id: str,
        server_ids: list[str],
        *,
        delete_publicip: bool,
        delete_volume: bool,
    ) -> str: ...


def built_servers(sub_jobs: tuple[SubJobInfo, ...]) -> list[str]:
    """Servers whose create sub-job succeeded, sorted."""
    return sorted({s.server_id for s in sub_jobs if s.status == "SUCCESS" and s.server_id})


def _is_deleting(server: ServerSummary) -> bool:
    return server.task_state == "deleting"


def _allows(server: ServerSummary, digest: str) -> bool:
    """The server's own request tag says ``delete`` for the request of `digest`."""
    return RequestTag(digest, "delete").listed in server.tags


async def _ignore_payment(job: JobStatus) -> None:
    return None


@dataclass(frozen=True)
class _Scope:
    """Where and until when a compensation works."""

    api: ServerDeleter
    project_id: str
    schedule: JobSchedule
    deadline: float


async def _run_delete_job(
    scope: _Scope, server_ids: list[str], flags: tuple[bool, bool]
) -> tuple[list[str], list[ServerNotDeleted]]:
    api, project_id = scope.api, scope.project_id
    job_id = await api.delete_servers(
        project_id, server_ids, delete_publicip=flags[0], delete_volume=flags[1]
    )
    log.info("compensation: delete job started", job_id=job_id, servers=len(server_ids))
    try:
        job = await follow_job(
            api,
            job_id=job_id,
            order_id=None,
            server_ids=tuple(server_ids),
            project_id=project_id,
            schedule=scope.schedule,
            deadline=scope.deadline,
            on_awaiting_payment=_ignore_payment,
        )
        subs = sub_job_infos(job)
    except StageFailure as failure:
        subs = failure.sub_jobs
    by_server = {s.server_id: s for s in subs if s.server_id}
    deleted: list[str] = []
    not_deleted: list[ServerNotDeleted] = []
    for server_id in server_ids:
        sub = by_server.get(server_id)
        if sub is not None and (sub.status == "SUCCESS" or sub.error_code == NOT_FOUND_CODE):
            deleted.append(server_id)
        elif sub is not None and sub.status == "FAIL":
            reason = f"delete job {job_id}: {sub.error_code}: {sub.fail_reason}"
            not_deleted.append(ServerNotDeleted(server_id=server_id, reason=reason))
        else:
            reason = f"delete job {job_id} did not end before the deadline"
            not_deleted.append(ServerNotDeleted(server_id=server_id, reason=reason))
    return deleted, not_deleted


async def _wait_until_gone(scope: _Scope, token: str, server_ids: list[str]) -> list[str]:
    """Waits for deletions under way; the servers still listed at the deadline."""
    remaining = set(server_ids)
    for delay in scope.schedule.delays(_JITTER):
        if not remaining or time.monotonic() >= scope.deadline:
            break
        await asyncio.sleep(min(delay, max(0.0, scope.deadline - time.monotonic())))
        query = ServerQuery(tags=token_tag(token))
        listed = await list_all_servers(scope.api, scope.project_id, query)
        remaining &= {s.server_id for s in listed}
    return sorted(remaining)


async def compensate(
    api: ServerDeleter,
    sub_jobs: tuple[SubJobInfo, ...],
    *,
    project_id: str,
    token: str,
    digest: str,
    flags: tuple[bool, bool],
    schedule: JobSchedule,
    deadline: float,
) -> Compensation | None:
    """Delete the built servers of a failed job whose own tags say ``delete`` for the request
    of `digest` (listed by the token's tag); None when it had built none."""
    built = built_servers(sub_jobs)
    if not built:
        return None
    scope = _Scope(api, project_id, schedule, deadline)
    deleted: list[str] = []
    not_deleted: list[ServerNotDeleted] = []
    try:
        listed = await list_all_servers(api, project_id, ServerQuery(tags=token_tag(token)))
        present = {s.server_id: s for s in listed}
        deleted = [sid for sid in built if sid not in present]
        refused = [sid for sid in built if sid in present and not _allows(present[sid], digest)]
        not_deleted += [
            ServerNotDeleted(server_id=sid, reason="its tags do not say it may be deleted")
            for sid in refused
        ]
        mine = [sid for sid in built if sid in present and sid not in refused]
        deleting = [sid for sid in mine if _is_deleting(present[sid])]
        to_delete = [sid for sid in mine if sid not in deleting]
        if to_delete:
            done, failed = await _run_delete_job(scope, to_delete, flags)
            deleted += done
            not_deleted += failed
        if deleting:
            still = await _wait_until_gone(scope, token, deleting)
            deleted += [sid for sid in deleting if sid not in still]
            not_deleted += [
                ServerNotDeleted(server_id=sid, reason="its deletion was still running")
                for sid in still
            ]
    except EcsApiError as exc:
        handled = set(deleted) | {n.server_id for n in not_deleted}
        reason = f"the API refused: {error_code(exc)}: {exc.message}"
        not_deleted += [
            ServerNotDeleted(server_id=sid, reason=reason) for sid in built if sid not in handled
        ]
    log.info("compensation done", deleted=len(deleted), not_deleted=len(not_deleted))
    return Compensation(
        action="delete",
        deleted=sorted(deleted),
        not_deleted=sorted(not_deleted, key=lambda n: n.server_id),
    )
