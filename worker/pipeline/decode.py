"""Decoding a request record: bytes → JSON object → validated model, key → X-Client-Token.

Every way a record can be unusable ends in a StageFailure with a machine-readable code
(`schemas.events.WorkerErrorCode`): stage `decode` when the value is not a JSON object of
acceptable size, stage `validate` when the key, the project or the body is wrong.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from schemas.events import WorkerErrorCode
from schemas.idempotency import client_token
from schemas.problems import problems_from
from schemas.request import CreateServersBody, to_wire
from worker.pipeline.failure import StageFailure
from worker.pipeline.message import InboundMessage

PROJECT_HEADER = "ecs-project-id"
TRACEPARENT_HEADER = "traceparent"


@dataclass(frozen=True, slots=True)
class Identity:
    """What is known of a record before its body is trusted: key, token, project, trace."""

    key: str | None
    token: str | None
    project_id: str | None
    traceparent: str | None


@dataclass(frozen=True, slots=True)
class DecodedRequest:
    """A request that passed every local check and may be sent to the API."""

    key: str
    token: str
    project_id: str
    body: CreateServersBody
    wire: dict[str, Any]


def identify(message: InboundMessage, *, namespace: uuid.UUID, default_project: str) -> Identity:
    """Key, token and project of a record; never fails (problems surface in `decode`)."""
    key = _key_text(message.key)
    project = message.header(PROJECT_HEADER) or default_project or None
    return Identity(
        key=key,
        token=client_token(key, namespace) if key is not None else None,
        project_id=project,
        traceparent=message.header(TRACEPARENT_HEADER),
    )


def parse_json_object(message: InboundMessage, *, max_bytes: int) -> dict[str, Any]:
    """The record's value as a JSON object, or a `decode` StageFailure saying why not."""
    value = message.value
    if value is None:
        raise _decode_failure(WorkerErrorCode.NOT_JSON, "message has no value (tombstone)")
    if len(value) > max_bytes:
        raise _decode_failure(
            WorkerErrorCode.TOO_LARGE,
            f"message value is {len(value)} bytes, more than the limit of {max_bytes}",
        )
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _decode_failure(
            WorkerErrorCode.NOT_UTF8, f"message value is not UTF-8 (byte {exc.start})"
        ) from None
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _decode_failure(
            WorkerErrorCode.NOT_JSON,
            f"message value is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
        ) from None
    except RecursionError:
        raise _decode_failure(WorkerErrorCode.NOT_JSON, "message value nests too deep") from None
    if not isinstance(parsed, dict):
        raise _decode_failure(
            WorkerErrorCode.NOT_OBJECT,
            f"message value is a JSON {type(parsed).__name__}, not an object",
        )
    return parsed


def validate(
    identity: Identity, document: dict[str, Any], *, allowed_projects: frozenset[str]
) -> DecodedRequest:
    """Checks key, project and body; a `validate` StageFailure names what is wrong."""
    if identity.key is None or identity.token is None:
        raise StageFailure(
            stage="validate",
            code=WorkerErrorCode.MISSING_KEY,
            message="message has no key: the key (a non-empty UTF-8 string) identifies the "
            "request and makes its create idempotent",
        )
    if identity.project_id is None or identity.project_id not in allowed_projects:
        raise StageFailure(
            stage="validate",
            code=WorkerErrorCode.PROJECT_NOT_ALLOWED,
            message=f"project {identity.project_id!r} is not in the worker's allow-list",
        )
    try:
        body = CreateServersBody.model_validate(document)
    except ValidationError as exc:
        problems = problems_from(exc)
        raise StageFailure(
            stage="validate",
            code=WorkerErrorCode.INVALID_REQUEST,
            message="; ".join(f"{p.path}: {p.message}" for p in problems[:5])
            + (f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""),
            details=[{"path": p.path, "message": p.message} for p in problems],
        ) from None
    return DecodedRequest(
        key=identity.key,
        token=identity.token,
        project_id=identity.project_id,
        body=body,
        wire=to_wire(body),
    )


def _key_text(raw: bytes | None) -> str | None:
    if not raw:
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return text or None


def _decode_failure(code: WorkerErrorCode, message: str) -> StageFailure:
    return StageFailure(stage="decode", code=code, message=message)
