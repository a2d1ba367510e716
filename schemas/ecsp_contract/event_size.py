"""Fitting an event into the events topic's size limit: its large parts are cut first, marked.

Owns `fit_event`, `EventTooLarge` and the order parts are cut in. An event whose JSON is larger than
the limit (or cannot be serialised at all) loses, in this order, until it fits: the request copy
(`request`), the tail of `error.details`, the tail of `error.message`, the echoed
`request_key`/`subject`/`project_id` beyond 256 characters, the `traceparent` (with its
`tracestate`), `sub_jobs`; last, text that UTF-8 cannot carry becomes `?`. Each cut is named in
`data.truncated`, so a subscriber knows the event is not whole. Ids, type, stage, codes,
job/order/server ids are never cut: they are what a subscriber acts on. When even that minimal event
does not fit, `EventTooLarge` says so (the caller logs, counts and moves on).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pydantic_core

from ecsp_contract.cloudevent import CloudEvent

MAX_ECHO_CHARS = 256
"""Echoed key and project are cut to this many characters when an event is over its size limit."""
MAX_MESSAGE_CHARS = 1024
"""`error.message` is cut to this many characters when an event is over its size limit."""


class EventTooLarge(Exception):
    """Even the minimal form of the event is over the size limit (or cannot be serialised)."""


def fit_event(event: CloudEvent, max_bytes: int, *, minimal: bool = False) -> bytes:
    """The event's JSON, cut as the module doc says until it is at most `max_bytes` long.

    `minimal` cuts every part at once (for a broker that refused the fitted event as too large).
    """
    document = event.to_dict()
    if not minimal and (encoded := _fitting(document, max_bytes)) is not None:
        return encoded
    document = copy.deepcopy(document)
    data: dict[str, Any] = document["data"]
    cuts: list[str] = []
    for cut in _CUTS:
        note = cut(document, data)
        if note is None:
            continue
        cuts.append(note)
        data["truncated"] = cuts
        if note == _DETAILS:
            details = data["error"].pop("_all_details")
            cuts[-1] = f"{_DETAILS}: 0 of {len(details)} kept"
            encoded = None if minimal else _keep_details_that_fit(document, details, max_bytes)
        else:
            encoded = None if minimal else _fitting(document, max_bytes)
        if encoded is not None:
            return encoded
    encoded = _fitting(document, max_bytes)
    if encoded is None:
        raise EventTooLarge(f"{event.type}: even its minimal form is over {max_bytes} bytes")
    return encoded


def _fitting(document: dict[str, Any], max_bytes: int) -> bytes | None:
    """The document's JSON if it can be serialised and is at most `max_bytes` long."""
    try:
        encoded = pydantic_core.to_json(document, inf_nan_mode="null")
    except (pydantic_core.PydanticSerializationError, ValueError, RecursionError):
        return None
    return encoded if len(encoded) <= max_bytes else None


_DETAILS = "error.details"


def _keep_details_that_fit(
    document: dict[str, Any], details: list[Any], max_bytes: int
) -> bytes | None:
    """With the details cut: the event with the longest prefix of them that fits, if any.

    The note in `truncated` says how many were kept: `error.details: 12 of 3000 kept`.
    """
    data = document["data"]
    error = data["error"]
    cuts: list[str] = data["truncated"]
    best: bytes | None = None
    low, high = 0, len(details) - 1  # all of them did not fit
    while low <= high:
        middle = (low + high) // 2
        error["details"] = details[:middle] or None
        cuts[-1] = f"{_DETAILS}: {middle} of {len(details)} kept"
        encoded = _fitting(document, max_bytes)
        if encoded is None:
            high = middle - 1
        else:
            best, low = encoded, middle + 1
    error["details"] = None
    cuts[-1] = f"{_DETAILS}: 0 of {len(details)} kept"
    return best


def _cut_request(document: dict[str, Any], data: dict[str, Any]) -> str | None:
    if data.get("request") is None:
        return None
    data["request"] = None
    return "request"


def _cut_details(document: dict[str, Any], data: dict[str, Any]) -> str | None:
    error = data.get("error")
    if not isinstance(error, dict) or not error.get("details"):
        return None
    error["_all_details"], error["details"] = error["details"], None  # fit_event takes it back
    return _DETAILS


def _cut_message(document: dict[str, Any], data: dict[str, Any]) -> str | None:
    error = data.get("error")
    if not isinstance(error, dict) or len(error.get("message") or "") <= MAX_MESSAGE_CHARS:
        return None
    error["message"] = _shorten(error["message"], MAX_MESSAGE_CHARS)
    return "error.message"


def _cut_echoes(document: dict[str, Any], data: dict[str, Any]) -> str | None:
    cut: list[str] = []
    for name in ("request_key", "project_id"):
        value = data.get(name)
        if isinstance(value, str) and len(value) > MAX_ECHO_CHARS:
            data[name] = _shorten(value, MAX_ECHO_CHARS)
            cut.append(name)
    subject = document.get("subject")
    if isinstance(subject, str) and len(subject) > MAX_ECHO_CHARS:
        document["subject"] = _shorten(subject, MAX_ECHO_CHARS)
    return ", ".join(cut) or None


def _cut_traceparent(document: dict[str, Any], data: dict[str, Any]) -> str | None:
    document.pop("tracestate", None)
    if document.pop("traceparent", None) is None:
        return None
    return "traceparent"


def _cut_sub_jobs(document: dict[str, Any], data: dict[str, Any]) -> str | None:
    if not data.get("sub_jobs"):
        return None
    data["sub_jobs"] = []
    return "sub_jobs"


def _scrub_text(document: dict[str, Any], data: dict[str, Any]) -> str | None:
    """Text UTF-8 cannot carry (lone surrogates, say in an API's message) becomes `?`."""
    if _fitting(document, max_bytes=2**62) is not None:  # serialisable: nothing to replace
        return None
    pending: list[Any] = [document]
    while pending:
        node = pending.pop()
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, value in list(items):
            if isinstance(value, str):
                node[key] = value.encode("utf-8", "replace").decode("utf-8")
            elif isinstance(value, dict | list):
                pending.append(value)
    return "unencodable text"


_CUTS: tuple[Callable[[dict[str, Any], dict[str, Any]], str | None], ...] = (
    _cut_request,
    _cut_details,
    _cut_message,
    _cut_echoes,
    _cut_traceparent,
    _cut_sub_jobs,
    _scrub_text,
)


def _shorten(text: str, limit: int) -> str:
    return f"{text[:limit]}…(cut, {len(text)} characters)"
