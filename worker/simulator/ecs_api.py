"""The ECS paths: create servers (v1.1 and v1), show a job, show a server.

Owns the order of checks of a create, which decides what a client sees: authentication,
``X-Client-Token`` format (``Ecs.0123``), JSON parse, the token memory (replay of the first
answer, ``Ecs.0122``, ``Ecs.0124``; a replay skips body validation), the body checks
(``Ecs.0005``/``Ecs.0011``), dry run (202 ``{}``: the API documents no body for it), quota (an
offering in ``Faults.quota_exceeded``: 400 ``Ecs.0001``), capacity (an offering in
``Faults.sold_out``: 400 ``Ecs.0319``, or a job that fails ``Ecs.0319`` for a seeded
``sold_out_job_rate`` fraction; a refusal is not remembered with the token), and only then the
side effect: a job, its servers and, for prePaid, an order.
"""

from __future__ import annotations

import json

from aiohttp import web

from ecsp_contract.extensions import parse_extra_fields
from ecsp_contract.request import CreateServersBody
from ecsp_contract.request import Server as CreateServer
from worker.simulator.cloudservers import render_delete_job, render_server
from worker.simulator.idempotency import TokenedCreate, Verdict, is_valid_token
from worker.simulator.jobs import JobPlan, plan_job, render_job
from worker.simulator.knobs import offering_in
from worker.simulator.lifecycle import DELETED, is_deleting, server_status
from worker.simulator.registry import Server
from worker.simulator.state import REQUEST_ID, STATE, SimState
from worker.simulator.validation import V1, V1_1, Rejection, check_create_body
from worker.simulator.wire import ecs_error, json_response, raw_json_response

CLIENT_TOKEN_HEADER = "X-Client-Token"  # noqa: S105 - a header name
#: The error table's message for Ecs.0319 (support.huaweicloud.com/intl/en-us/api-ecs/ecs_07_0002)
SOLD_OUT_MESSAGE = "Insufficient resources for this flavor. Try another flavor."
QUOTA_MESSAGE = "Insufficient ECS quota. Contact customer service to increase quota."


def _server_names(name: str, count: int) -> list[str]:
    """Names as the API gives them: a batch gets ``-0001``, ``-0002``… suffixes."""
    if count == 1:
        return [name]
    return [f"{name}-{index:04d}" for index in range(1, count + 1)]


def _tags(server: CreateServer) -> tuple[str, ...]:
    """The server's tags as the list API shows them: ``key=value`` (legacy ``key.value`` too)."""
    legacy = [tag.replace(".", "=", 1) for tag in server.tags or []]
    current = [f"{tag.key}={tag.value or ''}" for tag in server.server_tags or []]
    return tuple(dict.fromkeys([*legacy, *current]))


def _accept(
    state: SimState, project_id: str, body: CreateServersBody, now: float, *, sold_out: bool
) -> bytes:
    """Create the job, servers and order; return the exact 200 body."""
    server = body.server
    count = server.count or 1
    extend = server.extendparam
    prepaid = extend is not None and extend.charging_mode == "prePaid"
    awaiting_payment = prepaid and extend is not None and extend.is_auto_pay != "true"
    plan = JobPlan(
        project_id=project_id,
        count=count,
        job_seconds=state.job_seconds,
        failure_rate=state.faults.job_failure_rate,
        partial_failure_rate=state.faults.partial_failure_rate,
        awaiting_payment=awaiting_payment,
        order_id=state.ids.order_id(now) if prepaid else None,
        sold_out=sold_out,
    )
    job = plan_job(plan, state.job_rng, state.ids.job_id, state.ids.server_id, now)
    names = _server_names(server.name, count)
    tags = _tags(server)
    servers = [
        Server(
            server_id=sub.server_id,
            name=names[index],
            project_id=project_id,
            flavor_ref=server.flavor_ref,
            image_ref=server.image_ref,
            availability_zone=server.availability_zone or "",
            job=job,
            index=index,
            tags=tags,
        )
        for index, sub in enumerate(job.sub_jobs)
    ]
    state.registry.add(job, servers, now)
    payload: dict[str, object] = {"job_id": job.job_id}
    if job.order_id is not None:
        payload["order_id"] = job.order_id
    payload["serverIds"] = [sub.server_id for sub in job.sub_jobs]
    return json.dumps(payload).encode()


async def _create(request: web.Request, version: str) -> web.Response:
    state = request.app[STATE]
    project_id = request.match_info["project_id"]
    raw = await request.read()
    denied = state.auth.check(request, raw, project_id, request[REQUEST_ID])
    if denied is not None:
        return denied
    token = request.headers.get(CLIENT_TOKEN_HEADER)
    if token is not None and not is_valid_token(token):
        return ecs_error(400, "Ecs.0123", "The X-Client-Token is invalid: it must be a UUID.")
    try:
        parsed = json.loads(raw)
    except ValueError:
        return ecs_error(400, "Ecs.0005", "request body is illegal.")
    now = state.now()
    tokened = None
    if token is not None:
        tokened = TokenedCreate(token, version, project_id, raw, parsed)
        verdict, seen = state.idempotency.lookup(tokened, now)
        if verdict is Verdict.REPLAY and seen is not None:
            state.stats.replays += 1
            return raw_json_response(200, seen.response)
        if verdict is Verdict.CONFLICT:
            return ecs_error(
                400, "Ecs.0122", "The X-Client-Token was used by a request with other parameters."
            )
        if verdict is Verdict.EXPIRED:
            return ecs_error(400, "Ecs.0124", "The X-Client-Token has expired.")
    extra_fields = parse_extra_fields(state.config.extra_fields)
    body = check_create_body(version, parsed, extra_fields)
    if isinstance(body, Rejection):
        return ecs_error(400, body.code, body.message, body.details)
    if body.dry_run:
        state.stats.dry_runs += 1
        return json_response(202, {})
    faults, server = state.faults, body.server
    offering = (server.flavor_ref, server.availability_zone or "")
    if offering_in(faults.quota_exceeded, *offering):
        state.stats.faults_injected["quota_exceeded"] += 1
        return ecs_error(400, "Ecs.0001", QUOTA_MESSAGE)
    in_job = offering_in(faults.sold_out, *offering)
    if in_job and state.capacity_rng.random() >= faults.sold_out_job_rate:
        state.stats.faults_injected["sold_out_at_create"] += 1
        return ecs_error(400, "Ecs.0319", SOLD_OUT_MESSAGE)
    if in_job:
        state.stats.faults_injected["sold_out_in_job"] += 1
    response = _accept(state, project_id, body, now, sold_out=in_job)
    state.stats.created(token, body.server.count or 1)
    if tokened is not None:
        state.idempotency.remember(tokened, now, response)
    return raw_json_response(200, response)


async def create_servers(request: web.Request) -> web.Response:
    """``POST /v1.1/{project_id}/cloudservers``."""
    return await _create(request, V1_1)


async def create_post_paid_servers(request: web.Request) -> web.Response:
    """``POST /v1/{project_id}/cloudservers`` (pay-per-use only)."""
    return await _create(request, V1)


async def show_job(request: web.Request) -> web.Response:
    """``GET /v1/{project_id}/jobs/{job_id}``; 404 for an unknown or purged job."""
    state = request.app[STATE]
    project_id = request.match_info["project_id"]
    job_id = request.match_info["job_id"]
    denied = state.auth.check(request, await request.read(), project_id, request[REQUEST_ID])
    if denied is not None:
        return denied
    now = state.now()
    job = state.registry.job(project_id, job_id, now)
    if job is not None:
        return json_response(200, render_job(job, now))
    delete_job = state.deletes.job(project_id, job_id)
    if delete_job is not None:
        return json_response(200, render_delete_job(delete_job, now))
    return ecs_error(404, "Ecs.0000", f"Job [{job_id}] could not be found.")


async def show_server(request: web.Request) -> web.Response:
    """``GET /v1/{project_id}/cloudservers/{server_id}``; 404 Ecs.0114 until the server is built."""
    state = request.app[STATE]
    project_id = request.match_info["project_id"]
    server_id = request.match_info["server_id"]
    denied = state.auth.check(request, await request.read(), project_id, request[REQUEST_ID])
    if denied is not None:
        return denied
    now = state.now()
    server = state.registry.server(project_id, server_id, now)
    if server is None:
        return ecs_error(404, "Ecs.0114", f"Instance[{server_id}] could not be found.")
    status = server_status(server, state.deletes, now)
    if status is None or status == DELETED:
        return ecs_error(404, "Ecs.0114", f"Instance[{server_id}] could not be found.")
    deleting = is_deleting(server, state.deletes, now)
    return json_response(200, {"server": render_server(server, status, deleting)})
