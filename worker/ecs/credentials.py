"""Where the AK/SK (and security token) that sign requests come from, and when they change.

Owns `Credential` (one AK/SK/token triple; also the source of a fixed triple), `FileCredentials`
(literals or files that are re-read when they change on disk, e.g. a rotated Kubernetes secret)
and `MetadataCredentials` (the instance's agency credentials from the ECS metadata service, the
way the official SDK's ``MetadataCredentialProvider`` gets them, renewed before they expire).

Every source answers `current()` before each signature and `renew(access_key, token)` after the
API rejected those credentials with 401: it reloads and says whether retrying can help (the
credentials changed). Secret values never appear in ``repr``, logs or errors.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import aiohttp
import structlog

from worker.ecs.errors import (
    EcsApiError,
    bad_response,
    network_error,
    outcome,
    parse_error,
    timeout_error,
)
from worker.ecs.observer import CallObserver, SilentObserver

log = structlog.get_logger("worker.ecs.credentials")

#: The official SDK's metadata accessor (huaweicloudsdkcore.auth.internal.MetadataAccessor).
METADATA_TOKEN_PATH = "/meta-data/latest/api/token"  # noqa: S105 - a path
SECURITY_KEY_PATH = "/openstack/latest/securitykey"
METADATA_TOKEN_HEADER = "X-Metadata-Token"  # noqa: S105 - a header name
METADATA_TOKEN_TTL_HEADER = "X-Metadata-Token-Ttl-Seconds"  # noqa: S105 - a header name
METADATA_TOKEN_TTL_SECONDS = 6 * 3600
NO_AGENCY_TEXT = "Please configure Cloud Service Agency first"


@dataclass(frozen=True)
class Credential:
    """AK/SK, the security token of temporary credentials, and when they expire (epoch s).

    A fixed credential is its own source: `current` returns it, `renew` cannot help.
    """

    access_key: str = field(repr=False)
    secret_key: str = field(repr=False)
    security_token: str | None = field(default=None, repr=False)
    expires_at: float | None = None

    def is_for(self, access_key: str, security_token: str | None) -> bool:
        return (self.access_key, self.security_token or None) == (
            access_key,
            security_token or None,
        )

    async def current(self) -> Credential:
        return self

    async def renew(self, access_key: str, security_token: str | None) -> bool:
        del access_key, security_token
        return False


class CredentialSource(Protocol):
    """Gives the credentials to sign with; reloads them after a 401 (`renew`)."""

    async def current(self) -> Credential: ...

    async def renew(self, access_key: str, security_token: str | None) -> bool:
        """Reload after these credentials were rejected; True if the current ones differ."""
        ...


#: A secret given directly (str) or as the file that holds it (Path).
SecretValue = str | Path


def _stamp(path: Path) -> tuple[int, int, int] | None:
    """What changes when the file is replaced or rewritten (Kubernetes swaps a symlink)."""
    try:
        info = path.stat()
    except OSError:
        return None
    return (info.st_ino, info.st_mtime_ns, info.st_size)


class FileCredentials:
    """AK, SK and optional token, each a literal or a file re-read as soon as it changes.

    Changes are noticed by the files' inode/mtime/size before every signature (a ``stat``, no
    read) and, after a 401, by reading them again regardless. A file that is briefly missing or
    unreadable (mid-rotation) keeps the last good credentials in use, with a warning.
    """

    def __init__(
        self,
        access_key: SecretValue,
        secret_key: SecretValue,
        security_token: SecretValue | None = None,
    ) -> None:
        self._values: dict[str, SecretValue | None] = {
            "access_key": access_key,
            "secret_key": secret_key,
            "security_token": security_token,
        }
        self._files = [v for v in self._values.values() if isinstance(v, Path)]
        self._stamps: list[tuple[int, int, int] | None] = []
        self._credential = self._load()

    def __repr__(self) -> str:
        return f"FileCredentials(files={[str(p) for p in self._files]})"

    def _load(self) -> Credential:
        self._stamps = [_stamp(p) for p in self._files]
        parts = {
            name: value.read_text(encoding="utf-8").strip() if isinstance(value, Path) else value
            for name, value in self._values.items()
        }
        return Credential(
            access_key=parts["access_key"] or "",
            secret_key=parts["secret_key"] or "",
            security_token=parts["security_token"] or None,
        )

    def _reload(self, why: str) -> None:
        try:
            fresh = self._load()
        except OSError as exc:
            log.warning(
                "credential files unreadable, keeping the last ones",
                reason=why,
                error=exc.strerror,
                file=exc.filename,
            )
            return
        if fresh != self._credential:
            log.info("credentials reloaded from files", reason=why)
        self._credential = fresh

    async def current(self) -> Credential:
        if [_stamp(p) for p in self._files] != self._stamps:
            self._reload("files changed")
        return self._credential

    async def renew(self, access_key: str, security_token: str | None) -> bool:
        if self._files:
            self._reload("rejected with 401")
        return not self._credential.is_for(access_key, security_token)


def _parse_expiry(text: object) -> float | None:
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:  # the API writes UTC ("...Z"); be lenient about a missing zone
        return moment.replace(tzinfo=datetime.now().astimezone().tzinfo).timestamp()
    return moment.timestamp()


def parse_security_key(document: object) -> Credential | None:
    """The credential in a ``securitykey`` answer (the SDK's accepted spellings), else None."""
    if not isinstance(document, Mapping):
        return None
    inner: Any = document.get("credential") or document.get("credentials") or document
    if not isinstance(inner, Mapping):
        return None
    access = inner.get("access") or inner.get("accessKeyId") or inner.get("access_key_id")
    secret = inner.get("secret") or inner.get("secretAccessKey") or inner.get("secret_access_key")
    token = inner.get("securitytoken") or inner.get("securityToken") or inner.get("security_token")
    if not (isinstance(access, str) and access and isinstance(secret, str) and secret):
        return None
    return Credential(
        access_key=access,
        secret_key=secret,
        security_token=token if isinstance(token, str) and token else None,
        expires_at=_parse_expiry(inner.get("expires_at") or inner.get("expiration")),
    )


@dataclass(frozen=True)
class _Held:
    credential: Credential
    fetched_at: float


class MetadataCredentials:
    """The instance's temporary agency credentials from the ECS metadata service.

    ``PUT {endpoint}/meta-data/latest/api/token`` first (optional on the service's side: a
    404/405/503 means "no session tokens", as in the SDK), then ``GET
    {endpoint}/openstack/latest/securitykey`` with it. The answer is cached and fetched again
    ``refresh_before`` seconds before it expires, or halfway through its life if that is
    sooner; a failed refresh keeps the cached credentials while they are still valid.
    Concurrent callers share one fetch.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        endpoint: str,
        *,
        refresh_before: float = 2400.0,
        timeout: float = 5.0,
        min_interval: float = 30.0,
        observer: CallObserver = SilentObserver(),  # noqa: B008 - stateless
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._session = session
        self._base = endpoint.rstrip("/")
        self._refresh_before = refresh_before
        self._timeout = timeout
        self._min_interval = min_interval
        self._observer = observer
        self._clock = clock
        self._held: _Held | None = None
        self._session_token: str | None = None
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"MetadataCredentials(endpoint={self._base!r})"

    def _due(self, held: _Held) -> bool:
        expires = held.credential.expires_at
        if expires is None:
            return False
        now = self._clock()
        if now >= expires:
            return True
        margin = min(self._refresh_before, (expires - held.fetched_at) / 2)
        # An unchanged answer is not asked for again at once: the service renews on its own time.
        return now >= expires - margin and now - held.fetched_at >= min(
            self._min_interval, margin / 4
        )

    async def current(self) -> Credential:
        held = self._held
        if held is not None and not self._due(held):
            return held.credential
        async with self._lock:
            held = self._held
            if held is None or self._due(held):
                await self._refresh()
            assert self._held is not None
            return self._held.credential

    async def renew(self, access_key: str, security_token: str | None) -> bool:
        async with self._lock:
            held = self._held
            if held is None or held.credential.is_for(access_key, security_token):
                await self._refresh()
            assert self._held is not None
            return not self._held.credential.is_for(access_key, security_token)

    async def _refresh(self) -> None:
        try:
            credential = await self._fetch()
        except EcsApiError as exc:
            held = self._held
            if held is None or (held.credential.expires_at or 0) <= self._clock():
                raise
            log.warning("metadata credential refresh failed, keeping the valid ones", code=exc.code)
            return
        previous = self._held
        self._held = _Held(credential, self._clock())
        if previous is None or previous.credential != credential:
            log.info(
                "metadata credentials loaded",
                expires_in_s=None
                if credential.expires_at is None
                else round(credential.expires_at - self._clock()),
            )

    async def _fetch(self) -> Credential:
        if self._session_token is None:
            self._session_token = await self._new_session_token()
        status, text = await self._security_key()
        if status == 401 and NO_AGENCY_TEXT not in text:
            self._session_token = await self._new_session_token()
            status, text = await self._security_key()
        if status >= 400:
            raise parse_error(status, {}, text.encode())
        try:
            credential = parse_security_key(json.loads(text))
        except ValueError:
            credential = None
        if credential is None:
            raise bad_response(status, None, "metadata answered without credentials")
        return credential

    async def _new_session_token(self) -> str | None:
        status, text = await self._request(
            "PUT",
            METADATA_TOKEN_PATH,
            {METADATA_TOKEN_TTL_HEADER: str(METADATA_TOKEN_TTL_SECONDS)},
        )
        if status == 200:
            return text.strip() or None
        if status in (404, 405, 503):
            return None  # a service without session tokens
        raise parse_error(status, {}, text.encode())

    async def _security_key(self) -> tuple[int, str]:
        headers = {METADATA_TOKEN_HEADER: self._session_token} if self._session_token else {}
        return await self._request("GET", SECURITY_KEY_PATH, headers)

    async def _request(self, method: str, path: str, headers: dict[str, str]) -> tuple[int, str]:
        started = time.monotonic()
        try:
            async with self._session.request(
                method,
                self._base + path,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self._timeout),
                allow_redirects=False,
            ) as response:
                text = await response.text()
                status = response.status
        except TimeoutError:
            self._report("network_error", started)
            raise timeout_error("instance metadata request") from None
        except aiohttp.ClientError as exc:
            self._report("network_error", started)
            raise network_error(exc) from None
        self._report("ok" if status < 400 else outcome(parse_error(status, {}, b"")), started)
        return status, text

    def _report(self, result: str, started: float) -> None:
        self._observer.api_call("metadata", result, time.monotonic() - started)
