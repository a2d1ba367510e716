"""The ECS client: create, list and delete servers, read jobs; retries over a layered transport.

Owns ``EcsClientSettings``, ``EcsClient`` and the ``Availability`` protocol. The client builds
each call's request (URL, headers, body bytes), runs its attempts through ``call_with_retry``
and parses the answer; everything done to an attempt on its way (signing, rate limit, circuit
breaker, metrics, tracing, HTTP) is a ``Transport`` it was given (``worker.ecs.layers``), so it
checks no optional part. While the breaker is open a call fails at once with an ``unavailable``
error (no attempt spent); the caller may ``wait_available``. Bodies, credentials and tokens are
never logged.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol
from urllib.parse import quote

import structlog
from yarl import URL

from worker.ecs.errors import EcsApiError, bad_response, outcome
from worker.ecs.models import (
    CreateResult,
    JobStatus,
    ServerPage,
    parse_create,
    parse_job,
    parse_server_page,
)
from worker.ecs.observer import ApiObserver, SilentObserver
from worker.ecs.retry import RetryConfig, call_with_retry
from worker.ecs.servers import MAX_PAGE_SIZE, ServerQuery
from worker.ecs.transport import ApiRequest, ApiResponse, Transport

JSON_CONTENT_TYPE = "application/json;charset=utf-8"
log = structlog.get_logger(__name__)


class Availability(Protocol):
    """Whether calls may go out (the circuit breaker is one)."""

    async def wait_available(self, within: float) -> bool: ...


class AlwaysAvailable:
    """No breaker: calls may always go out."""

    async def wait_available(self, within: float) -> bool:
        return True


@dataclass(frozen=True)
class EcsClientSettings:
    """Where to call the API (a base URL; a path prefix is allowed), retries, User-Agent."""

    endpoint: str
    retry: RetryConfig = field(default_factory=RetryConfig)
    user_agent: str = "ecs-provisioner"


@dataclass(frozen=True)
class _Answer:
    status: int
    request_id: str | None
    document: Mapping[str, Any]


def encode_body(body: Mapping[str, Any]) -> bytes:
    """The exact bytes sent for a JSON body (compact, UTF-8): golden files pin them."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def json_object(response: ApiResponse, *, strict: bool) -> Mapping[str, Any]:
    """The body as a JSON object; if not ``strict``, anything else counts as ``{}``."""
    body = response.body
    try:
        document = json.loads(body) if body.strip() else {}
    except (ValueError, UnicodeDecodeError):
        document = None
    if isinstance(document, Mapping):
        return document
    if strict:
        raise bad_response(
            response.status, response.request_id, "response body is not a JSON object"
        )
    return {}


class EcsClient:
    """Create, list and delete servers; read jobs. Raises ``EcsApiError`` after retries."""

    def __init__(
        self,
        transport: Transport,
        settings: EcsClientSettings,
        *,
        observer: ApiObserver = SilentObserver(),  # noqa: B008 - stateless
        availability: Availability = AlwaysAvailable(),  # noqa: B008 - stateless
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self._transport = transport
        self._settings = settings
        self._observer = observer
        self._availability = availability
        self._sleep = sleep
        self._rand = rand
        self._base = settings.endpoint.rstrip("/")

    def _headers(
        self, project_id: str, *, json_body: bool = False, client_token: str | None = None
    ) -> dict[str, str]:
        """A call's headers, in the order sent: User-Agent, a JSON body's Content-Type, the
        X-Client-Token, X-Project-Id (auth adds its own)."""
        headers = {"User-Agent": self._settings.user_agent}
        if json_body:
            headers["Content-Type"] = JSON_CONTENT_TYPE
        if client_token is not None:
            headers["X-Client-Token"] = client_token
        headers["X-Project-Id"] = project_id
        return headers

    def _url(self, *segments: str) -> URL:
        return URL(self._base + "".join("/" + quote(s, safe="") for s in segments), encoded=True)

    async def create_servers(
        self, body: Mapping[str, Any], client_token: str, project_id: str
    ) -> CreateResult:
        """POST /v1.1/{project_id}/cloudservers; every retry re-sends the same bytes and token.

        200 gives the job (and order, server ids); 202 means a dry run whose check passed.
        """
        data = encode_body(body)
        headers = self._headers(project_id, json_body=True, client_token=client_token)
        url = self._url("v1.1", project_id, "cloudservers")
        route = "/v1.1/{project_id}/cloudservers"
        request = ApiRequest("create", "POST", route, url, headers, data, project_id)
        answer, attempts = await self._call(request)
        return parse_create(
            answer.document,
            dry_run=answer.status == 202,
            request_id=answer.request_id,
            attempts=attempts,
        )

    async def get_job(self, job_id: str, project_id: str) -> JobStatus:
        """GET /v1/{project_id}/jobs/{job_id}. A purged job raises an error with HTTP 404."""
        url = self._url("v1", project_id, "jobs", job_id)
        headers = self._headers(project_id)
        route = "/v1/{project_id}/jobs/{job_id}"
        request = ApiRequest("job", "GET", route, url, headers, b"", project_id, job_id)
        answer, _ = await self._call(request)
        return parse_job(answer.document, job_id=job_id, request_id=answer.request_id)

    async def list_servers(
        self, project_id: str, query: ServerQuery, *, limit: int, marker: str | None = None
    ) -> ServerPage:
        """GET /v1/{project_id}/cloudservers/detail: one page of servers matching ``query``.

        ``limit`` is 1..1000; ``marker`` is the id of the last server of the previous page.
        """
        if not 1 <= limit <= MAX_PAGE_SIZE:
            raise ValueError(f"limit must be between 1 and {MAX_PAGE_SIZE}")
        params = [*query.params(), ("limit", str(limit))]
        if marker is not None:
            params.append(("marker", marker))
        url = self._url("v1", project_id, "cloudservers", "detail").with_query(params)
        headers = self._headers(project_id)
        route = "/v1/{project_id}/cloudservers/detail"
        answer, _ = await self._call(
            ApiRequest("list", "GET", route, url, headers, b"", project_id)
        )
        return parse_server_page(answer.document)

    async def delete_servers(
        self,
        project_id: str,
        server_ids: Sequence[str],
        *,
        delete_publicip: bool,
        delete_volume: bool,
    ) -> str:
        """POST /v1/{project_id}/cloudservers/delete; the job id, to follow with ``get_job``."""
        body = {
            "servers": [{"id": server_id} for server_id in server_ids],
            "delete_publicip": delete_publicip,
            "delete_volume": delete_volume,
        }
        headers = self._headers(project_id, json_body=True)
        url = self._url("v1", project_id, "cloudservers", "delete")
        route = "/v1/{project_id}/cloudservers/delete"
        request = ApiRequest("delete", "POST", route, url, headers, encode_body(body), project_id)
        answer, _ = await self._call(request)
        job_id = answer.document.get("job_id")
        if not isinstance(job_id, str) or not job_id:
            raise bad_response(answer.status, answer.request_id, "delete answered no job_id")
        return job_id

    async def wait_available(self, within: float) -> bool:
        """Wait until calls may go out again (breaker closed or a probe due), at most ``within``
        seconds; False if the API is still considered down then."""
        return await self._availability.wait_available(within)

    async def _call(self, request: ApiRequest) -> tuple[_Answer, int]:
        endpoint = request.endpoint

        async def attempt(remaining: float) -> _Answer:
            deadline = time.monotonic() + remaining
            response = await self._transport.send(replace(request, deadline=deadline))
            if response.error is not None:
                raise response.error
            # A garbled 2xx is retried: a create re-sent with its token returns the same job.
            document = json_object(response, strict=response.status != 202)
            return _Answer(response.status, response.request_id, document)

        def on_retry(err: EcsApiError, attempt_no: int, delay: float) -> None:
            self._observer.api_retry(endpoint, outcome(err))
            log.warning(
                "ecs_api_retry",
                endpoint=endpoint,
                code=err.code,
                http_status=err.http_status,
                request_id=err.request_id,
                attempt=attempt_no,
                delay=round(delay, 3),
            )

        return await call_with_retry(
            attempt, self._settings.retry, on_retry=on_retry, sleep=self._sleep, rand=self._rand
        )
