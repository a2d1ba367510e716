"""The tenants file's schema: `tenants:` maps each tenant's name to what it owns.

A tenant's name is a safe topic suffix (`ecsp_contract.tenants`): its topics are the shared ones
with `.NAME` appended. It owns its default project and the further projects its requests may
name, optionally a token namespace of its own (by default derived from `ECSP_TOKEN_NAMESPACE` and
its name) and a secret directory (its `$NAME` references resolve there and nowhere else). Unknown
keys are errors, so a typo never silently widens or narrows what a team may do.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from ecsp_contract.tenants import tenant_name_problem

ProjectId = Annotated[str, StringConstraints(min_length=1, max_length=64, strip_whitespace=True)]


def _tenant_name(name: str) -> str:
    problem = tenant_name_problem(name)
    if problem is not None:
        raise ValueError(problem)
    return name


TenantName = Annotated[str, AfterValidator(_tenant_name)]


class _TenantsModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TenantSpec(_TenantsModel):
    """One tenant: what its requests may name and where its secrets are."""

    project_id: ProjectId = Field(
        description="Its default project: requests without `ecs-project-id` are created here."
    )
    projects: list[ProjectId] = Field(
        default_factory=list,
        description="Further projects its requests may name in `ecs-project-id`.",
    )
    token_namespace: uuid.UUID | None = Field(
        default=None,
        description="UUID namespace of its X-Client-Tokens; default "
        "`uuid5(ECSP_TOKEN_NAMESPACE, 'tenant:NAME')`. Never change it while requests may be "
        "redelivered (a changed token creates a second server).",
    )
    secret_dir: Path | None = Field(
        default=None,
        description="Directory its `$NAME` adminPass references resolve in (`<dir>/NAME`, a "
        "Kubernetes Secret of this team's alone); none: its requests can use no secret.",
    )

    def all_projects(self) -> list[str]:
        """Its default project, then the further ones."""
        return [self.project_id, *self.projects]


class TenantsDocument(_TenantsModel):
    """The whole tenants file."""

    model_config = ConfigDict(title="ecs-provisioner tenants")

    tenants: dict[TenantName, TenantSpec] = Field(
        default_factory=dict, description="Tenant name → what it owns."
    )
