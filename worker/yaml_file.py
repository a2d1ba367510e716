"""The worker's YAML configuration files (the policy, the tenants): bytes → one validated model.

Owns `ConfigFileError` (a file that cannot be used, with one `path: message` line per problem in
the project's wording) and `parse_model`: safe YAML only; a file that is not YAML, nests too
deeply to read (a 3,000-deep file exhausts Python's recursion limit), is empty, is not a mapping
or breaks the model's schema (unknown keys included, each with its "did you mean") is refused
with every problem named.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from ecsp_contract.problems import describe, did_you_mean, format_path

M = TypeVar("M", bound=BaseModel)


class ConfigFileError(Exception):
    """A configuration file cannot be used; `problems` says why, one line each."""

    kind = "configuration file"

    def __init__(self, source: str, problems: list[str]) -> None:
        super().__init__(f"invalid {self.kind} {source}: " + "; ".join(problems))
        self.source = source
        self.problems = problems


def read_file(path: Path, error: type[ConfigFileError]) -> bytes:
    """The file's bytes; `error` if it cannot be read."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise error(str(path), [f"cannot read it: {exc.strerror}"]) from None


def parse_model(
    raw: bytes,
    model: type[M],
    error: type[ConfigFileError],
    *,
    source: str,
    too_deep: str,
    when_empty: str,
) -> M:
    """The `model` in `raw` (YAML); `error` naming every problem otherwise."""
    try:
        document = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1} column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise error(source, [f"not YAML: {problem}{where}"]) from None
    except RecursionError:
        raise error(source, [too_deep]) from None
    except Exception as exc:  # the YAML reader's own failure on odd values (a date out of range)
        raise error(source, [f"cannot be read: {type(exc).__name__}"]) from None
    if document is None:
        raise error(source, [f"the file is empty; {when_empty}"])
    if not isinstance(document, dict):
        raise error(source, [f"must be a mapping, not a {type(document).__name__}"])
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        raise error(source, _problems(exc, model)) from None
    except RecursionError:
        raise error(source, [too_deep]) from None


def _problems(exc: ValidationError, model: type[BaseModel]) -> list[str]:
    lines = []
    for error in exc.errors(include_url=False, include_input=False):
        message = describe(error)
        if error["type"] == "extra_forbidden":
            message += did_you_mean(model, error["loc"])
        lines.append(f"{format_path(list(error['loc']))}: {message}")
    return lines
