"""The ECS API client: create servers and read jobs, with auth, rate limit, retries and metrics.

Owns: ``EcsClientSettings``, ``EcsClient``, the ``ApiObserver`` and ``HttpTracer`` protocols and
the TLS-configured session/connector helpers. One ``aiohttp.ClientSession`` per process; one
limiter and one circuit breaker per process shared by every call. Every answer is reported to
both: outage signals to the breaker, throttling to the limiter. While the breaker is open a call
fails at once with ``ECSP.ApiUnavailable`` (no attempt spent); the caller may ``wait_available``.
Bodies, credentials and tokens are never logged.
"""

from __future__ import annotations

import asyncio
import json
import random
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote

import aiohttp
import structlog
from multidict import CIMultiDictProxy
from yarl import URL

from worker.ecs.auth import Auth
from worker.ecs.breaker import CircuitBreaker
from worker.ecs.errors import (
    EcsApiError,
    bad_response,
    certificate_error,
    is_outage,
    network_error,
    outcome,
    parse_error,
    timeout_error,
    unavailable_error,
)
from worker.ecs.models import (
    CreateResult,
    JobStatus,
    ServerPage,
    parse_create,
    parse_job,
    parse_server_page,
)
from worker.ecs.ratelimit import CallLimiter
from worker.ecs.retry import RetryPolicy, call_with_retry
from worker.ecs.servers import MAX_PAGE_SIZE, ServerQuery

JSON_CONTENT_TYPE = "application/json;charset=utf-8"
log = structlog.get_logger(__name__)


class ApiObserver(Protocol):
    """Where the client reports calls and retries (the metrics module implements it).

    ``endpoint`` is create, job, iam or metadata; ``outcome`` is ok, throttled, server_error,
    client_error or network_error; ``reason`` of a retry is the outcome that caused it
    (or ``token_refresh`` / ``credential_reload`` after a 401).
    """

    def api_call(self, endpoint: str, outcome: str, seconds: float) -> None: ...

    def api_retry(self, endpoint: str, reason: str) -> None: ...


@dataclass(frozen=True, slots=True)
class HttpAttempt:
    """One HTTP request to the API as it went, for an ``HttpTracer``.

    ``route`` is the path template (``/v1/{project_id}/jobs/{job_id}``); ``status`` is None
    when no answer came (``outcome`` network_error); ``error_code`` is the API's error code.
    """

    endpoint: str
    method: str
    route: str
    url: URL
    started_ns: int
    seconds: float
    status: int | None
    outcome: str
    error_code: str | None
    request_id: str | None
    job_id: str | None


class HttpTracer(Protocol):
    """Told of every HTTP attempt once it ended (``worker.ecs.tracing`` makes spans of them)."""

    def http_attempt(self, attempt: HttpAttempt) -> None: ...


class _NoObserver:
    def api_call(self, endpoint: str, outcome: str, seconds: float) -> None:
        return None

    def api_retry(self, endpoint: str, reason: str) -> None:
        return None


@dataclass(frozen=True)
class EcsClientSettings:
    """Where and how to call the API. ``endpoint`` is a base URL (a path prefix is allowed)."""

    endpoint: str
    verify_tls: bool = True
    ca_file: str | None = None
    request_timeout: float = 30.0
    connect_timeout: float = 10.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    user_agent: str = "ecs-provisioner"
    connection_limit: int = 100


def make_ssl_context(settings: EcsClientSettings) -> ssl.SSLContext | bool:
    """A verifying context (system CAs, or ``ca_file`` if given); ``False`` if verify is off."""
    if not settings.verify_tls:
        return False
    return ssl.create_default_context(cafile=settings.ca_file)


def make_connector(settings: EcsClientSettings) -> aiohttp.TCPConnector:
    """A connector with the settings' TLS configuration. Call it from a running loop."""
    return aiohttp.TCPConnector(ssl=make_ssl_context(settings), limit=settings.connection_limit)


def make_session(settings: EcsClientSettings) -> aiohttp.ClientSession:
    """The process's session for ECS and IAM calls. Call it from a running loop; close it."""
    return aiohttp.ClientSession(connector=make_connector(settings), raise_for_status=False)


@dataclass(frozen=True)
class _Request:
    """What every attempt of one call re-sends (re-signed each time)."""

    endpoint: str  # metrics label: create, job, list, delete
    method: str
    route: str
    url: URL
    headers: Mapping[str, str]
    body: bytes
    project_id: str
    job_id: str | None = None


@dataclass(frozen=True)
class _Exchange:
    """One HTTP request's answer, the headers it was sent with, and its error if not 2xx."""

    status: int
    headers: CIMultiDictProxy[str]
    body: bytes
    sent: dict[str, str]
    error: EcsApiError | None

    @property
    def request_id(self) -> str | None:
        return self.headers.get("X-Request-Id")

    def json_object(self, *, strict: bool) -> Mapping[str, Any]:
        """The body as a JSON object; if not ``strict``, anything else counts as ``{}``."""
        try:
            document = json.loads(self.body) if self.body.strip() else {}
        except (ValueError, UnicodeDecodeError):
            document = None
        if isinstance(document, Mapping):
            return document
        if strict:
            raise bad_response(self.status, self.request_id, "response body is not a JSON object")
        return {}


@dataclass(frozen=True)
class _Answer:
    status: int
    request_id: str | None
    document: Mapping[str, Any]


def encode_body(body: Mapping[str, Any]) -> bytes:
    """The exact bytes sent for a JSON body (compact, UTF-8): golden files pin them."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


class EcsClient:
    """Create, list and delete servers; read jobs. Raises ``EcsApiError`` after retries."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        settings: EcsClientSettings,
        auth: Auth,
        limiter: CallLimiter,
        observer: ApiObserver | None = None,
        *,
        breaker: CircuitBreaker | None = None,
        tracer: HttpTracer | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self._session = session
        self._settings = settings
        self._auth = auth
        self._limiter = limiter
        self._breaker = breaker
        self._observer: ApiObserver = observer or _NoObserver()
        self._tracer = tracer
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
        request = _Request("create", "POST", route, url, headers, data, project_id)
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
        request = _Request("job", "GET", route, url, headers, b"", project_id, job_id)
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
        answer, _ = await self._call(_Request("list", "GET", route, url, headers, b"", project_id))
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
        request = _Request("delete", "POST", route, url, headers, encode_body(body), project_id)
        answer, _ = await self._call(request)
        job_id = answer.document.get("job_id")
        if not isinstance(job_id, str) or not job_id:
            raise bad_response(answer.status, answer.request_id, "delete answered no job_id")
        return job_id

    async def wait_available(self, within: float) -> bool:
        """Wait until calls may go out again (breaker closed or a probe due), at most ``within``
        seconds; False if the API is still considered down then."""
        return self._breaker is None or await self._breaker.wait_available(within)

    async def _call(self, request: _Request) -> tuple[_Answer, int]:
        endpoint = request.endpoint

        async def attempt(remaining: float) -> _Answer:
            deadline = time.monotonic() + remaining
            exchange = await self._exchange(request, deadline)
            if exchange.status == 401:
                reason = await self._auth.renew(exchange.sent)
                if reason is not None:  # rotated or expired credentials: once with the new ones
                    self._observer.api_retry(endpoint, reason)
                    exchange = await self._exchange(request, deadline)
            if exchange.error is not None:
                raise exchange.error
            # A garbled 2xx is retried: a create re-sent with its token returns the same job.
            document = exchange.json_object(strict=exchange.status != 202)
            return _Answer(exchange.status, exchange.request_id, document)

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

        try:
            return await call_with_retry(
                attempt, self._settings.retry, on_retry=on_retry, sleep=self._sleep, rand=self._rand
            )
        except EcsApiError as err:
            # Attempts used up on outage signals while the API is down: the caller waits for it.
            if is_outage(err) and self._breaker is not None and self._breaker.state != "closed":
                raise unavailable_error(self._breaker.reason, last=err) from None
            raise

    async def _exchange(self, request: _Request, deadline: float) -> _Exchange:
        """One HTTP request, paced by the limiter and admitted by the breaker; tells both how it
        went."""
        if not self._limiter.try_acquire():  # no timer for the call that need not wait
            try:
                async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                    await self._limiter.acquire()
            except TimeoutError:
                raise timeout_error("deadline reached waiting for the rate limiter") from None
        breaker = self._breaker
        if breaker is not None and not breaker.admit():
            raise unavailable_error(breaker.reason)
        judged = False
        try:
            exchange = await self._send(request, deadline)
            judged = True
            self._judge(exchange.error)
            return exchange
        except EcsApiError as err:
            judged = True
            self._judge(err)
            raise
        finally:
            if not judged and breaker is not None:
                breaker.abandoned()

    def _judge(self, error: EcsApiError | None) -> None:
        """Tell the breaker and the limiter how an attempt went."""
        breaker = self._breaker
        if error is not None and is_outage(error):
            if breaker is not None:
                breaker.outage()
        elif error is not None and outcome(error) == "throttled":
            self._limiter.throttled()
            if breaker is not None:
                breaker.throttled()
        elif error is None or error.http_status is not None:
            self._limiter.answered()
            if breaker is not None:
                breaker.succeeded()
        elif breaker is not None:  # a TLS certificate failure says nothing about an outage
            breaker.abandoned()

    async def _send(self, request: _Request, deadline: float) -> _Exchange:
        """Authenticate, send, read; report the outcome to the observer."""
        endpoint = request.endpoint
        sent = await self._auth.apply(
            request.method, request.url, request.headers, request.body, request.project_id
        )
        budget = max(0.001, min(self._settings.request_timeout, deadline - time.monotonic()))
        timeout = aiohttp.ClientTimeout(total=budget, sock_connect=self._settings.connect_timeout)
        started = time.monotonic()
        started_ns = time.time_ns()

        def report(
            status: int | None,
            result: str,
            error: EcsApiError | None = None,
            request_id: str | None = None,
        ) -> None:
            seconds = time.monotonic() - started
            self._observer.api_call(endpoint, result, seconds)
            if self._tracer is not None:
                self._tracer.http_attempt(
                    HttpAttempt(
                        endpoint=endpoint,
                        method=request.method,
                        route=request.route,
                        url=request.url,
                        started_ns=started_ns,
                        seconds=seconds,
                        status=status,
                        outcome=result,
                        error_code=None if error is None else error.code,
                        request_id=request_id,
                        job_id=request.job_id,
                    )
                )

        try:
            async with self._session.request(
                request.method,
                request.url,
                data=request.body or None,
                headers=sent,
                timeout=timeout,
                allow_redirects=False,
            ) as raw:
                status, raw_headers, raw_body = raw.status, raw.headers, await raw.read()
        except TimeoutError:
            report(None, "network_error")
            raise timeout_error(f"{endpoint} call") from None
        except aiohttp.ClientConnectorCertificateError as exc:
            report(None, "network_error")
            raise certificate_error(exc) from None
        except aiohttp.ClientError as exc:
            report(None, "network_error")
            raise network_error(exc) from None
        error = None if 200 <= status < 300 else parse_error(status, raw_headers, raw_body)
        result = "ok" if error is None else outcome(error)
        report(status, result, error, raw_headers.get("X-Request-Id"))
        return _Exchange(status, raw_headers, raw_body, sent, error)
