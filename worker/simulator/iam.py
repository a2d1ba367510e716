"""IAM ``POST /v3/auth/tokens``: password method, project scope, token in ``X-Subject-Token``.

Owns the IAM side: any domain is accepted, the user name and password must match the
configured ``iam_users``. A token scoped to a project by id is accepted only on that project's
URLs (otherwise ``Ecs.0023``); a token scoped by project name (whose id the simulator cannot
know) or unscoped is accepted for any project.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from aiohttp import web

from worker.simulator.auth import IamToken
from worker.simulator.state import STATE
from worker.simulator.wire import iam_error, iam_time, json_response

SUBJECT_TOKEN_HEADER = "X-Subject-Token"  # noqa: S105 - a header name


def _fake_id(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _credentials(parsed: Any) -> tuple[str, str, str] | None:
    """(user, password, domain) of a password-method request; None if malformed."""
    try:
        identity = parsed["auth"]["identity"]
        user = identity["password"]["user"]
        domain = user["domain"]
        name, password = user["name"], user["password"]
        domain_name = domain.get("name") or domain.get("id")
        methods = identity["methods"]
    except (KeyError, TypeError, AttributeError):
        return None
    if methods != ["password"] or not all(
        isinstance(value, str) and value for value in (name, password, domain_name)
    ):
        return None
    return name, password, domain_name


def _project(parsed: Any) -> tuple[str | None, str | None]:
    """(id, name) of the scope's project, each None when not given."""
    scope = parsed["auth"].get("scope")
    project = scope.get("project") if isinstance(scope, dict) else None
    if not isinstance(project, dict):
        return None, None
    project_id, name = project.get("id"), project.get("name")
    return (
        project_id if isinstance(project_id, str) else None,
        name if isinstance(name, str) else None,
    )


async def issue_token(request: web.Request) -> web.Response:
    """201 with the token in ``X-Subject-Token``; 400 malformed, 401 wrong user or password."""
    state = request.app[STATE]
    try:
        parsed = json.loads(await request.read())
    except ValueError:
        parsed = None
    credentials = _credentials(parsed)
    if credentials is None:
        return iam_error(400, "Bad Request", "The request body is invalid.")
    name, password, domain = credentials
    expected = state.config.iam_users.get(name)
    if expected is None or not hmac.compare_digest(expected.encode(), password.encode()):
        return iam_error(401, "Unauthorized", "The username or password is wrong.")
    project_id, project_name = _project(parsed)
    now = state.now()
    expires_at = now + state.config.iam_token_ttl_seconds
    token = state.ids.subject_token()
    state.iam_tokens.add(token, IamToken(name, domain, project_id, now, expires_at))
    body: dict[str, object] = {
        "expires_at": iam_time(expires_at),
        "issued_at": iam_time(now),
        "methods": ["password"],
        "user": {
            "id": _fake_id(f"user:{domain}:{name}"),
            "name": name,
            "domain": {"id": _fake_id(f"domain:{domain}"), "name": domain},
            "password_expires_at": "",
        },
        "roles": [{"id": _fake_id("role:te_admin"), "name": "te_admin"}],
        "catalog": [],
    }
    if project_id is not None or project_name is not None:
        body["project"] = {
            "id": project_id or _fake_id(f"project:{project_name}"),
            "name": project_name or project_id,
            "domain": {"id": _fake_id(f"domain:{domain}"), "name": domain},
        }
    return json_response(201, {"token": body}, headers={SUBJECT_TOKEN_HEADER: token})
