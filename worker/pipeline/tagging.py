"""The worker's own server tags: how every create carries the deployment and the client token.

Owns the tag keys, `tag_body` (the body with the tags appended after the publisher's
``server_tags``, deterministically, so a redelivery sends the same bytes) and `token_tag` (the
list filter that finds a request's servers again, e.g. after the API forgot the token).

The API allows `MAX_SERVER_TAGS` tags per server. The publisher's ``server_tags`` and legacy
``tags`` (``key.value``) are counted together by key; when the two worker tags do not fit, the
body goes out untagged, as it did before tagging existed, and the events say ``tagging:
no_room``. The keys start with `RESERVED_TAG_PREFIX`: a request using such a key failed
`validate` (`ecsp_contract.reserved`), so a tag with one of these keys is always the worker's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ecsp_contract.events import Tagging
from ecsp_contract.reserved import RESERVED_TAG_PREFIX

MAX_SERVER_TAGS = 10
DEPLOYMENT_TAG_KEY = f"{RESERVED_TAG_PREFIX}deployment"
TOKEN_TAG_KEY = f"{RESERVED_TAG_PREFIX}client-token"
_MAX_VALUE = 43
_FORBIDDEN_IN_VALUE = re.compile(r"[\x00-\x1f=*<>\\,|]")  # ecsp_contract.constraints' value rule


@dataclass(frozen=True)
class TaggedBody:
    """The body to send and whether it carries the worker's tags."""

    body: dict[str, Any]
    tagging: Tagging


def token_tag(token: str) -> str:
    """The ``tags`` filter of the server list that finds the servers created with ``token``."""
    return f"{TOKEN_TAG_KEY}={token}"


def deployment_tag_value(deployment_name: str) -> str:
    """The deployment name as a valid tag value: forbidden characters become ``-``, 43 at most."""
    return _FORBIDDEN_IN_VALUE.sub("-", deployment_name)[:_MAX_VALUE]


def _publisher_keys(server: dict[str, Any]) -> set[str]:
    keys = {str(tag.get("key")) for tag in server.get("server_tags") or [] if isinstance(tag, dict)}
    keys |= {str(tag).split(".", 1)[0] for tag in server.get("tags") or []}
    return keys


def tag_body(body: dict[str, Any], *, token: str, deployment_name: str) -> TaggedBody:
    """``body`` with the deployment and token tags after the publisher's own, if they fit."""
    server = body["server"]
    keys = _publisher_keys(server)
    ours = [
        {"key": DEPLOYMENT_TAG_KEY, "value": deployment_tag_value(deployment_name)},
        {"key": TOKEN_TAG_KEY, "value": token},
    ]
    if len(keys) + len(ours) > MAX_SERVER_TAGS:
        return TaggedBody(body, "no_room")
    tagged_server = {**server, "server_tags": [*(server.get("server_tags") or []), *ours]}
    return TaggedBody({**body, "server": tagged_server}, "tagged")
