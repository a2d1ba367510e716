"""Reading a policy file: YAML → a validated `PolicyDocument`, or an error naming every problem.

A file that is not YAML (or nests too deeply to read), is empty, is not a mapping, or breaks the
schema (unknown keys included) raises `PolicyFileError` whose `problems` are `path: message`
lines in the project's wording (`worker.yaml_file`), e.g.
`projects.p1.flavors.allow: must have at least 1 item` or
`default.flavor: unknown key; did you mean flavors?`. Given the tenants the worker serves, a
`tenants:` entry naming none of them is a problem too (a typo would leave a team unguarded).
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from ecsp_contract.suggest import closest
from worker.policy.model import PolicyDocument
from worker.yaml_file import ConfigFileError, parse_model, read_file

TOO_DEEP = "nested too deeply to be a policy (a policy needs 4 levels)"


class PolicyFileError(ConfigFileError):
    """The policy file cannot be used; `problems` says why, one line each."""

    kind = "policy file"


def read_policy(path: Path, tenants: Collection[str] | None = None) -> tuple[bytes, PolicyDocument]:
    """The file's bytes and its policy; PolicyFileError if unreadable or invalid."""
    raw = read_file(path, PolicyFileError)
    return raw, parse_policy(raw, source=str(path), tenants=tenants)


def parse_policy(
    raw: bytes, *, source: str = "<policy>", tenants: Collection[str] | None = None
) -> PolicyDocument:
    """The policy in `raw` (YAML); PolicyFileError naming every problem otherwise.

    `tenants`: the names the worker serves (None: not known here, as in `policy check`)."""
    policy = parse_model(
        raw,
        PolicyDocument,
        PolicyFileError,
        source=source,
        too_deep=TOO_DEEP,
        when_empty="write `default: {}` for no rules",
    )
    if tenants is not None:
        unknown = [_unknown_tenant(name, tenants) for name in policy.tenants if name not in tenants]
        if unknown:
            raise PolicyFileError(source, unknown)
    return policy


def _unknown_tenant(name: str, tenants: Collection[str]) -> str:
    guess = closest(name, tenants)
    hint = f"; did you mean {guess}?" if guess else ""
    return f"tenants.{name}: no tenant of that name in ECSP_TENANTS_FILE{hint}"
