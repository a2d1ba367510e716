"""Who a record says it is, before its body is trusted: key, token, project and trace context.

Owns `Identity` and `identify` (never fails: problems surface in the decode and validate steps)
and the names of the request headers it reads. The X-Client-Token is derived from the key
(`ecsp_contract.idempotency.client_token`), so the same key always yields the same token.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from ecsp_contract.idempotency import client_token
from ecsp_contract.limits import MAX_HEADER_BYTES
from worker.pipeline.port import InboundMessage

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


def _key_text(raw: bytes | None) -> str | None:
    if not raw:
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return text or None
