"""X-Client-Token semantics of the create APIs.

Owns the memory of accepted creates by client token: a token seen with the same request
parameters (same API version, project and parsed JSON body) gets the first response back byte
for byte with no side effect; with different parameters it is `Ecs.0122`; after the TTL it is
`Ecs.0124`. A malformed token is `Ecs.0123` (`is_valid_token`). Only accepted (200) creates are
remembered: a rejected request has no side effect, so repeating it is judged afresh.

Comparison is on parsed JSON, so whitespace or key order do not count as a change; an exact
byte match is checked first so a replay costs one hash, not a parse and re-serialisation.

Scope: one token memory for the whole simulated account, across projects. A token first used in
one project and sent again in another is "a token already used, with changed request parameters"
(the project is part of the request), so `Ecs.0122`. No source scopes the token more narrowly:

- Huawei's "请求幂等性说明" (support.huaweicloud.com/api-ecs/zh-cn_topic_0000001105258814.html,
  updated 2024-12-03): the client must keep the token unique between different requests
  ("需确保不同请求之间该标识具有唯一性"); a token already used with changed parameters is
  `Ecs.0122`; tokens live 8 hours. It names no project, account or domain scope; the English page
  (support.huaweicloud.com/intl/en-us/api-ecs/en-us_topic_0000001105258814.html) says only "The
  value must be unique".
- The official SDKs carry it as a plain header with that description and nothing more
  (huaweicloud-sdk-go-v3 services/ecs/v2/model/model_create_post_paid_servers_request.go:
  "保证客户端请求幂等性的标识"); the Terraform provider sends no token at all
  (vendor/github.com/chnsz/golangsdk/openstack/ecs/v1/cloudservers/requests.go).

So the worker must not assume a per-project scope: the simulator plays the widest one the pages
allow, and two requests that must not share a create must not share a token (the worker gives
each tenant a token namespace of its own).
"""

from __future__ import annotations

import enum
import hashlib
import json
import re
from dataclasses import dataclass

DIGEST_BYTES = 16  # 128 bits: collisions are out of reach; halves the memory per token
_TOKEN_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def is_valid_token(token: str) -> bool:
    """The documented format: lowercase hex ``8-4-4-4-12`` (uppercase is treated as malformed)."""
    return _TOKEN_RE.fullmatch(token) is not None


def _scope(version: str, project_id: str) -> bytes:
    return f"{version}\n{project_id}\n".encode()


def raw_digest(version: str, project_id: str, body: bytes) -> bytes:
    """Digest of the exact request bytes within their API version and project."""
    return hashlib.sha256(_scope(version, project_id) + body).digest()[:DIGEST_BYTES]


def parsed_digest(version: str, project_id: str, parsed: object) -> bytes:
    """Digest of the parsed body in a canonical serialisation, within version and project."""
    canonical = json.dumps(parsed, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(_scope(version, project_id) + canonical.encode()).digest()[:DIGEST_BYTES]


@dataclass(frozen=True)
class TokenedCreate:
    """A create request carrying a client token: what the comparison needs of it."""

    token: str
    version: str
    project_id: str
    raw: bytes
    parsed: object


@dataclass(frozen=True, slots=True)
class Remembered:
    """The first accepted create for a token."""

    created_at: float
    raw: bytes
    parsed: bytes
    response: bytes


class Verdict(enum.Enum):
    """What a token lookup says about a create request."""

    NEW = "new"
    REPLAY = "replay"
    CONFLICT = "conflict"  # Ecs.0122
    EXPIRED = "expired"  # Ecs.0124


class IdempotencyStore:
    """Accepted creates by client token. Tokens are kept for good: an old one stays `EXPIRED`."""

    def __init__(self, ttl_seconds: float) -> None:
        self._ttl = ttl_seconds
        self._by_token: dict[str, Remembered] = {}

    def __len__(self) -> int:
        return len(self._by_token)

    def lookup(self, create: TokenedCreate, now: float) -> tuple[Verdict, Remembered | None]:
        """Judge a create; with `REPLAY` comes the remembered first answer."""
        seen = self._by_token.get(create.token)
        if seen is None:
            return Verdict.NEW, None
        if now - seen.created_at > self._ttl:
            return Verdict.EXPIRED, seen
        if seen.raw == raw_digest(create.version, create.project_id, create.raw):
            return Verdict.REPLAY, seen
        if seen.parsed == parsed_digest(create.version, create.project_id, create.parsed):
            return Verdict.REPLAY, seen
        return Verdict.CONFLICT, seen

    def remember(self, create: TokenedCreate, now: float, response: bytes) -> None:
        """Record the first accepted create for its token and the exact response body."""
        self._by_token[create.token] = Remembered(
            created_at=now,
            raw=raw_digest(create.version, create.project_id, create.raw),
            parsed=parsed_digest(create.version, create.project_id, create.parsed),
            response=response,
        )
