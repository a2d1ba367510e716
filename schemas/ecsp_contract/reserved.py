"""The worker's own server tags: their key prefix is reserved, and a request may not use it.

Owns `RESERVED_TAG_PREFIX` and `reserved_tag_problems`. The worker tags every server it creates
(`ecsp-deployment`, `ecsp-client-token`, `ecsp-request`) and trusts those tags later: it finds
a request's servers by them after the API forgot the token, and reads from them whether a
failed job's servers may be deleted. A publisher writing such a tag could make the worker
answer another request with its servers, or delete servers that were meant to be kept, so a
tag key starting with `ecsp-` (any case, around any white space) fails `validate` with
`ECSP.ReservedTag`: in `server_tags` (`{"key": ...}`) and in the legacy `tags` (`"key.value"`).

This is a worker rule, not an API rule: the API itself accepts such tags, and so does the
simulator (`ecsp_contract.verdict.check_body(..., worker_rules=False)`).
"""

from __future__ import annotations

from typing import Any

from ecsp_contract.problems import Problem

RESERVED_TAG_PREFIX = "ecsp-"
RESERVED_TAG_KEY_PATTERN = r"^\s*[Ee][Cc][Ss][Pp]-"
"""The same rule as a JSON Schema pattern (a tag key this matches is refused)."""
RESERVED_MESSAGE = f"tag keys starting with {RESERVED_TAG_PREFIX} (any case) are the worker's own"


def is_reserved_tag_key(key: str) -> bool:
    """Whether `key` (a server tag key, or a legacy tag's key) is one of the worker's."""
    return key.strip().lower().startswith(RESERVED_TAG_PREFIX)


def reserved_tag_problems(document: Any) -> list[Problem]:
    """Every reserved tag key in a parsed create body (of any shape: what is not a tag list or
    a tag is the schema's business)."""
    server = document.get("server") if isinstance(document, dict) else None
    if not isinstance(server, dict):
        return []
    problems: list[Problem] = []
    server_tags = server.get("server_tags")
    for index, tag in enumerate(server_tags if isinstance(server_tags, list) else []):
        key = tag.get("key") if isinstance(tag, dict) else None
        if isinstance(key, str) and is_reserved_tag_key(key):
            problems.append(Problem(f"server.server_tags[{index}].key", RESERVED_MESSAGE))
    tags = server.get("tags")
    for index, tag in enumerate(tags if isinstance(tags, list) else []):
        if isinstance(tag, str) and is_reserved_tag_key(tag.partition(".")[0]):
            problems.append(Problem(f"server.tags[{index}]", RESERVED_MESSAGE))
    return problems
