"""Body checks of the create APIs, answered the way the real service does.

Owns the mapping from the contract models (`schemas.request.CreateServersBody`, problems from
`schemas.problems.problems_from`) to API errors: ``Ecs.0005`` with every problem named (field
path and reason) in ``message`` and ``details``; ``Ecs.0011`` when the only problem is the
password, or when ``adminPass`` still holds an unresolved ``$NAME`` reference (the API would take
it as a literal, too weak, password: the worker must resolve it before calling).

The v1 (pay-per-use) API takes the same body except that ``extendparam.chargingMode`` is the
integer ``0`` (or ``"postPaid"``); prePaid is a v1.1-only feature.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass

from pydantic import ValidationError

from schemas.problems import Problem, problems_from
from schemas.request import CreateServersBody

V1 = "v1"
V1_1 = "v1.1"
MAX_COUNT = 100  # servers per create request, as documented
_ILLEGAL = "request body is illegal."
_PASSWORD_PATH = "server.adminPass"  # noqa: S105 - a JSON path
_PASSWORD_MESSAGE = "The password does not meet the complexity requirements."  # noqa: S105 - an error message


@dataclass(frozen=True)
class Rejection:
    """An ECS error answer: HTTP 400, ``code``, ``message`` and per-problem ``details``."""

    code: str
    message: str
    details: list[dict[str, str]]


def _rejection(problems: list[Problem]) -> Rejection:
    if all(problem.path == _PASSWORD_PATH for problem in problems):
        code, message = "Ecs.0011", _PASSWORD_MESSAGE
    else:
        code, message = "Ecs.0005", _ILLEGAL
    listed = "; ".join(str(problem) for problem in problems)
    details = [{"code": code, "message": str(problem)} for problem in problems]
    return Rejection(code=code, message=f"{message} {listed}", details=details)


def _v1_as_v11(parsed: object) -> tuple[object, Problem | None]:
    """The v1 body in v1.1 terms (chargingMode 0 -> "postPaid"), or why it cannot be."""
    if not isinstance(parsed, dict):
        return parsed, None
    server = parsed.get("server")
    extend = server.get("extendparam") if isinstance(server, dict) else None
    if not isinstance(extend, dict) or "chargingMode" not in extend:
        return parsed, None
    mode = extend["chargingMode"]
    if mode in (0, "0", "postPaid") and not isinstance(mode, bool):
        converted = copy.deepcopy(parsed)
        converted["server"]["extendparam"]["chargingMode"] = "postPaid"
        return converted, None
    problem = Problem(
        "server.extendparam.chargingMode", "the v1 API creates pay-per-use servers only (0)"
    )
    return parsed, problem


def check_create_body(version: str, raw: bytes, parsed: object) -> CreateServersBody | Rejection:
    """The validated body, or the API's rejection of it."""
    if version == V1:
        as_v11, problem = _v1_as_v11(parsed)
        if problem is not None:
            return _rejection([problem])
        if as_v11 is not parsed:
            raw = json.dumps(as_v11).encode()
    try:
        body = CreateServersBody.model_validate_json(raw)
    except ValidationError as exc:
        return _rejection(problems_from(exc))
    if (body.server.count or 1) > MAX_COUNT:
        return _rejection([Problem("server.count", f"must be at most {MAX_COUNT}")])
    if body.server.admin_pass_reference is not None:
        return _rejection([Problem(_PASSWORD_PATH, "unresolved secret reference")])
    return body
