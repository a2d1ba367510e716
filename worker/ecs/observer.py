"""What the ECS client reports, as small protocols: calls and retries, and each HTTP attempt.

Owns `CallObserver` (one call's outcome and duration: what IAM and metadata calls report),
`ApiObserver` (adds retries: what the client reports; the metrics implement it), `SilentObserver`
(reports nowhere), and `HttpAttempt` / `HttpTracer` (one HTTP attempt as it went, for spans).
Labels: ``endpoint`` is create, job, list, delete, iam or metadata; ``outcome`` is ok,
throttled, server_error, client_error or network_error; a retry's ``reason`` is the outcome that
caused it, or ``credential_reload`` / ``token_refresh`` after a 401.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from yarl import URL


class CallObserver(Protocol):
    """Told how each call went."""

    def api_call(self, endpoint: str, outcome: str, seconds: float) -> None: ...


class ApiObserver(CallObserver, Protocol):
    """Told how each call went and why a call was retried."""

    def api_retry(self, endpoint: str, reason: str) -> None: ...


class SilentObserver:
    """Reports nowhere (tests, tools)."""

    def api_call(self, endpoint: str, outcome: str, seconds: float) -> None:
        return None

    def api_retry(self, endpoint: str, reason: str) -> None:
        return None


@dataclass(frozen=True, slots=True)
class HttpAttempt:
    """One HTTP request to the API as it went, for an ``HttpTracer``.

    ``route`` is the path template (``/v1/{project_id}/jobs/{job_id}``); ``status`` is None
    when no answer came (``outcome`` network_error); ``error_code`` is the API's error code (or
    the name of the failure when there was no answer).
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
    """Told of every HTTP attempt once it ended (``worker.ecs.http_spans`` makes spans of them)."""

    def http_attempt(self, attempt: HttpAttempt) -> None: ...
