"""Derivation of the `X-Client-Token` idempotency header from a request key.

Owns `client_token` and `DEFAULT_TOKEN_NAMESPACE`. The token is `uuid5(namespace, request_key)`
in lowercase 8-4-4-4-12 form (the format the API requires), so the same key always yields the
same token and a redelivered or re-published request never creates a second server while the
API remembers the token (8 hours). Deployments may set their own namespace
(`ECSP_TOKEN_NAMESPACE`) so that two deployments sharing keys do not share tokens.
"""

from __future__ import annotations

import uuid

DEFAULT_TOKEN_NAMESPACE: uuid.UUID = uuid.uuid5(
    uuid.NAMESPACE_URL, "urn:ecs-provisioner:client-token"
)
"""Default namespace: `uuid5(NAMESPACE_URL, "urn:ecs-provisioner:client-token")`
= `2c583f0f-d3c3-56a4-b688-680fd0fbb1b3`."""


def client_token(request_key: str, namespace: uuid.UUID = DEFAULT_TOKEN_NAMESPACE) -> str:
    """`str(uuid.uuid5(namespace, request_key))`: the X-Client-Token for this request key."""
    return str(uuid.uuid5(namespace, request_key))
