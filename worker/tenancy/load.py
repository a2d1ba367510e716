"""Reading the tenants file: YAML → a validated `TenantsDocument`, or an error naming every problem.

The schema's problems (`worker.yaml_file`) come first, then what two tenants share
(`worker.tenancy.sharing`): either way the worker does not start (exit 2).
"""

from __future__ import annotations

from pathlib import Path

from worker.tenancy.model import TenantsDocument
from worker.tenancy.sharing import DefaultTenantScope, shared_problems
from worker.yaml_file import ConfigFileError, parse_model, read_file


class TenantsFileError(ConfigFileError):
    """The tenants file cannot be used; `problems` says why, one line each."""

    kind = "tenants file"


def read_tenants(path: Path, default: DefaultTenantScope) -> TenantsDocument:
    """The tenants in the file, checked against each other and the default tenant."""
    return parse_tenants(read_file(path, TenantsFileError), default, source=str(path))


def parse_tenants(
    raw: bytes, default: DefaultTenantScope, *, source: str = "<tenants>"
) -> TenantsDocument:
    """The tenants in `raw` (YAML); TenantsFileError naming every problem otherwise."""
    document = parse_model(
        raw,
        TenantsDocument,
        TenantsFileError,
        source=source,
        too_deep="nested too deeply to be a tenants file (it needs 4 levels)",
        when_empty="write `tenants: {}` for none",
    )
    problems = shared_problems(document, default)
    if problems:
        raise TenantsFileError(source, problems)
    return document
