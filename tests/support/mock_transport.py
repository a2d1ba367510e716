"""The ECS client's transport-level double, as httpx's `MockTransport`: each attempt is answered
by a function of the request, so the client's layers run without HTTP.

`MockTransport(handler)` records every request it was sent; `reply(status, body, headers)`
builds an answer the way `HttpTransport` does (the parsed error of a non-2xx included).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from multidict import CIMultiDict, CIMultiDictProxy

from worker.ecs.errors import parse_error
from worker.ecs.transport import ApiRequest, ApiResponse

Handler = Callable[[ApiRequest], Awaitable[ApiResponse] | ApiResponse]


def reply(
    request: ApiRequest, status: int, body: Any = None, headers: Mapping[str, str] | None = None
) -> ApiResponse:
    """The answer `status` with the JSON `body` (bytes as they are) to `request`."""
    raw = body if isinstance(body, bytes) else json.dumps(body or {}).encode()
    proxy = CIMultiDictProxy(CIMultiDict(headers or {}))
    error = None if 200 <= status < 300 else parse_error(status, proxy, raw)
    return ApiResponse(status, proxy, raw, request, error)


@dataclass
class MockTransport:
    """Answers each attempt with `handler(request)` (a response, or raises an `EcsApiError`)."""

    handler: Handler
    sent: list[ApiRequest] = field(default_factory=list)

    async def send(self, request: ApiRequest) -> ApiResponse:
        self.sent.append(request)
        answer = self.handler(request)
        if isinstance(answer, ApiResponse):
            return answer
        return await answer
