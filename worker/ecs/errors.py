"""One typed error for every way an ECS/IAM call can fail, and its retry classification.

Owns: ``EcsApiError``, ``CallFailure``, ``parse_error`` (every error body shape the API gateway,
ECS and IAM use), ``network_error``/``timeout_error``/… for calls that got no usable answer,
``parse_retry_after`` and the observer outcome label of an error. The client speaks the API
only: an error the API answered carries the API's code (``Ecs.0122``, ``APIG.0308``…); one it did
not answer carries a ``CallFailure`` (its ``code`` is the failure's name), which the pipeline
maps to the contract's ``ECSP.*`` codes. The text of an error is built only from the response
(code, message, request id), never from what we sent, so it cannot contain secrets.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Any

THROTTLE_CODES = frozenset({"APIG.0308", "APIGW.0308"})
RETRYABLE_CODES = frozenset({"Ecs.0002"}) | THROTTLE_CODES
_MAX_MESSAGE = 500

_CODE_KEYS = (("error_code", "error_msg"), ("errorCode", "errorMsg"), ("code", "message"))


class CallFailure(StrEnum):
    """A call that got no usable answer from the API, and why."""

    NETWORK = "network"  # refused, reset, DNS, an incomplete response
    TIMEOUT = "timeout"  # the call or a wait before it ran out of time
    TLS_CERTIFICATE = "tls_certificate"  # the server's certificate failed verification
    BAD_RESPONSE = "bad_response"  # a 2xx whose body is not what the API documents
    UNAVAILABLE = "unavailable"  # held: the circuit breaker considers the API down


class EcsApiError(Exception):
    """A failed API call: what the server said (or that nothing came back) and whether to retry.

    ``failure`` is None when the API answered with an error (``code`` is its code), else the
    way the call failed (``code`` is its name).
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        http_status: int | None = None,
        request_id: str | None = None,
        details: list[dict[str, Any]] | None = None,
        retryable: bool = False,
        retry_after: float | None = None,
        failure: CallFailure | None = None,
    ) -> None:
        super().__init__(code, message)
        self.code = code
        self.failure = failure
        self.message = message
        self.http_status = http_status
        self.request_id = request_id
        self.details = details
        self.retryable = retryable
        self.retry_after = retry_after
        self.attempts = 1

    def __str__(self) -> str:
        status = f"HTTP {self.http_status}" if self.http_status is not None else "no response"
        request = f" [request {self.request_id}]" if self.request_id else ""
        return f"{self.code} ({status}): {self.message}{request}"

    def __repr__(self) -> str:
        return f"EcsApiError({self!s}, retryable={self.retryable})"


def is_retryable(http_status: int | None, code: str) -> bool:
    """Throttling, 5xx, Ecs.0002 and no-response are worth retrying; every other 4xx is not."""
    if http_status is None or code in RETRYABLE_CODES:
        return True
    return http_status == 429 or http_status >= 500


def outcome(err: EcsApiError) -> str:
    """The ``outcome`` metric label of a failed call."""
    if err.http_status is None:
        return "network_error"
    if err.http_status == 429 or err.code in THROTTLE_CODES:
        return "throttled"
    if err.http_status >= 500:
        return "server_error"
    return "client_error"


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date), if valid."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if moment.tzinfo is None:
            return None
        seconds = moment.timestamp() - (time.time() if now is None else now)
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def _text(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return text[:_MAX_MESSAGE]


def _find_code(document: Mapping[str, Any]) -> tuple[str, str, Mapping[str, Any]] | None:
    """The first (code, message, container) pair in the document, searching nested objects."""
    for code_key, message_key in _CODE_KEYS:
        if code_key in document and message_key in document:
            return _text(document[code_key]), _text(document[message_key]), document
    nested = document.get("error")
    if isinstance(nested, Mapping) and ("code" in nested or "message" in nested):
        return _text(nested.get("code", "")), _text(nested.get("message", "")), nested
    for value in document.values():
        if isinstance(value, Mapping) and (found := _find_code(value)) is not None:
            return found
    return None


def _details(container: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    details = container.get("details")
    if isinstance(details, list) and all(isinstance(item, dict) for item in details):
        return details
    return None


def parse_error(status: int, headers: Mapping[str, str], body: bytes) -> EcsApiError:
    """Turn a non-2xx response into an ``EcsApiError``, whatever the shape of its body.

    Shapes understood: ``{"error": {"code", "message", "details"?}}`` (ECS),
    ``{"error_code", "error_msg", "request_id"?}`` (API gateway), ``{"errorCode", "errorMsg"}``,
    ``{"code", "message"}``, and any of these nested one level or more down (e.g. OpenStack's
    ``{"itemNotFound": {"message", "code"}}``, IAM's ``{"error": {"code": 401, ...}}``).
    Anything else keeps the HTTP status as the code ``HTTP.<status>``.
    """
    request_id = _header(headers, "X-Request-Id")
    retry_after = parse_retry_after(_header(headers, "Retry-After"))
    code, message, details = f"HTTP.{status}", "", None
    try:
        document = json.loads(body) if body else None
    except (ValueError, UnicodeDecodeError):
        document = None
    if isinstance(document, Mapping):
        found = _find_code(document)
        if found is not None:
            code = found[0] or code
            message = found[1]
            details = _details(found[2])
        if request_id is None and isinstance(document.get("request_id"), str):
            request_id = document["request_id"]
    elif body:
        message = body[:200].decode("utf-8", errors="replace").strip()
    return EcsApiError(
        code,
        message or f"HTTP {status}",
        http_status=status,
        request_id=request_id,
        details=details,
        retryable=is_retryable(status, code),
        retry_after=retry_after,
    )


def network_error(exc: BaseException) -> EcsApiError:
    """A call that got no (complete) response: connection refused/reset, TLS, DNS, payload."""
    detail = str(exc)[:200]
    message = f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
    return _failed(CallFailure.NETWORK, message, retryable=True)


def certificate_error(exc: BaseException) -> EcsApiError:
    """The server's TLS certificate failed verification: retrying will not help."""
    return _failed(
        CallFailure.TLS_CERTIFICATE, f"{type(exc).__name__}: {str(exc)[:200]}", retryable=False
    )


def timeout_error(what: str) -> EcsApiError:
    """A call or a wait that ran out of time."""
    return _failed(CallFailure.TIMEOUT, f"timed out: {what}", retryable=True)


def bad_response(status: int, request_id: str | None, why: str) -> EcsApiError:
    """A 2xx whose body is not what the API documents (retrying is safe: same token, same job)."""
    return _failed(
        CallFailure.BAD_RESPONSE, why, http_status=status, request_id=request_id, retryable=True
    )


def unavailable_error(why: str, last: EcsApiError | None = None) -> EcsApiError:
    """The breaker holds calls: wait for the API (``wait_available``) rather than retry now."""
    cause = f"; last error {last}" if last is not None else ""
    return _failed(CallFailure.UNAVAILABLE, f"{why}{cause}", retryable=True)


def _failed(
    failure: CallFailure,
    message: str,
    *,
    retryable: bool,
    http_status: int | None = None,
    request_id: str | None = None,
) -> EcsApiError:
    return EcsApiError(
        failure.value,
        message,
        http_status=http_status,
        request_id=request_id,
        retryable=retryable,
        failure=failure,
    )


def is_unavailable(err: EcsApiError) -> bool:
    """True when the call was held (or given up) because the API is considered down."""
    return err.failure is CallFailure.UNAVAILABLE


def is_outage(err: EcsApiError) -> bool:
    """5xx, no response or a timeout: a sign the API is down (throttling is not)."""
    return err.failure is not CallFailure.TLS_CERTIFICATE and outcome(err) in {
        "network_error",
        "server_error",
    }


def is_not_found(err: EcsApiError) -> bool:
    """True for a 404, e.g. a job GET after the job was purged (about a day after it ended)."""
    return err.http_status == 404
