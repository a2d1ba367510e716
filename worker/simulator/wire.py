"""What goes on the wire: JSON responses, the API's error shapes, time and id formats.

Owns the three error shapes the real service uses: ECS ``{"error": {"code", "message"}}``,
the API gateway's ``{"error_code", "error_msg", "request_id"}`` (401 APIG.0301, 429 APIG.0308)
and IAM's ``{"error": {"code", "message", "title"}}``; and the identifiers the service hands out
(32-hex job ids, UUID server ids, ``CS…`` order ids), drawn from a seeded `random.Random`.
"""

from __future__ import annotations

import json
import random
import string
import time
import uuid

from aiohttp import web

JSON_CONTENT_TYPE = "application/json;charset=UTF-8"
REQUEST_ID_HEADER = "X-Request-Id"

THROTTLE_LIMIT = 50  # the "limit:XX" of APIG.0308 messages; no real per-API value is published


def json_response(
    status: int, payload: object, headers: dict[str, str] | None = None
) -> web.Response:
    """A JSON response with the content type the real service sends."""
    return raw_json_response(status, json.dumps(payload).encode(), headers)


def raw_json_response(
    status: int, body: bytes, headers: dict[str, str] | None = None
) -> web.Response:
    """A JSON response from already-serialised bytes (replays answer byte for byte)."""
    all_headers = {"Content-Type": JSON_CONTENT_TYPE}
    if headers:
        all_headers.update(headers)
    return web.Response(status=status, body=body, headers=all_headers)


def ecs_error(
    status: int, code: str, message: str, details: list[dict[str, str]] | None = None
) -> web.Response:
    """The ECS error body ``{"error": {"code", "message", "details"?}}``."""
    error: dict[str, object] = {"code": code, "message": message}
    if details:
        error["details"] = details
    return json_response(status, {"error": error})


def gateway_error(
    status: int, code: str, message: str, request_id: str, headers: dict[str, str] | None = None
) -> web.Response:
    """The API gateway body ``{"error_code", "error_msg", "request_id"}``."""
    payload = {"error_code": code, "error_msg": message, "request_id": request_id}
    return json_response(status, payload, headers)


def throttled(request_id: str, retry_after_seconds: int) -> web.Response:
    """429 APIG.0308 with ``Retry-After``, as the gateway answers a throttled user."""
    message = (
        "The throttling threshold has been reached: policy user over ratelimit,"
        f"limit:{THROTTLE_LIMIT},time:1 second"
    )
    return gateway_error(
        429, "APIG.0308", message, request_id, {"Retry-After": str(retry_after_seconds)}
    )


def iam_error(status: int, title: str, message: str) -> web.Response:
    """IAM's (Keystone's) error body ``{"error": {"code": int, "message", "title"}}``."""
    return json_response(status, {"error": {"code": status, "message": message, "title": title}})


def api_time(epoch_seconds: float) -> str:
    """ECS job time: ISO-8601 UTC with milliseconds, e.g. ``2016-04-25T20:04:34.604Z``."""
    millis = int(epoch_seconds * 1000)
    seconds, ms = divmod(millis, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{ms:03d}Z"


def iam_time(epoch_seconds: float) -> str:
    """IAM token time: ISO-8601 UTC with microseconds, e.g. ``2020-01-05T05:05:43.453000Z``."""
    micros = int(epoch_seconds * 1_000_000)
    seconds, us = divmod(micros, 1_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{us:06d}Z"


class IdSource:
    """Identifiers from a seeded generator, so a seeded run hands out the same ids."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._prefix = f"{rng.getrandbits(64):016x}"
        self._counter = 0

    def request_id(self) -> str:
        """32 hex characters, unique within the process (cheap: a counter)."""
        self._counter += 1
        return f"{self._prefix}{self._counter:016x}"

    def job_id(self) -> str:
        """32 lowercase hex characters, like ``ff808082739334d80173943ec9b42130``."""
        return f"{self._rng.getrandbits(128):032x}"

    def server_id(self) -> str:
        """A version-4 UUID string."""
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def order_id(self, now: float) -> str:
        """``CS`` + yyMMddHHmm + five characters, like ``CS2007281506xxxxx``."""
        stamp = time.strftime("%y%m%d%H%M", time.gmtime(now))
        suffix = "".join(self._rng.choices(string.ascii_uppercase + string.digits, k=5))
        return f"CS{stamp}{suffix}"

    def subject_token(self) -> str:
        """An opaque IAM token (real ones are long base64 strings starting ``MII``)."""
        return "MII" + "".join(f"{self._rng.getrandbits(64):016x}" for _ in range(8))
