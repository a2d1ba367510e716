"""What two tenants must never share: a project, a token namespace, a secret directory.

A project belongs to one tenant (the default tenant's are `ECSP_ECS_PROJECT_ID` and
`ECSP_ECS_PROJECT_ALLOWLIST`), so no team can name another's project, spend its budget or find
its servers by tag. Token namespaces are distinct, so no team's key can take another's
X-Client-Token. Secret directories neither coincide nor nest, so no `$NAME` reaches another
team's file. `shared_problems` names every such overlap as a `path: message` line.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

from ecsp_contract.idempotency import tenant_namespace
from worker.tenancy.model import TenantsDocument, TenantSpec

DEFAULT_OWNER = "the default tenant"


@dataclass(frozen=True)
class DefaultTenantScope:
    """What the default tenant (the shared topics) owns, from the settings."""

    projects: frozenset[str]
    token_namespace: uuid.UUID
    secret_dir: Path | None


def token_namespace_of(name: str, spec: TenantSpec, deployment_namespace: uuid.UUID) -> uuid.UUID:
    """The tenant's token namespace: its own, or derived from the deployment's and its name."""
    return spec.token_namespace or tenant_namespace(deployment_namespace, name)


def shared_problems(document: TenantsDocument, default: DefaultTenantScope) -> list[str]:
    """One line per project, token namespace or secret directory two tenants would share."""
    return [
        *_shared_projects(document, default),
        *_shared_namespaces(document, default),
        *_shared_secret_dirs(document, default),
    ]


def _shared_projects(document: TenantsDocument, default: DefaultTenantScope) -> list[str]:
    owner = dict.fromkeys(default.projects, DEFAULT_OWNER)
    problems = []
    for name, spec in document.tenants.items():
        for index, project in enumerate(spec.all_projects()):
            first = owner.setdefault(project, name)
            if first != name:
                path = "project_id" if index == 0 else f"projects[{index - 1}]"
                problems.append(
                    f"tenants.{name}.{path}: project {project} is {_owner(first)}'s already "
                    "(a project belongs to one tenant)"
                )
    return problems


def _shared_namespaces(document: TenantsDocument, default: DefaultTenantScope) -> list[str]:
    owner = {default.token_namespace: DEFAULT_OWNER}
    problems = []
    for name, spec in document.tenants.items():
        namespace = token_namespace_of(name, spec, default.token_namespace)
        first = owner.setdefault(namespace, name)
        if first != name:
            problems.append(
                f"tenants.{name}.token_namespace: {namespace} is {_owner(first)}'s "
                "(two tenants with one namespace share every token of a key they both use)"
            )
    return problems


def _shared_secret_dirs(document: TenantsDocument, default: DefaultTenantScope) -> list[str]:
    dirs: list[tuple[str, Path]] = []
    if default.secret_dir is not None:
        dirs.append((DEFAULT_OWNER, default.secret_dir.resolve()))
    problems = []
    for name, spec in document.tenants.items():
        if spec.secret_dir is None:
            continue
        mine = spec.secret_dir.resolve()
        for other, theirs in dirs:
            if mine == theirs or mine in theirs.parents or theirs in mine.parents:
                problems.append(
                    f"tenants.{name}.secret_dir: {spec.secret_dir} overlaps {_owner(other)}'s "
                    f"{theirs} (every tenant's secrets need a directory of their own)"
                )
        dirs.append((name, mine))
    return problems


def _owner(name: str) -> str:
    return name if name == DEFAULT_OWNER else f"tenant {name}"
