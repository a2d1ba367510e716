"""The worker's own server tags: how every create carries the deployment, the token and the request.

Owns the tag keys, `RequestTag` (what the first create of a key records on its servers: the
digest of the request's body and the partial-failure choice), `create_bodies` (the bodies a
create may send, this release's first, then the bodies earlier releases sent for the same
request, so a request first submitted before an upgrade gets its first answer back) and
`token_tag` (the list filter that finds a request's servers again, e.g. after the API forgot
the token).

Every create carries, after the publisher's own ``server_tags``, ``ecsp-deployment=<name>``,
``ecsp-client-token=<token>`` and ``ecsp-request=<keep|delete>.<digest>``. The API allows
`MAX_SERVER_TAGS` tags per server; the publisher's ``server_tags`` and legacy ``tags``
(``key.value``) are counted together by key, and when the worker's tags do not fit the body
goes out untagged, as before tagging existed (``tagging: no_room``). The keys start with
`RESERVED_TAG_PREFIX`: a request using such a key failed `validate` (`ecsp_contract.reserved`),
so a tag with one of these keys is always the worker's.

Body bytes are part of the idempotency contract (the API answers ``Ecs.0122`` when a token comes
back with other bytes), so each release's body stays in `create_bodies`: the release before the
request tag sent the deployment and token tags only, the release before tags sent the body as
published.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from ecsp_contract.events import Tagging
from ecsp_contract.reserved import RESERVED_TAG_PREFIX

OnPartialFailure = Literal["keep", "delete"]

MAX_SERVER_TAGS = 10
DEPLOYMENT_TAG_KEY = f"{RESERVED_TAG_PREFIX}deployment"
TOKEN_TAG_KEY = f"{RESERVED_TAG_PREFIX}client-token"
REQUEST_TAG_KEY = f"{RESERVED_TAG_PREFIX}request"
DIGEST_CHARS = 32
"""Hex digits of the request digest kept in the tag (128 bits; a tag value holds 43)."""
SECRET_FIELDS = ("adminPass", "user_data")
"""Server fields the digest leaves out (their presence counts, not their value): a tag is
visible to anyone who may list the project's servers."""
_MAX_VALUE = 43
_FORBIDDEN_IN_VALUE = re.compile(r"[\x00-\x1f=*<>\\,|]")  # ecsp_contract.constraints' value rule
_CHOICES: tuple[OnPartialFailure, OnPartialFailure] = ("keep", "delete")


@dataclass(frozen=True)
class RequestTag:
    """What a create records on its servers about the request it came from."""

    digest: str
    on_partial_failure: OnPartialFailure

    @property
    def value(self) -> str:
        return f"{self.on_partial_failure}.{self.digest}"

    @property
    def listed(self) -> str:
        """The tag as the server list shows it (``key=value``)."""
        return f"{REQUEST_TAG_KEY}={self.value}"

    def other_choice(self) -> RequestTag:
        other = _CHOICES[1 - _CHOICES.index(self.on_partial_failure)]
        return RequestTag(self.digest, other)

    @staticmethod
    def of(listed_tags: Iterable[str]) -> RequestTag | None:
        """The request tag among a listed server's ``key=value`` tags (None: it has none)."""
        for tag in listed_tags:
            key, _, value = tag.partition("=")
            choice, _, digest = value.partition(".")
            if key == REQUEST_TAG_KEY and choice in _CHOICES and digest:
                return RequestTag(digest, "delete" if choice == "delete" else "keep")
        return None


@dataclass(frozen=True)
class TaggedBody:
    """A body to send, whether it carries the worker's tags, and the request tag it records
    on its servers (None: it records none, as the bodies of earlier releases)."""

    body: dict[str, Any]
    tagging: Tagging
    request_tag: RequestTag | None = None


def request_digest(wire: dict[str, Any]) -> str:
    """The digest of a request's validated body (``server``, secrets left out): the same for
    the same request in every release, different for any other body."""
    server = dict(wire["server"])
    for field in SECRET_FIELDS:
        if field in server:
            server[field] = "***"
    canonical = json.dumps(server, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:DIGEST_CHARS]


def token_tag(token: str) -> str:
    """The ``tags`` filter of the server list that finds the servers created with ``token``."""
    return f"{TOKEN_TAG_KEY}={token}"


def deployment_tag_value(deployment_name: str) -> str:
    """The deployment name as a valid tag value: forbidden characters become ``-``, 43 at most."""
    return _FORBIDDEN_IN_VALUE.sub("-", deployment_name)[:_MAX_VALUE]


def deployment_tag(deployment_name: str) -> str:
    """The deployment tag as the server list shows it (``key=value``)."""
    return f"{DEPLOYMENT_TAG_KEY}={deployment_tag_value(deployment_name)}"


def _publisher_keys(server: dict[str, Any]) -> set[str]:
    keys = {str(tag.get("key")) for tag in server.get("server_tags") or [] if isinstance(tag, dict)}
    keys |= {str(tag).split(".", 1)[0] for tag in server.get("tags") or []}
    return keys


def tag_body(
    body: dict[str, Any], *, token: str, deployment_name: str, request_tag: RequestTag | None
) -> TaggedBody:
    """``body`` with the deployment, token and (if given) request tags after the publisher's
    own, if they fit; ``body`` itself (``no_room``) if not."""
    server = body["server"]
    ours = [
        {"key": DEPLOYMENT_TAG_KEY, "value": deployment_tag_value(deployment_name)},
        {"key": TOKEN_TAG_KEY, "value": token},
    ]
    if request_tag is not None:
        ours.append({"key": REQUEST_TAG_KEY, "value": request_tag.value})
    if len(_publisher_keys(server)) + len(ours) > MAX_SERVER_TAGS:
        return TaggedBody(body, "no_room")
    tagged_server = {**server, "server_tags": [*(server.get("server_tags") or []), *ours]}
    return TaggedBody({**body, "server": tagged_server}, "tagged", request_tag)


def create_bodies(
    body: dict[str, Any], *, token: str, deployment_name: str, request_tag: RequestTag
) -> tuple[TaggedBody, ...]:
    """Every body a create of this request may send, in order, none twice: this release's
    (recording the request's own choice, then the other one: a redelivery whose header or
    setting changed still meets its first create), the tagged body of the release before the
    request tag, and the untagged body of the release before tags."""
    tagged = functools.partial(tag_body, body, token=token, deployment_name=deployment_name)
    current = tagged(request_tag=request_tag)
    candidates = [current]
    if current.tagging == "tagged":
        candidates.append(tagged(request_tag=request_tag.other_choice()))
    before_request_tag = tagged(request_tag=None)
    if before_request_tag.tagging == "tagged":
        candidates.append(TaggedBody(before_request_tag.body, "first_submitted_before_request_tag"))
    candidates.append(TaggedBody(body, "first_submitted_untagged"))
    distinct: list[TaggedBody] = []
    for candidate in candidates:
        if all(candidate.body != seen.body for seen in distinct):
            distinct.append(candidate)
    return tuple(distinct)
