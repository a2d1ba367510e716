"""The server paths besides create: list with details, delete, and the server view they share.

``GET /v1/{project_id}/cloudservers/detail`` (ListServersDetails): filters ``name`` (substring),
``status``, ``flavor``, ``tags`` (a ``key=value`` tag, or a key, the server must carry),
``not-tags`` (a key it must not carry); paging by ``limit`` (default 25, at most 1000) and either
``marker`` (the id of the last server of the previous page, the recommended way) or ``offset``
(a page number, 0 and 1 both meaning the first page: deprecated by the API but still served).
Newest first. The marker is found among all the project's servers, not only those matching the
filters (as Nova does), so a page walk survives its marker server changing status meanwhile.
The list is eventually consistent: a new server is missing from it for its first
``list_lag_seconds`` (a simulator option; ShowServer and the job see it at once).
The answer is ``{"count": <matches before paging>, "servers": [...]}``. Deleted
servers are listed only when asked for with ``status=DELETED``.

``POST /v1/{project_id}/cloudservers/delete`` with ``{"servers": [{"id"}], "delete_publicip",
"delete_volume"}`` answers ``{"job_id"}``; the job (``deleteServers``) is read through ShowJob.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from aiohttp import web

from worker.simulator.lifecycle import (
    DELETED,
    DeleteJob,
    DeleteSubJob,
    is_deleting,
    server_status,
)
from worker.simulator.registry import Server
from worker.simulator.state import REQUEST_ID, STATE, SimState
from worker.simulator.wire import api_time, ecs_error, json_response

DEFAULT_LIMIT = 25
MAX_LIMIT = 1000
MAX_SERVERS_PER_DELETE = 1000
NOT_FOUND_CODE = "Ecs.0114"


def render_server(server: Server, status: str, deleting: bool) -> dict[str, object]:
    """A server as ShowServer and ListServersDetails show it."""
    job = server.job
    ready_at = job.started_at or job.created_at
    return {
        "id": server.server_id,
        "name": server.name,
        "status": status,
        "tenant_id": server.project_id,
        "flavor": {"id": server.flavor_ref},
        "image": {"id": server.image_ref},
        "OS-EXT-AZ:availability_zone": server.availability_zone,
        "OS-EXT-STS:vm_state": status.lower(),
        "OS-EXT-STS:task_state": "deleting" if deleting else None,
        "tags": list(server.tags),
        "metadata": {},
        "created": api_time(job.created_at),
        "updated": api_time(ready_at + job.sub_jobs[server.index].end_offset),
    }


class _BadQuery(ValueError):
    pass


def _int(query: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    text = query.get(name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        raise _BadQuery(f"{name} must be an integer") from None
    if not low <= value <= high:
        raise _BadQuery(f"{name} must be between {low} and {high}")
    return value


def _has_tag(server: Server, wanted: str) -> bool:
    return any(tag == wanted or tag.partition("=")[0] == wanted for tag in server.tags)


def _matches(server: Server, status: str, query: Mapping[str, str]) -> bool:
    wanted_status = query.get("status")
    if (status == DELETED) != (wanted_status is not None and wanted_status.upper() == DELETED):
        return False
    if wanted_status is not None and wanted_status.upper() != status:
        return False
    name, flavor = query.get("name"), query.get("flavor")
    tags, not_tags = query.get("tags"), query.get("not-tags")
    return (
        (name is None or name in server.name)
        and (flavor is None or flavor == server.flavor_ref)
        and (tags is None or _has_tag(server, tags))
        and (not_tags is None or not _has_tag(server, not_tags))
    )


def _page(
    views: list[tuple[int, dict[str, object]]], all_ids: list[str], query: Mapping[str, str]
) -> list[dict[str, object]]:
    """One page of ``views`` (each with its position among ``all_ids``, the project's servers)."""
    limit = _int(query, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    marker = query.get("marker")
    if marker is not None:
        if marker not in all_ids:
            raise _BadQuery(f"marker [{marker}] not found")
        after = all_ids.index(marker)
        return [view for position, view in views if position > after][:limit]
    else:
        page = max(1, _int(query, "offset", 1, 0, 1_000_000))
        start = (page - 1) * limit
    return [view for _, view in views[start : start + limit]]


def _started(server: Server) -> float:
    job = server.job
    return job.started_at if job.started_at is not None else job.created_at


async def list_servers_details(request: web.Request) -> web.Response:
    """``GET /v1/{project_id}/cloudservers/detail``."""
    state = request.app[STATE]
    project_id = request.match_info["project_id"]
    denied = state.auth.check(request, await request.read(), project_id, request[REQUEST_ID])
    if denied is not None:
        return denied
    now = state.now()
    listed_after = now - state.config.list_lag_seconds
    servers = state.registry.servers(project_id)
    views: list[tuple[int, dict[str, object]]] = []
    for position, server in enumerate(servers):
        status = server_status(server, state.deletes, now)
        if status is None or _started(server) > listed_after:
            continue
        if _matches(server, status, request.query):
            view = render_server(server, status, is_deleting(server, state.deletes, now))
            views.append((position, view))
    try:
        page = _page(views, [server.server_id for server in servers], request.query)
    except _BadQuery as exc:
        return ecs_error(400, "Ecs.0005", f"invalid query: {exc}")
    return json_response(200, {"count": len(views), "servers": page})


def _delete_request(raw: bytes) -> tuple[list[str], bool, bool] | None:
    """(server ids, delete_publicip, delete_volume) of a well-formed body, else None."""
    try:
        parsed = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(parsed, dict):
        return None
    servers = parsed.get("servers")
    if not isinstance(servers, list) or not 1 <= len(servers) <= MAX_SERVERS_PER_DELETE:
        return None
    ids = [entry.get("id") if isinstance(entry, dict) else None for entry in servers]
    flags = [parsed.get(name, False) for name in ("delete_publicip", "delete_volume")]
    if not all(isinstance(i, str) and i for i in ids) or not all(
        isinstance(flag, bool) for flag in flags
    ):
        return None
    return [str(i) for i in ids], bool(flags[0]), bool(flags[1])


def _delete_sub_job(state: SimState, project_id: str, server_id: str, now: float) -> DeleteSubJob:
    """One server's sub-job; joins a deletion under way instead of starting a second one."""
    ongoing = state.deletes.deletion_end(server_id)
    if ongoing is not None and ongoing > now:
        state.stats.deletes_repeated += 1
        return DeleteSubJob(state.ids.job_id(), server_id, ongoing, None)
    server = state.registry.server_record(project_id, server_id)
    status = None if server is None else server_status(server, state.deletes, now)
    if status is None or status == DELETED:
        return DeleteSubJob(
            state.ids.job_id(), server_id, now, f"Instance[{server_id}] could not be found."
        )
    state.stats.deletes += 1
    low, high = state.job_seconds
    return DeleteSubJob(state.ids.job_id(), server_id, now + state.job_rng.uniform(low, high), None)


async def delete_servers(request: web.Request) -> web.Response:
    """``POST /v1/{project_id}/cloudservers/delete`` → 200 ``{"job_id": ...}``."""
    state = request.app[STATE]
    project_id = request.match_info["project_id"]
    raw = await request.read()
    denied = state.auth.check(request, raw, project_id, request[REQUEST_ID])
    if denied is not None:
        return denied
    parsed = _delete_request(raw)
    if parsed is None:
        return ecs_error(400, "Ecs.0005", "request body is illegal.")
    server_ids, _publicip, _volume = parsed  # EIPs and volumes are not modelled
    now = state.now()
    subs = tuple(
        _delete_sub_job(state, project_id, server_id, now)
        for server_id in dict.fromkeys(server_ids)
    )
    job = DeleteJob(state.ids.job_id(), project_id, now, subs)
    state.deletes.add(job)
    return json_response(200, {"job_id": job.job_id})


def render_delete_job(job: DeleteJob, now: float) -> dict[str, object]:
    """The ShowJob body of a delete job at ``now``."""
    subs: list[dict[str, object]] = []
    for sub in job.sub_jobs:
        done = now >= sub.ends_at
        view: dict[str, object] = {
            "begin_time": api_time(job.created_at),
            "end_time": api_time(sub.ends_at) if done else "",
            "entities": {"server_id": sub.server_id},
            "job_id": sub.job_id,
            "job_type": "deleteServer",
            "status": ("FAIL" if sub.fail_reason else "SUCCESS") if done else "RUNNING",
        }
        if done:
            view["error_code"] = NOT_FOUND_CODE if sub.fail_reason else None
            view["fail_reason"] = sub.fail_reason
        subs.append(view)
    status = job.status(now)
    body: dict[str, object] = {
        "begin_time": api_time(job.created_at),
        "end_time": "" if status == "RUNNING" else api_time(job.ends_at),
        "entities": {"sub_jobs": subs, "sub_jobs_total": len(subs)},
        "job_id": job.job_id,
        "job_type": "deleteServers",
        "status": status,
    }
    if status != "RUNNING":
        failed = status == "FAIL"
        body["error_code"] = NOT_FOUND_CODE if failed else None
        body["fail_reason"] = "some servers could not be found" if failed else None
    return body
