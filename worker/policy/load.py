"""Reading a policy file: YAML → a validated `PolicyDocument`, or an error naming every problem.

A file that is not YAML (or nests too deeply to read: a 3,000-deep file exhausts Python's
recursion limit), is empty, is not a mapping, or breaks the schema (unknown keys included)
raises `PolicyFileError` whose `problems` are `path: message` lines in the project's wording,
e.g. `projects.p1.flavors.allow: must have at least 1 item` or
`default.flavor: unknown key; did you mean flavors?`.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from ecsp_contract.problems import describe, did_you_mean, format_path
from worker.policy.model import PolicyDocument

TOO_DEEP = "nested too deeply to be a policy (a policy needs 4 levels)"


class PolicyFileError(Exception):
    """The policy file cannot be used; `problems` says why, one line each."""

    def __init__(self, source: str, problems: list[str]) -> None:
        super().__init__(f"invalid policy file {source}: " + "; ".join(problems))
        self.source = source
        self.problems = problems


def read_policy(path: Path) -> tuple[bytes, PolicyDocument]:
    """The file's bytes and its policy; PolicyFileError if unreadable or invalid."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise PolicyFileError(str(path), [f"cannot read it: {exc.strerror}"]) from None
    return raw, parse_policy(raw, source=str(path))


def parse_policy(raw: bytes, *, source: str = "<policy>") -> PolicyDocument:
    """The policy in `raw` (YAML); PolicyFileError naming every problem otherwise."""
    try:
        document = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1} column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise PolicyFileError(source, [f"not YAML: {problem}{where}"]) from None
    except RecursionError:
        raise PolicyFileError(source, [TOO_DEEP]) from None
    except Exception as exc:  # the YAML reader's own failure on odd values (a date out of range)
        raise PolicyFileError(source, [f"cannot be read: {type(exc).__name__}"]) from None
    if document is None:
        raise PolicyFileError(source, ["the file is empty; write `default: {}` for no rules"])
    if not isinstance(document, dict):
        raise PolicyFileError(source, [f"must be a mapping, not a {type(document).__name__}"])
    try:
        return PolicyDocument.model_validate(document)
    except ValidationError as exc:
        raise PolicyFileError(source, _problems(exc)) from None
    except RecursionError:
        raise PolicyFileError(source, [TOO_DEEP]) from None


def _problems(exc: ValidationError) -> list[str]:
    lines = []
    for error in exc.errors(include_url=False, include_input=False):
        message = describe(error)
        if error["type"] == "extra_forbidden":
            message += did_you_mean(PolicyDocument, error["loc"])
        lines.append(f"{format_path(list(error['loc']))}: {message}")
    return lines
