"""Body checks of the create APIs, answered the way the real service does.

Owns the mapping from the contract's verdict (`ecsp_contract.verdict.check_body`: exactly what the
worker accepts, plus the fields a simulated newer API knows, ``extra_fields``, minus the worker's
own rules: the API accepts tag keys starting with ``ecsp-``) to API errors in
the reference's shape ``{"error": {"code", "message", "details": [{"code"}]}}``: ``Ecs.0005``
with every problem named (field path and reason) in ``message`` and one sub-code per problem in
``details`` (``Ecs.0011`` for the password, ``Ecs.0005`` otherwise); ``Ecs.0011`` when the only
problem is the password, or when ``adminPass`` still holds an unresolved ``$NAME`` reference or
an unescaped ``$$NAME`` (the worker must resolve or unescape it before calling).

The v1 (pay-per-use) API takes the same body except that ``extendparam.chargingMode`` is the
integer ``0`` (or ``"postPaid"``); prePaid is a v1.1-only feature.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from ecsp_contract.extensions import ExtraField
from ecsp_contract.password import literal_password
from ecsp_contract.problems import Problem
from ecsp_contract.request import CreateServersBody
from ecsp_contract.verdict import InvalidBody, check_body

V1 = "v1"
V1_1 = "v1.1"
_ILLEGAL = "request body is illegal."
_PASSWORD_PATH = "server.adminPass"  # noqa: S105 - a JSON path
_PASSWORD_MESSAGE = "The password does not meet the complexity requirements."  # noqa: S105 - an error message


@dataclass(frozen=True)
class Rejection:
    """An ECS error answer: HTTP 400, ``code``, ``message`` and per-problem ``details``."""

    code: str
    message: str
    details: list[dict[str, str]]


def _sub_code(problem: Problem) -> str:
    return "Ecs.0011" if problem.path == _PASSWORD_PATH else "Ecs.0005"


def _rejection(problems: list[Problem]) -> Rejection:
    if all(problem.path == _PASSWORD_PATH for problem in problems):
        code, message = "Ecs.0011", _PASSWORD_MESSAGE
    else:
        code, message = "Ecs.0005", _ILLEGAL
    listed = "; ".join(str(problem) for problem in problems)
    details = [{"code": _sub_code(problem)} for problem in problems]
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


def check_create_body(
    version: str, parsed: object, extra_fields: tuple[ExtraField, ...] = ()
) -> CreateServersBody | Rejection:
    """The validated body, or the API's rejection of it."""
    if version == V1:
        parsed, problem = _v1_as_v11(parsed)
        if problem is not None:
            return _rejection([problem])
    try:
        body = check_body(parsed, extra_fields, worker_rules=False).body
    except InvalidBody as exc:
        return _rejection(exc.problems)
    admin_pass = body.server.admin_pass
    if admin_pass is not None and literal_password(admin_pass) != admin_pass:
        return _rejection([Problem(_PASSWORD_PATH, "unresolved secret reference or escape")])
    return body
