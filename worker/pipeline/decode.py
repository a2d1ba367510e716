"""Decoding a request record: bytes → JSON object → validated model, key → X-Client-Token.

Every way a record can be unusable ends in a StageFailure with a machine-readable code
(`ecsp_contract.failures.WorkerErrorCode`): stage `decode` when the record is out of bounds (key,
header, value size, JSON depth, object keys, integer size) or its value is not a JSON object of
text that UTF-8 can carry, stage `validate` when the key, the project or the body is wrong. The
bounds keep every later step (events, logs, serialisation) far from Python's and pydantic's
limits, and a record's CPU cost bounded.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ecsp_contract.extensions import ExtraField
from ecsp_contract.failures import FailureStage, WorkerErrorCode
from ecsp_contract.idempotency import client_token
from ecsp_contract.limits import (
    MAX_HEADER_BYTES,
    MAX_INT_DIGITS,
    MAX_JSON_DEPTH,
    MAX_KEY_BYTES,
    MAX_OBJECT_KEYS,
)
from ecsp_contract.request import CreateServersBody
from ecsp_contract.verdict import InvalidBody, ReservedTags, check_body
from worker.pipeline.failure import StageFailure
from worker.pipeline.message import InboundMessage

PROJECT_HEADER = "ecs-project-id"
TRACEPARENT_HEADER = "traceparent"
TRACESTATE_HEADER = "tracestate"
#: W3C trace context allows at most 32 list members of at most 256 characters; vendors may
#: cut a longer tracestate, and so does the worker (it is then dropped, not cut).
MAX_TRACESTATE_CHARS = 512

_TRACEPARENT = re.compile(r"[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}(-[ -~]{0,200})?")
_TRACESTATE = re.compile(rf"[ -~]{{1,{MAX_TRACESTATE_CHARS}}}")


@dataclass(frozen=True, slots=True)
class Identity:
    """What is known of a record before its body is trusted: key, token, project, trace."""

    key: str | None
    token: str | None
    project_id: str | None
    traceparent: str | None
    tracestate: str | None = None


@dataclass(frozen=True, slots=True)
class DecodedRequest:
    """A request that passed every local check and may be sent to the API."""

    key: str
    token: str
    project_id: str
    body: CreateServersBody
    wire: dict[str, Any]


def identify(message: InboundMessage, *, namespace: uuid.UUID, default_project: str) -> Identity:
    """Key, token and project of a record; never fails (problems surface in `decode`).

    An oversized project header is not taken (the record fails in `check_bounds`); a
    traceparent that is not W3C trace context is ignored, as the W3C recommendation says (and
    the tracestate with it; a tracestate is kept only beside a valid traceparent).
    """
    key = _key_text(message.key)
    project = message.header(PROJECT_HEADER)
    if project is not None and len(project.encode()) > MAX_HEADER_BYTES:
        project = None
    traceparent = message.header(TRACEPARENT_HEADER)
    if traceparent is not None and not _TRACEPARENT.fullmatch(traceparent):
        traceparent = None
    tracestate = message.header(TRACESTATE_HEADER) if traceparent is not None else None
    if tracestate is not None and not _TRACESTATE.fullmatch(tracestate):
        tracestate = None
    return Identity(
        key=key,
        token=client_token(key, namespace) if key is not None else None,
        project_id=project or default_project or None,
        traceparent=traceparent,
        tracestate=tracestate,
    )


def check_bounds(message: InboundMessage) -> None:
    """A `decode` StageFailure when the key or the project header is longer than accepted."""
    if message.key is not None and len(message.key) > MAX_KEY_BYTES:
        raise _decode_failure(
            WorkerErrorCode.KEY_TOO_LARGE,
            f"message key is {len(message.key)} bytes, more than the limit of {MAX_KEY_BYTES}",
        )
    project = message.header(PROJECT_HEADER)
    if project is not None and len(project.encode()) > MAX_HEADER_BYTES:
        raise _decode_failure(
            WorkerErrorCode.HEADER_TOO_LARGE,
            f"header {PROJECT_HEADER} is longer than the limit of {MAX_HEADER_BYTES} bytes",
        )


def event_key(raw: bytes | None) -> bytes | None:
    """The Kafka key of the events answering a record: its key, cut to MAX_KEY_BYTES."""
    return None if raw is None else raw[:MAX_KEY_BYTES]


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
        if text.startswith("\ufeff"):  # json.loads checks this; a bare decoder does not
            raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
        parsed = _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        raise _decode_failure(
            WorkerErrorCode.NOT_JSON,
            f"message value is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
        ) from None
    except RecursionError:
        raise _too_deep() from None
    if not isinstance(parsed, dict):
        raise _decode_failure(
            WorkerErrorCode.NOT_OBJECT,
            f"message value is a JSON {type(parsed).__name__}, not an object",
        )
    # Decoded UTF-8 has no surrogates: only a \u escape can make one.
    _check_tree(parsed, texts="\\u" in text)
    return parsed


def _bounded_int(literal: str) -> int:
    if len(literal.lstrip("-")) > MAX_INT_DIGITS:
        raise _decode_failure(
            WorkerErrorCode.NUMBER_TOO_LARGE,
            f"message value has an integer of more than {MAX_INT_DIGITS} digits",
        )
    return int(literal)


_DECODER = json.JSONDecoder(parse_int=_bounded_int)
"""One decoder for every record: `json.loads(text, parse_int=...)` builds a new one per call
(~2 of its 8 us for the API reference's example)."""


def _check_tree(document: dict[str, Any], *, texts: bool) -> None:
    """Depth, key count (and, if `texts`, text) checks over the parsed value, without recursion
    (any depth is safe). Scalars are never deeper than their container, so only containers are
    queued. The key count stops a value before validation and redaction spend CPU per key."""
    pending: list[tuple[dict[str, Any] | list[Any], int]] = [(document, 1)]
    keys = 0
    while pending:
        node, depth = pending.pop()
        if depth > MAX_JSON_DEPTH:
            raise _too_deep()
        items: Iterable[Any] = node
        if isinstance(node, dict):
            keys += len(node)
            if keys > MAX_OBJECT_KEYS:
                raise _decode_failure(
                    WorkerErrorCode.TOO_MANY_KEYS,
                    f"message value has more than {MAX_OBJECT_KEYS} object keys",
                )
            items = node.values()
            if texts:
                for key in node:
                    _check_text(key)
        for item in items:
            if isinstance(item, dict | list):
                pending.append((item, depth + 1))
            elif texts and isinstance(item, str):
                _check_text(item)


def _check_text(text: str) -> None:
    """Lone surrogates (a `\\ud800` escape) are valid JSON but have no UTF-8 form."""
    if text.isascii():
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise _decode_failure(
            WorkerErrorCode.NOT_UTF8,
            "message value has a string with a lone UTF-16 surrogate escape (no UTF-8 form)",
        ) from None


def _too_deep() -> StageFailure:
    return _decode_failure(
        WorkerErrorCode.TOO_DEEP, f"message value nests deeper than {MAX_JSON_DEPTH} levels"
    )


def validate(
    identity: Identity,
    document: dict[str, Any],
    *,
    allowed_projects: frozenset[str],
    extra_fields: tuple[ExtraField, ...] = (),
) -> DecodedRequest:
    """Checks key, project and body; a `validate` StageFailure names what is wrong."""
    if identity.key is None or identity.token is None:
        raise StageFailure(
            stage=FailureStage.VALIDATE,
            code=WorkerErrorCode.MISSING_KEY,
            message="message has no key: the key (a non-empty UTF-8 string) identifies the "
            "request and makes its create idempotent",
        )
    if identity.project_id is None or identity.project_id not in allowed_projects:
        raise StageFailure(
            stage=FailureStage.VALIDATE,
            code=WorkerErrorCode.PROJECT_NOT_ALLOWED,
            message=f"project {identity.project_id!r} is not in the worker's allow-list",
        )
    try:
        checked = check_body(document, extra_fields)
    except InvalidBody as exc:
        problems = exc.problems
        raise StageFailure(
            stage=FailureStage.VALIDATE,
            code=(
                WorkerErrorCode.RESERVED_TAG
                if isinstance(exc, ReservedTags)
                else WorkerErrorCode.INVALID_REQUEST
            ),
            message="; ".join(f"{p.path}: {p.message}" for p in problems[:5])
            + (f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""),
            details=[{"path": p.path, "message": p.message} for p in problems],
        ) from None
    return DecodedRequest(
        key=identity.key,
        token=identity.token,
        project_id=identity.project_id,
        body=checked.body,
        wire=checked.wire,
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
    return StageFailure(stage=FailureStage.DECODE, code=code, message=message)
