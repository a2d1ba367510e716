"""Turns a pydantic `ValidationError` into `Problem(path, message)` lines a publisher can act on.

Owns the path format (`server.nics[0].subnet_id`, `server.os:scheduler_hints.group`) and the
message wording: the project's own for pydantic's error types (`describe`: "must be at most 100",
not "Input should be less than or equal to 100"), our custom errors' messages as they are, and
"did you mean …?" for an unknown field (`ecsp_contract.suggest`). The offending input is never
included, so secrets (`adminPass`, `user_data`) cannot leak. The policy file and the settings word
their problems with `describe` too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from ecsp_contract.suggest import closest, keys_at

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


#: At most this many unknown fields get a "did you mean": a guess costs a similarity search,
#: and a hostile body may carry thousands of unknown fields (its CPU must stay bounded).
MAX_GUESSES = 20


def problems_from(exc: ValidationError, model: type[BaseModel] | None = None) -> list[Problem]:
    """One `Problem` per error in `exc`, in pydantic's order, without echoing any input value.

    With the validated `model`, the message of each of the first `MAX_GUESSES` unknown fields
    names the closest known field.
    """
    errors = exc.errors(include_url=False, include_input=False)
    problems = []
    guesses = 0
    for error in errors:
        guessing = model if guesses < MAX_GUESSES else None
        guesses += error["type"] == "extra_forbidden"
        problems.append(_problem(error, guessing))
    return problems


def _problem(error: ErrorDetails, model: type[BaseModel] | None) -> Problem:
    loc = list(error["loc"])
    ctx = error.get("ctx") or {}
    field = ctx.get("field")
    if error["type"] == "cross_field" and isinstance(field, str):
        loc.append(field)
    message = describe(error)
    if error["type"] == "extra_forbidden":
        message = "unknown field (not part of the v1.1 create-servers body)"
        if model is not None:
            message += did_you_mean(model, error["loc"])
    return Problem(format_path(loc), message)


def did_you_mean(model: type[BaseModel], loc: Sequence[int | str]) -> str:
    """`; did you mean NAME?` for the unknown key at the end of `loc`, or "" when none is close."""
    if not loc or not isinstance(loc[-1], str):
        return ""
    guess = closest(loc[-1], keys_at(model, loc[:-1]))
    return f"; did you mean {guess}?" if guess else ""


#: The project's wording of pydantic's error types; `{…}` from the error's context, plus
#: `{items}`/`{characters}` in the singular or plural of its length.
_WORDING = {
    "missing": "required field is missing",
    "extra_forbidden": "unknown key",
    "model_type": "must be a JSON object",
    "model_attributes_type": "must be a JSON object",
    "dict_type": "must be a JSON object",
    "list_type": "must be a list",
    "string_type": "must be a string",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "less_than_equal": "must be at most {le}",
    "greater_than_equal": "must be at least {ge}",
    "less_than": "must be less than {lt}",
    "greater_than": "must be more than {gt}",
    "multiple_of": "must be a multiple of {multiple_of}",
    "too_short": "must have at least {min_length} {items}",
    "too_long": "must have at most {max_length} {items}",
    "string_too_short": "must have at least {min_length} {characters}",
    "string_too_long": "must have at most {max_length} {characters}",
    "string_pattern_mismatch": "must match {pattern}",
    "literal_error": "must be {expected}",
    "enum": "must be {expected}",
    "uuid_type": "must be a UUID",
    "uuid_parsing": "must be a UUID",
}


def describe(error: ErrorDetails) -> str:
    """The project's wording of one pydantic error (the message of our own errors as it is)."""
    if error["type"] == "value_error":
        return error["msg"].removeprefix("Value error, ")
    template = _WORDING.get(error["type"])
    if template is None:
        return error["msg"]
    ctx = dict(error.get("ctx") or {})
    length = ctx.get("min_length", ctx.get("max_length"))
    ctx["items"] = "item" if length == 1 else "items"
    ctx["characters"] = "character" if length == 1 else "characters"
    return template.format_map(ctx)
