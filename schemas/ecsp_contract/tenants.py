"""Tenants: a team's name, and the topics that follow from it.

A tenant is a team bound to its Kafka identity: it alone may write its request topic, and it
alone may read its event topics. The worker derives a record's tenant from the topic the record
came from, never from its key, value or headers. The shared topics (`ecsp_contract.channels`)
are the *default tenant*'s; tenant `team-a` has the same topics with `.team-a` appended, e.g.
`ecs.provisioning.requests.team-a` and `ecs.provisioning.results.team-a` (`tenant_topic`).

A tenant name is a safe topic suffix: lower-case letters and digits in groups joined by single
hyphens, at most `MAX_TENANT_NAME_LENGTH` characters. Kafka accepts `.` and `_` in topic names
too; a name has neither, so a tenant's topics never hide another topic's name (`a.b`) and never
collide in Kafka's metric names, where `.` and `_` are the same. `default` is the default
tenant's name and no team's.
"""

from __future__ import annotations

import re

DEFAULT_TENANT = "default"
"""The name of the tenant of the shared topics (logs, the policy file)."""

MAX_TENANT_NAME_LENGTH = 40
TENANT_NAME_PATTERN = rf"^(?=.{{1,{MAX_TENANT_NAME_LENGTH}}}$)[a-z0-9]+(-[a-z0-9]+)*$"
"""A tenant name: `team-a`, `payments2`; not `Team_A`, `a.b`, `-a`, `a--b`."""

_NAME = re.compile(TENANT_NAME_PATTERN)


def tenant_name_problem(name: str) -> str | None:
    """Why `name` cannot be a tenant's name, or None."""
    if name == DEFAULT_TENANT:
        return f"{DEFAULT_TENANT!r} is the name of the tenant of the shared topics"
    if not _NAME.fullmatch(name):
        return (
            f"must be 1 to {MAX_TENANT_NAME_LENGTH} lower-case letters and digits, in groups "
            "joined by single hyphens (a safe topic suffix)"
        )
    return None


def tenant_topic(topic: str, tenant: str) -> str:
    """The tenant's topic of a channel whose shared topic is `topic`."""
    return f"{topic}.{tenant}"
