"""Request authentication: AK/SK signing (optionally with a security token) or an IAM token.

Owns: ``AkSkAuth``, ``TokenAuth`` and the ``Auth`` protocol. As httpx's ``Auth.auth_flow``, an
auth is a flow over one attempt: it yields the request signed, is sent the response, and after a
401 it renews what it signed with and yields the request once more (only when the renewal
changed something: a retry with the same credentials cannot help). The signing layer
(`worker.ecs.layers.Signing`) drives it. AK/SK come from a credential source
(`worker.ecs.credentials`: fixed, files re-read on change, or instance metadata); credentials
never appear in ``repr``, logs or error text.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncGenerator, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Protocol

import aiohttp
from yarl import URL

from worker.ecs.credentials import CredentialSource
from worker.ecs.errors import (
    bad_response,
    network_error,
    outcome,
    parse_error,
    timeout_error,
)
from worker.ecs.observer import CallObserver, SilentObserver
from worker.ecs.signing import parse_authorization, sign_request
from worker.ecs.transport import ApiRequest, ApiResponse

IAM_TOKENS_PATH = "/v3/auth/tokens"
TOKEN_HEADER = "X-Auth-Token"  # noqa: S105 - a header name
SECURITY_TOKEN_HEADER = "X-Security-Token"  # noqa: S105 - a header name
_DEFAULT_TOKEN_LIFETIME = 24 * 3600.0


AuthFlow = AsyncGenerator[ApiRequest, ApiResponse]


class Auth(Protocol):
    """Authenticates the attempts of one call (the flow runs again for every retry)."""

    def auth_flow(self, request: ApiRequest) -> AuthFlow:
        """Yields ``request`` signed; sent its response, may yield it again after a 401."""
        ...


@dataclass(frozen=True)
class AkSkAuth:
    """Permanent (AK/SK) or temporary (AK/SK + security token) credentials; signs requests."""

    credentials: CredentialSource

    async def auth_flow(self, request: ApiRequest) -> AuthFlow:
        response = yield await self.signed(request)
        if response.status != 401:
            return
        sent = response.request.headers
        parsed = parse_authorization(sent.get("Authorization", ""))
        if parsed is None:
            return
        if await self.credentials.renew(parsed.access_key, sent.get(SECURITY_TOKEN_HEADER)):
            yield replace(await self.signed(request), renewal="credential_reload")

    async def signed(self, request: ApiRequest) -> ApiRequest:
        """``request`` with Host, X-Sdk-Date, Authorization (and X-Security-Token) added."""
        credential = await self.credentials.current()
        to_sign = dict(request.headers)
        if credential.security_token:
            to_sign[SECURITY_TOKEN_HEADER] = credential.security_token
        url = request.url
        headers = sign_request(
            credential.access_key,
            credential.secret_key,
            request.method,
            url.host_port_subcomponent or "",
            url.raw_path,
            list(url.query.items()) if url.raw_query_string else [],
            to_sign,
            request.body,
        )
        return replace(request, headers=headers)


@dataclass
class _CachedToken:
    value: str
    expires_at: float  # wall-clock seconds


def iam_tokens_url(iam_endpoint: str) -> URL:
    """Accept the IAM base URL or the full ``.../v3/auth/tokens`` URL."""
    base = iam_endpoint.rstrip("/")
    if not base.endswith(IAM_TOKENS_PATH):
        base += IAM_TOKENS_PATH
    return URL(base).with_query(nocatalog="true")


def _expiry(document: object, now: float) -> float:
    token = document.get("token") if isinstance(document, Mapping) else None
    expires = token.get("expires_at") if isinstance(token, Mapping) else None
    if isinstance(expires, str):
        try:
            moment = datetime.fromisoformat(expires)
        except ValueError:
            moment = None
        if moment is not None and moment.tzinfo is not None:
            return moment.timestamp()
    return now + _DEFAULT_TOKEN_LIFETIME


class TokenAuth:
    """IAM password-method token, one per project scope, cached and refreshed before expiry.

    A token is fetched from ``POST {iam}/v3/auth/tokens`` on first use for a project (the one
    the call is for; ``project_id`` is the default), reused until ``refresh_before`` seconds
    before it expires, and dropped by ``invalidate`` when the API answers 401. Concurrent
    callers share one fetch.
    """

    def __init__(  # noqa: PLR0917 - the agreed positional signature
        self,
        session: aiohttp.ClientSession,
        iam_endpoint: str,
        domain: str,
        username: str,
        password: str | Path,
        project_id: str,
        *,
        timeout: float = 15.0,
        refresh_before: float = 600.0,
        observer: CallObserver = SilentObserver(),  # noqa: B008 - stateless
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._session = session
        self._url = iam_tokens_url(iam_endpoint)
        self._domain = domain
        self._username = username
        self._password = password  # a Path is read at every token request (rotated secrets)
        self._last_password: str | None = None
        self.project_id = project_id
        self._timeout = timeout
        self._refresh_before = refresh_before
        self._observer = observer
        self._clock = clock
        self._tokens: dict[str, _CachedToken] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def __repr__(self) -> str:
        return (
            f"TokenAuth(iam={self._url.host!r}, domain={self._domain!r}, user={self._username!r})"
        )

    async def auth_flow(self, request: ApiRequest) -> AuthFlow:
        response = yield await self._with_token(request)
        if response.status == 401:  # revoked or expired early: once with a fresh token
            self.invalidate(response.request.headers.get(TOKEN_HEADER))
            yield replace(await self._with_token(request), renewal="token_refresh")

    async def _with_token(self, request: ApiRequest) -> ApiRequest:
        token = await self.token(request.project_id or self.project_id)
        return replace(request, headers={**request.headers, TOKEN_HEADER: token})

    def invalidate(self, token: str | None = None) -> None:
        """Forget the cached token (only ``token``'s project, if given and still cached)."""
        if token is None:
            self._tokens.clear()
            return
        for project, cached in list(self._tokens.items()):
            if cached.value == token:
                del self._tokens[project]

    async def token(self, project_id: str) -> str:
        """A valid token for ``project_id``, fetching one if none is cached or it expires soon."""
        lock = self._locks.setdefault(project_id, asyncio.Lock())
        async with lock:
            cached = self._tokens.get(project_id)
            if cached is None or cached.expires_at - self._refresh_before <= self._clock():
                cached = await self._fetch(project_id)
                self._tokens[project_id] = cached
            return cached.value

    def _current_password(self) -> str:
        """The password; from its file as it is now (a file briefly missing mid-rotation: the
        last one read)."""
        if not isinstance(self._password, Path):
            return self._password
        try:
            self._last_password = self._password.read_text(encoding="utf-8").strip()
        except OSError:
            if self._last_password is None:
                raise
        return self._last_password

    def _request_body(self, project_id: str) -> bytes:
        user = {
            "name": self._username,
            "password": self._current_password(),
            "domain": {"name": self._domain},
        }
        document = {
            "auth": {
                "identity": {"methods": ["password"], "password": {"user": user}},
                "scope": {"project": {"id": project_id}},
            }
        }
        return json.dumps(document, separators=(",", ":")).encode("utf-8")

    async def _fetch(self, project_id: str) -> _CachedToken:
        started = time.monotonic()
        try:
            async with self._session.post(
                self._url,
                data=self._request_body(project_id),
                headers={"Content-Type": "application/json;charset=utf8"},
                timeout=aiohttp.ClientTimeout(total=self._timeout),
                allow_redirects=False,
            ) as response:
                body = await response.read()
                status, headers = response.status, response.headers
        except TimeoutError:
            self._report("network_error", started)
            raise timeout_error("IAM token request") from None
        except aiohttp.ClientError as exc:
            self._report("network_error", started)
            raise network_error(exc) from None
        if not 200 <= status < 300:
            err = parse_error(status, headers, body)
            self._report(outcome(err), started)
            raise err
        self._report("ok", started)
        token = headers.get("X-Subject-Token")
        if not token:
            raise bad_response(status, headers.get("X-Request-Id"), "IAM answered without a token")
        try:
            document: object = json.loads(body) if body else None
        except ValueError:
            document = None
        return _CachedToken(token, _expiry(document, self._clock()))

    def _report(self, result: str, started: float) -> None:
        self._observer.api_call("iam", result, time.monotonic() - started)
