"""Results of the ECS calls the worker makes, parsed leniently from the API's JSON.

Owns: ``CreateResult`` (POST /v1.1/{project_id}/cloudservers), ``JobStatus``/``SubJob``
(GET /v1/{project_id}/jobs/{job_id}; create and delete jobs alike), ``ServerPage``/
``ServerSummary`` (GET /v1/{project_id}/cloudservers/detail) and their parsers. Keys may be
missing while a job runs and times are ``""`` until set: both become ``None``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class CreateResult:
    """A create that was accepted (200) or a dry run whose check passed (202)."""

    job_id: str | None
    order_id: str | None
    server_ids: tuple[str, ...]
    dry_run: bool
    request_id: str | None
    attempts: int


@dataclass(frozen=True)
class SubJob:
    """One ``createSingleServer`` sub-job of a create job."""

    job_id: str | None
    status: str
    server_id: str | None
    error_code: str | None
    fail_reason: str | None
    begin_time: str | None
    end_time: str | None


@dataclass(frozen=True)
class JobStatus:
    """The state of a job: INIT, RUNNING, SUCCESS, FAIL or PENDING_PAYMENT."""

    job_id: str
    status: str
    sub_jobs: tuple[SubJob, ...]
    error_code: str | None
    fail_reason: str | None
    begin_time: str | None
    end_time: str | None
    request_id: str | None
    entity_server_id: str | None = None

    @property
    def server_ids(self) -> tuple[str, ...]:
        """Servers of the sub-jobs, then the job's own ``entities.server_id``, without repeats."""
        found = [sub.server_id for sub in self.sub_jobs] + [self.entity_server_id]
        return tuple(dict.fromkeys(sid for sid in found if sid))


def _str(document: Mapping[str, Any], key: str) -> str | None:
    """A string field, ``None`` when absent, null or empty; non-strings are rendered."""
    value = document.get(key)
    if value is None or value == "":
        return None
    return value if isinstance(value, str) else str(value)


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def parse_create(
    document: Mapping[str, Any], *, dry_run: bool, request_id: str | None, attempts: int
) -> CreateResult:
    """Parse ``{"job_id", "order_id"?, "serverIds"?}``; a dry run's body may be anything."""
    server_ids = document.get("serverIds")
    ids = tuple(str(sid) for sid in server_ids) if isinstance(server_ids, list) else ()
    return CreateResult(
        job_id=_str(document, "job_id"),
        order_id=_str(document, "order_id"),
        server_ids=ids,
        dry_run=dry_run,
        request_id=request_id,
        attempts=attempts,
    )


def _parse_sub_job(document: Mapping[str, Any]) -> SubJob:
    return SubJob(
        job_id=_str(document, "job_id"),
        status=_str(document, "status") or "UNKNOWN",
        server_id=_str(_mapping(document.get("entities")), "server_id"),
        error_code=_str(document, "error_code"),
        fail_reason=_str(document, "fail_reason"),
        begin_time=_str(document, "begin_time"),
        end_time=_str(document, "end_time"),
    )


def parse_job(document: Mapping[str, Any], *, job_id: str, request_id: str | None) -> JobStatus:
    """Parse a ShowJob body; ``job_id`` (the one asked for) is used when the body lacks it."""
    entities = _mapping(document.get("entities"))
    sub_jobs = entities.get("sub_jobs")
    return JobStatus(
        job_id=_str(document, "job_id") or job_id,
        status=_str(document, "status") or "UNKNOWN",
        sub_jobs=tuple(
            _parse_sub_job(sub)
            for sub in (sub_jobs if isinstance(sub_jobs, list) else [])
            if isinstance(sub, Mapping)
        ),
        error_code=_str(document, "error_code"),
        fail_reason=_str(document, "fail_reason"),
        begin_time=_str(document, "begin_time"),
        end_time=_str(document, "end_time"),
        request_id=request_id,
        entity_server_id=_str(entities, "server_id"),
    )


@dataclass(frozen=True)
class ServerSummary:
    """One server of ``GET /v1/{project_id}/cloudservers/detail``: what the worker reads of it.

    ``tags`` are the API's ``"key=value"`` strings; ``task_state`` is
    ``OS-EXT-STS:task_state`` (e.g. ``deleting``), None when idle.
    """

    server_id: str
    name: str | None
    status: str
    task_state: str | None
    tags: tuple[str, ...]


@dataclass(frozen=True)
class ServerPage:
    """One page of the server list and the number of servers matching the filters."""

    count: int
    servers: tuple[ServerSummary, ...]


def _parse_server(document: Mapping[str, Any]) -> ServerSummary | None:
    server_id = _str(document, "id")
    if server_id is None:
        return None
    tags = document.get("tags")
    return ServerSummary(
        server_id=server_id,
        name=_str(document, "name"),
        status=_str(document, "status") or "UNKNOWN",
        task_state=_str(document, "OS-EXT-STS:task_state"),
        tags=tuple(str(tag) for tag in tags) if isinstance(tags, list) else (),
    )


def parse_server_page(document: Mapping[str, Any]) -> ServerPage:
    """Parse ``{"count", "servers": [...]}``; entries without an id are skipped."""
    servers = document.get("servers")
    parsed = (
        _parse_server(entry)
        for entry in (servers if isinstance(servers, list) else [])
        if isinstance(entry, Mapping)
    )
    found = tuple(server for server in parsed if server is not None)
    count = document.get("count")
    return ServerPage(count=count if isinstance(count, int) else len(found), servers=found)
