"""What an event says about its request, in one line, and the exit code of a wait that ends on it.

Shared by `publish --wait` and `status`: `summary(event)` names the outcome with the server ids
or the stage, error code and message (progress events say the request is still in progress);
`wait_exit_code` maps a terminal event to the agreed codes (0 succeeded or validated, 1 failed).
Events are read as JSON objects, so an event of a newer release still prints.
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from typing import Any

from ecsp_contract.events import EventType
from worker.cli.exit_codes import ExitCode

TERMINAL = frozenset({EventType.SUCCEEDED, EventType.VALIDATED, EventType.FAILED})


def parse_event(value: bytes | None) -> dict[str, Any] | None:
    """A record's value as an event object, or None (a tombstone, or not a JSON object)."""
    if value is None:
        return None
    try:
        event = json.loads(value)
    except (ValueError, UnicodeDecodeError):
        return None
    return event if isinstance(event, dict) and isinstance(event.get("data"), dict) else None


def is_terminal(event: dict[str, Any]) -> bool:
    return event.get("type") in TERMINAL


def wait_exit_code(event: dict[str, Any]) -> int:
    """0 for succeeded or validated, 1 for failed (terminal events only)."""
    return ExitCode.FAILED if event.get("type") == EventType.FAILED else ExitCode.OK


def summary(event: dict[str, Any]) -> str:
    """One line: the outcome and what a reader needs of it."""
    data: dict[str, Any] = event["data"]
    kind = str(event.get("type", "?")).removeprefix("ecs.provisioning.")
    servers = ", ".join(str(s) for s in data.get("server_ids") or []) or "none"
    job = f"job {data['job_id']}" if data.get("job_id") else "no job"
    if kind == "succeeded":
        return f"succeeded: servers {servers} ({job})"
    if kind == "validated":
        return "validated: the dry run passed the API's check"
    if kind == "failed":
        error = data.get("error") or {}
        message = " ".join(str(error.get("message", "")).split())
        retry = "retryable" if data.get("retryable") else "not retryable"
        return f"failed at {data.get('stage')}: {error.get('code')}: {message} ({retry})"
    if kind == "submitted":
        return f"submitted: {job}, servers {servers} (in progress)"
    if kind == "awaiting_payment":
        return f"awaiting payment: order {data.get('order_id')}, {job} (in progress)"
    return kind


def age(event: dict[str, Any], now: float | None = None) -> str:
    """How long ago the event was published ("42s ago", "3m ago", "5h ago", "2d ago")."""
    try:
        seconds = (now or time.time()) - datetime.fromisoformat(str(event["time"])).timestamp()
    except (KeyError, ValueError, TypeError):
        return "at an unknown time"
    seconds = max(0.0, seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= 2 * size:
            return f"{int(seconds // size)}{unit} ago"
    return f"{int(seconds)}s ago"
