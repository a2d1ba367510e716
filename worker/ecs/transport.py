"""One HTTP attempt to the API, the `Transport` protocol the client's layers share, and the
process's aiohttp session.

Owns `ApiRequest` (what one attempt sends), `ApiResponse` (what came back, with the parsed
error when it is not 2xx), the `Transport` protocol, `HttpTransport` (aiohttp: timeouts, no
redirects, transport failures as `EcsApiError`) and the TLS-configured session helpers. The
client's concerns (signing, rate limit, circuit breaker, metrics, tracing) are transports that
wrap another one (`worker.ecs.layers`), as httpx's transports do: each knows only the one below.
"""

from __future__ import annotations

import math
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import aiohttp
from yarl import URL

from worker.ecs.errors import (
    EcsApiError,
    certificate_error,
    network_error,
    parse_error,
    timeout_error,
)


@dataclass(frozen=True, slots=True)
class ApiRequest:
    """What one attempt sends. ``endpoint`` is the metrics label (create, job, list, delete);
    ``deadline`` (monotonic) is when the attempt must have ended; ``renewal`` says why this is
    a repeat after a 401 (``credential_reload``/``token_refresh``), set by the signing layer."""

    endpoint: str
    method: str
    route: str
    url: URL
    headers: Mapping[str, str]
    body: bytes
    project_id: str
    job_id: str | None = None
    deadline: float = math.inf
    renewal: str | None = None


@dataclass(frozen=True, slots=True)
class ApiResponse:
    """An HTTP answer: ``request`` as it was sent (signed), ``error`` when the status is not 2xx."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    request: ApiRequest
    error: EcsApiError | None

    @property
    def request_id(self) -> str | None:
        return self.headers.get("X-Request-Id")


class Transport(Protocol):
    """Sends one attempt; raises `EcsApiError` when no answer came (or a layer held it)."""

    async def send(self, request: ApiRequest) -> ApiResponse: ...


@dataclass(frozen=True)
class HttpSettings:
    """How the process talks HTTP to the API: TLS, timeouts, connection pool size."""

    verify_tls: bool = True
    ca_file: str | None = None
    request_timeout: float = 30.0
    connect_timeout: float = 10.0
    connection_limit: int = 100


def make_ssl_context(settings: HttpSettings) -> ssl.SSLContext | bool:
    """A verifying context (system CAs, or ``ca_file`` if given); ``False`` if verify is off."""
    if not settings.verify_tls:
        return False
    return ssl.create_default_context(cafile=settings.ca_file)


def make_session(settings: HttpSettings) -> aiohttp.ClientSession:
    """The process's session for ECS and IAM calls. Call it from a running loop; close it."""
    connector = aiohttp.TCPConnector(
        ssl=make_ssl_context(settings), limit=settings.connection_limit
    )
    return aiohttp.ClientSession(connector=connector, raise_for_status=False)


@dataclass(frozen=True)
class HttpTransport:
    """The innermost transport: one aiohttp request within the attempt's deadline."""

    session: aiohttp.ClientSession
    settings: HttpSettings

    async def send(self, request: ApiRequest) -> ApiResponse:
        budget = min(self.settings.request_timeout, request.deadline - time.monotonic())
        timeout = aiohttp.ClientTimeout(
            total=max(0.001, budget), sock_connect=self.settings.connect_timeout
        )
        try:
            async with self.session.request(
                request.method,
                request.url,
                data=request.body or None,
                headers=request.headers,
                timeout=timeout,
                allow_redirects=False,
            ) as raw:
                status, headers, body = raw.status, raw.headers, await raw.read()
        except TimeoutError:
            raise timeout_error(f"{request.endpoint} call") from None
        except aiohttp.ClientConnectorCertificateError as exc:
            raise certificate_error(exc) from None
        except aiohttp.ClientError as exc:
            raise network_error(exc) from None
        error = None if 200 <= status < 300 else parse_error(status, headers, body)
        return ApiResponse(status, headers, body, request, error)
