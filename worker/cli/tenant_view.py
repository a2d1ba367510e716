"""`--tenant NAME`: a team's client commands on its own topics and with its own tokens.

A tenant's topics are the shared ones with `.NAME` appended (`ecsp_contract.tenants`), and its
tokens are derived in its namespace: the one the worker's tenants file gives it when
`ECSP_TENANTS_FILE` is set here too, else `uuid5(ECSP_TOKEN_NAMESPACE, "tenant:NAME")`, the
worker's default. `publish --wait`, `results` and `status` then read the tenant's answers, and
`publish` prints the token the worker will send.
"""

from __future__ import annotations

import argparse
import uuid

from ecsp_contract.channels import Channel
from ecsp_contract.idempotency import tenant_namespace
from ecsp_contract.tenants import DEFAULT_TENANT, tenant_name_problem, tenant_topic
from worker.ops.settings import ConfigError, Settings
from worker.tenancy.load import TenantsFileError, read_tenants
from worker.tenancy.sharing import DefaultTenantScope, token_namespace_of


def add_tenant_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--tenant",
        metavar="NAME",
        help="a tenant's topics (the shared ones + .NAME) and tokens; default: the shared topics",
    )


def as_tenant(settings: Settings, tenant: str | None) -> Settings:
    """The settings as `tenant` sees them: its topics and its token namespace; ConfigError
    when the name cannot be a tenant's or the tenants file has no such tenant."""
    if tenant is None or tenant == DEFAULT_TENANT:
        return settings
    problem = tenant_name_problem(tenant)
    if problem is not None:
        raise ConfigError(f"--tenant {tenant!r}: {problem}")
    topics = {
        f"topic_{channel.value}": tenant_topic(topic, tenant)
        for channel in Channel
        if (topic := settings.topic(channel))
    }
    namespace = _token_namespace(settings, tenant)
    return settings.model_copy(update={**topics, "token_namespace": namespace})


def _token_namespace(settings: Settings, tenant: str) -> uuid.UUID:
    if settings.tenants_file is None:
        return tenant_namespace(settings.token_namespace, tenant)
    default = DefaultTenantScope(
        projects=settings.allowed_projects(),
        token_namespace=settings.token_namespace,
        secret_dir=settings.secret_dir,
    )
    try:
        tenants = read_tenants(settings.tenants_file, default).tenants
    except TenantsFileError as exc:
        raise ConfigError(str(exc)) from None
    if tenant not in tenants:
        known = ", ".join(sorted(tenants)) or "none"
        raise ConfigError(
            f"--tenant {tenant!r}: ECSP_TENANTS_FILE ({settings.tenants_file}) names no such "
            f"tenant (it names: {known})"
        )
    return token_namespace_of(tenant, tenants[tenant], settings.token_namespace)
