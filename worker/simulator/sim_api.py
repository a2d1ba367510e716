"""Simulator-only paths under ``/_sim/`` (docs/contract.md, "Simulator interface").

Owns ``GET /_sim/stats``, ``GET``/``POST /_sim/faults`` (a JSON object with any subset of the
fault fields; 400 on an unknown field or a bad value), ``POST /_sim/orders/{order_id}/pay``,
which stands in for paying a prePaid order in the billing console, and the key management an
operator does in the IAM console: ``PUT /_sim/credentials`` (``{"AK": "SK", ...}`` replaces the
permanent keys: rotation), ``POST /_sim/temporary-credentials`` (``{"ttl_seconds": N}``: a
temporary AK/SK/security token, shaped like IAM's security-token answer) and ``DELETE
/_sim/temporary-credentials/{access_key}`` (revoke one).
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter

from aiohttp import web

from worker.simulator.knobs import Faults, FaultsError, update_faults
from worker.simulator.lifecycle import server_status
from worker.simulator.metadata import credential_json
from worker.simulator.state import STATE
from worker.simulator.wire import json_response


def _faults_json(faults: Faults) -> dict[str, object]:
    return {
        name: (list(value) if isinstance(value, tuple) else value)
        for name, value in dataclasses.asdict(faults).items()
    }


async def get_stats(request: web.Request) -> web.Response:
    """Counters, including ``servers_by_token``, ``servers_by_status`` and ``deletes``."""
    state = request.app[STATE]
    now = state.now()
    statuses = (server_status(s, state.deletes, now) for s in state.registry.servers())
    servers_by_status = dict(Counter(status for status in statuses if status is not None))
    body = state.stats.as_json(state.registry.jobs_by_status(now), servers_by_status)
    return json_response(200, body)


async def get_faults(request: web.Request) -> web.Response:
    """The faults in force."""
    return json_response(200, _faults_json(request.app[STATE].faults))


async def set_faults(request: web.Request) -> web.Response:
    """Replace the given fault fields; answer the faults now in force."""
    state = request.app[STATE]
    update = await _json_object(request)
    if update is None:
        return json_response(400, {"error": "expected a JSON object of fault fields"})
    try:
        state.faults = update_faults(state.faults, update)
    except FaultsError as exc:
        return json_response(400, {"error": str(exc)})
    return json_response(200, _faults_json(state.faults))


async def pay_order(request: web.Request) -> web.Response:
    """Pay a prePaid order: its job leaves PENDING_PAYMENT and starts now."""
    state = request.app[STATE]
    order_id = request.match_info["order_id"]
    job = state.registry.pay(order_id, state.now())
    if job is None:
        return json_response(404, {"error": f"unknown order {order_id}"})
    return json_response(200, {"order_id": order_id, "job_id": job.job_id, "status": "paid"})


async def _json_object(request: web.Request) -> dict[str, object] | None:
    try:
        document = json.loads(await request.read())
    except ValueError:
        return None
    return document if isinstance(document, dict) else None


async def replace_credentials(request: web.Request) -> web.Response:
    """Rotate the permanent keys: exactly the given AK/SK pairs are accepted from now on."""
    pairs = await _json_object(request)
    if pairs is None or not all(isinstance(v, str) and v for v in pairs.values()):
        return json_response(400, {"error": 'expected {"AK": "SK", ...}'})
    request.app[STATE].auth.keys.replace_permanent({k: str(v) for k, v in pairs.items()})
    return json_response(200, {"access_keys": len(pairs)})


async def issue_temporary(request: web.Request) -> web.Response:
    """A temporary AK/SK with a security token, valid for ``ttl_seconds`` (default 900)."""
    state = request.app[STATE]
    document = await _json_object(request)
    ttl = (document or {}).get("ttl_seconds", 900)
    if document is None or isinstance(ttl, bool) or not isinstance(ttl, int | float) or ttl <= 0:
        return json_response(400, {"error": 'expected {"ttl_seconds": positive number}'})
    return json_response(
        201, credential_json(state.auth.keys.issue(state.ids, float(ttl), state.now()))
    )


async def revoke_temporary(request: web.Request) -> web.Response:
    """Refuse a temporary key from now on."""
    access_key = request.match_info["access_key"]
    if not request.app[STATE].auth.keys.revoke(access_key):
        return json_response(404, {"error": "unknown temporary access key"})
    return json_response(200, {"revoked": True})
