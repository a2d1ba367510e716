"""Turns a pydantic `ValidationError` into `Problem(path, message)` lines a publisher can act on.

Owns the path format (`server.nics[0].subnet_id`, `server.os:scheduler_hints.group`) and the
message wording. Messages are built from pydantic's message template and our own custom errors;
the offending input is never included, so secrets (`adminPass`, `user_data`) cannot leak.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import ValidationError
from pydantic_core import ErrorDetails

ROOT_PATH = "(body)"
"""Path used for problems with the whole document (for example: not a JSON object)."""


@dataclass(frozen=True)
class Problem:
    """One broken rule: the JSON path of the offending value and what is wrong with it."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def format_path(loc: Sequence[int | str]) -> str:
    """`("server", "nics", 0, "subnet_id")` -> `server.nics[0].subnet_id`."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part.startswith("["):  # a cross-field rule naming an item, e.g. "[1].key"
            path += part
        else:
            path += f".{part}" if path else part
    return path or ROOT_PATH


def problems_from(exc: ValidationError) -> list[Problem]:
    """One `Problem` per error in `exc`, in pydantic's order, without echoing any input value."""
    return [_problem(error) for error in exc.errors(include_url=False, include_input=False)]


def _problem(error: ErrorDetails) -> Problem:
    loc = list(error["loc"])
    ctx = error.get("ctx") or {}
    field = ctx.get("field")
    if error["type"] == "cross_field" and isinstance(field, str):
        loc.append(field)
    return Problem(format_path(loc), _message(error))


def _message(error: ErrorDetails) -> str:
    kind = error["type"]
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        return "unknown field (not part of the v1.1 create-servers body)"
    if kind in {"model_type", "model_attributes_type"}:
        return "must be a JSON object"
    return error["msg"]
