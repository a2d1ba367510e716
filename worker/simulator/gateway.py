"""The API gateway in front of every path: request ids, injected faults, request counting.

Owns the one middleware of the app. Every response carries ``X-Request-Id``. For API paths
(everything outside ``/_sim/``) it first applies the account quota (``quota_per_second``: ECS
calls past it within a clock second answer 429 APIG.0308, before anything else), then injects,
in this order, with the seeded fault generator: a dropped connection (half of the drops before
the request is handled, half after it was handled, i.e. the side effect happened but the answer
is lost), latency, a 429 APIG.0308 with ``Retry-After``, or a 5xx (500 Ecs.0002 or IAM's 500,
502 APIG.0202 or 504 APIG.0203; before the request is handled, so without side effect). Unknown
paths answer 404 APIG.0101 like the gateway; answered API requests are counted by status.
"""

from __future__ import annotations

import asyncio
import random

from aiohttp import web
from aiohttp.typedefs import Handler

from worker.simulator.state import REQUEST_ID, STATE, SimState
from worker.simulator.wire import REQUEST_ID_HEADER, ecs_error, gateway_error, iam_error, throttled

SIM_PREFIX = "/_sim/"
IAM_PREFIX = "/v3/"


def _server_error(rng: random.Random, request_id: str, path: str) -> web.Response:
    kind = rng.randrange(3)
    if kind == 0 and path.startswith(IAM_PREFIX):
        return iam_error(500, "Internal Server Error", "The server encountered an internal error.")
    if kind == 0:
        return ecs_error(
            500,
            "Ecs.0002",
            "A system exception occurred. Try again later or contact customer service.",
        )
    if kind == 1:
        return gateway_error(502, "APIG.0202", "Backend unavailable", request_id)
    return gateway_error(504, "APIG.0203", "Backend timeout", request_id)


def _drop(request: web.Request, state: SimState) -> web.Response:
    """Abort the connection: the client sees it closed with no answer."""
    state.stats.faults_injected["drop"] += 1
    if request.transport is not None:
        request.transport.abort()
    return web.Response(status=500)  # never sent: the transport is gone


async def _route(request: web.Request, handler: Handler, request_id: str) -> web.StreamResponse:
    try:
        return await handler(request)
    except (web.HTTPNotFound, web.HTTPMethodNotAllowed):
        return gateway_error(
            404,
            "APIG.0101",
            "The API does not exist or has not been published in the environment",
            request_id,
        )
    except web.HTTPRequestEntityTooLarge:
        return gateway_error(413, "APIG.0201", "Request entity too large", request_id)


async def _faulty(
    request: web.Request, handler: Handler, state: SimState, request_id: str
) -> web.StreamResponse:
    faults, rng = state.faults, state.fault_rng
    if not request.path.startswith(IAM_PREFIX) and state.over_quota():
        state.stats.faults_injected["quota"] += 1
        state.stats.requests_by_status["429"] += 1
        return throttled(request_id, state.config.retry_after_seconds)
    drop_after = False
    if faults.drop_rate and rng.random() < faults.drop_rate:
        if rng.random() < 0.5:
            return _drop(request, state)
        drop_after = True
    low, high = faults.latency_ms
    if high > 0:
        await asyncio.sleep(rng.uniform(low, high) / 1000)
    response: web.StreamResponse
    if faults.throttle_rate and rng.random() < faults.throttle_rate:
        state.stats.faults_injected["throttle"] += 1
        response = throttled(request_id, state.config.retry_after_seconds)
    elif faults.error_rate and rng.random() < faults.error_rate:
        state.stats.faults_injected["error"] += 1
        response = _server_error(rng, request_id, request.path)
    else:
        response = await _route(request, handler, request_id)
    if drop_after:
        return _drop(request, state)
    state.stats.requests_by_status[str(response.status)] += 1
    return response


def _count_operation(request: web.Request, state: SimState) -> None:
    """Counts the API operation asked for (method + route template), whatever its answer."""
    resource = request.match_info.route.resource
    if resource is not None:
        state.stats.requests_by_operation[f"{request.method} {resource.canonical}"] += 1


@web.middleware
async def gateway(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Tag with a request id; inject faults and count for API paths."""
    state = request.app[STATE]
    request_id = state.ids.request_id()
    request[REQUEST_ID] = request_id
    if request.path.startswith(SIM_PREFIX):
        response = await _route(request, handler, request_id)
    else:
        _count_operation(request, state)
        response = await _faulty(request, handler, state, request_id)
    response.headers[REQUEST_ID_HEADER] = request_id
    return response
