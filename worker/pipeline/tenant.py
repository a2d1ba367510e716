"""The tenant a record belongs to: derived from the topic it came from, never from its content.

Owns `Tenant` (a team's name, token namespace and projects) and `TenantTable` (request topic →
tenant). Each tenant has a request topic of its own, which only its Kafka user may write, so the
topic is the publisher's only authenticated identity; the table maps every tenant's topic to it
and every other topic to the default tenant (the shared topic: the consumer subscribes to that
one and the tenants' topics, nothing else). The steps read the tenant from the request's context:
the answer step derives the token in its namespace, validate allows only its projects, the
secrets step resolves `$NAME` in its scope alone, the guardrails apply its rules.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Tenant:
    """A team: its name, its tokens' namespace, its default project and every project it owns."""

    name: str
    token_namespace: uuid.UUID
    default_project: str
    projects: frozenset[str]  # the default project included


@dataclass(frozen=True)
class TenantTable:
    """Request topic → tenant; every topic that is no tenant's is the default tenant's."""

    default: Tenant
    by_topic: Mapping[str, Tenant] = field(default_factory=dict)

    def of(self, topic: str) -> Tenant:
        return self.by_topic.get(topic, self.default)
