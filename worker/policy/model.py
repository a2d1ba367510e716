"""The policy file's schema: `default:` rules for every project, `tenants:` overrides per tenant,
`projects:` overrides per project.

Every rule is optional; an absent rule allows everything. A tenant's rules replace the default's
rule by rule for every project of the tenant, and a project's replace those in turn (a project
that sets `flavors` replaces the inherited `flavors` as a whole; setting a rule to `null` lifts
it for that project). A project belongs to one tenant (the tenants file refuses a shared one),
so a tenant's projects are never shaped by another tenant's rules. Unknown keys are errors, so
a typo never silently disables a rule.
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from worker.tenancy.model import TenantName

Glob = Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)]
ChargingMode = Literal["prePaid", "postPaid"]


class _PolicyModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Patterns(_PolicyModel):
    """Glob patterns (`fnmatch`, case-sensitive): a value must match an `allow` pattern (when
    `allow` is given) and no `deny` pattern."""

    allow: list[Glob] | None = Field(
        default=None,
        min_length=1,
        description="Allowed patterns; omit to allow everything not denied.",
    )
    deny: list[Glob] = Field(default_factory=list, description="Denied patterns; deny wins.")

    def permits(self, value: str) -> bool:
        if any(fnmatchcase(value, pattern) for pattern in self.deny):
            return False
        return self.allow is None or any(fnmatchcase(value, pattern) for pattern in self.allow)

    def describe(self) -> str:
        parts = []
        if self.allow is not None:
            parts.append("allowed: " + ", ".join(self.allow))
        if self.deny:
            parts.append("denied: " + ", ".join(self.deny))
        return "; ".join(parts)


class Rules(_PolicyModel):
    """The rules for one project (or the default for all)."""

    flavors: Patterns | None = Field(default=None, description="`server.flavorRef` patterns.")
    images: Patterns | None = Field(default=None, description="`server.imageRef` patterns (ids).")
    availability_zones: Patterns | None = Field(
        default=None,
        description="`server.availability_zone` patterns; with `allow`, a request must name one.",
    )
    charging_modes: list[ChargingMode] | None = Field(
        default=None,
        min_length=1,
        description="Allowed `extendparam.chargingMode` values (absent in a request = postPaid).",
    )
    allow_auto_pay: bool | None = Field(
        default=None, description='false: `extendparam.isAutoPay: "true"` is refused.'
    )
    max_count: int | None = Field(default=None, ge=1, description="Largest `server.count`.")
    max_root_volume_gb: int | None = Field(
        default=None, ge=1, description="Largest `root_volume.size` (GB)."
    )
    max_data_volume_gb: int | None = Field(
        default=None, ge=1, description="Largest size of each `data_volumes[].size` (GB)."
    )
    required_server_tags: list[Annotated[str, StringConstraints(min_length=1)]] | None = Field(
        default=None, description="`server_tags` keys every request must carry."
    )
    max_servers_per_hour: int | None = Field(
        default=None,
        ge=1,
        description="Servers created per project per hour and worker pod; more wait (delayed).",
    )

    def overridden_by(self, other: Rules) -> Rules:
        """These rules with every rule `other` sets (explicit `null` included) replaced."""
        replaced = {name: getattr(other, name) for name in other.model_fields_set}
        return self.model_copy(update=replaced)


class PolicyDocument(_PolicyModel):
    """The whole policy file."""

    model_config = ConfigDict(title="ecs-provisioner policy")

    default: Rules = Field(default_factory=Rules, description="Rules for every project.")
    tenants: dict[TenantName, Rules] = Field(
        default_factory=dict,
        description="Tenant name (ECSP_TENANTS_FILE) → rules for its projects that override the "
        "default's.",
    )
    projects: dict[Annotated[str, StringConstraints(min_length=1)], Rules] = Field(
        default_factory=dict,
        description="Project id → rules that override the default's (and its tenant's).",
    )

    def rules_for(self, project_id: str | None, tenant: str | None = None) -> Rules:
        """The rules of a project of `tenant` (None or the default tenant: `default:` only)."""
        rules = self.default
        for override in (
            self.tenants.get(tenant) if tenant else None,
            self.projects.get(project_id) if project_id else None,
        ):
            if override is not None:
                rules = rules.overridden_by(override)
        return rules
