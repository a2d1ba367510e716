"""Authentication as the API gateway does it: AK/SK signatures and IAM tokens.

Owns `Authenticator`, which accepts a request signed with ``SDK-HMAC-SHA256`` (verified with
`worker.ecs.signing`, the one implementation of the algorithm) by a key of the `KeyStore`
(temporary keys together with their ``X-Security-Token``) or carrying a valid
``X-Auth-Token``, and `TokenRegistry`, the IAM tokens handed out by ``POST /v3/auth/tokens``.
Denials never echo the AK, the signature, the token or any other credential.
"""

from __future__ import annotations

import calendar
import functools
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from worker.ecs.signing import (
    SDK_DATE_FORMAT,
    canonical_request,
    compute_signature,
    parse_authorization,
)
from worker.simulator.keys import KeyStore
from worker.simulator.wire import ecs_error, gateway_error

_AKSK_PREFIX = "Incorrect IAM authentication information: "


@dataclass(frozen=True)
class IamToken:
    """One issued token; ``project_id`` is None unless the scope named the project by id."""

    user: str
    domain: str
    project_id: str | None
    issued_at: float
    expires_at: float


class TokenRegistry:
    """The tokens IAM issued, by token string."""

    def __init__(self) -> None:
        self._tokens: dict[str, IamToken] = {}

    def add(self, token: str, info: IamToken) -> None:
        """Remember an issued token."""
        self._tokens[token] = info

    def get(self, token: str) -> IamToken | None:
        """The token's record, expired or not; None if never issued."""
        return self._tokens.get(token)


@functools.lru_cache(maxsize=512)
def _sdk_date_epoch(value: str) -> float | None:
    """Seconds since the epoch of an ``X-Sdk-Date``; cached: clients send the same second often."""
    try:
        parsed = time.strptime(value, SDK_DATE_FORMAT)
    except ValueError:
        return None
    return float(calendar.timegm(parsed))


@dataclass
class Authenticator:
    """Checks one ECS request's credentials; answers None (accepted) or the denial response."""

    keys: KeyStore
    tokens: TokenRegistry
    clock: Callable[[], float]
    skew_seconds: float

    def check(
        self, request: web.Request, body: bytes, project_id: str, request_id: str
    ) -> web.Response | None:
        """Accept a valid ``X-Auth-Token`` or AK/SK signature; otherwise a 401 (or 400) answer."""
        token = request.headers.get("X-Auth-Token")
        if token is not None:
            return self._check_token(token, project_id, request_id)
        authorization = request.headers.get("Authorization")
        if authorization is None:
            return self._deny(request_id, "no Authorization or X-Auth-Token header")
        return self._check_signature(request, body, authorization, request_id)

    def _deny(self, request_id: str, reason: str) -> web.Response:
        return gateway_error(401, "APIG.0301", _AKSK_PREFIX + reason, request_id)

    def _check_signature(
        self, request: web.Request, body: bytes, authorization: str, request_id: str
    ) -> web.Response | None:
        parsed = parse_authorization(authorization)
        if parsed is None:
            return self._deny(request_id, "malformed Authorization header")
        secret_key, refused = self.keys.secret_for(
            parsed.access_key, request.headers.get("X-Security-Token"), self.clock()
        )
        if secret_key is None:
            return self._deny(request_id, refused)
        if "x-sdk-date" not in parsed.signed_headers:
            return self._deny(request_id, "x-sdk-date is not signed")
        sdk_date = request.headers.get("X-Sdk-Date", "")
        signed_at = _sdk_date_epoch(sdk_date)
        if signed_at is None:
            return self._deny(request_id, "x-sdk-date is missing or malformed")
        if abs(self.clock() - signed_at) > self.skew_seconds:
            return self._deny(
                request_id, "the request time differs from the server time by more than 15 minutes"
            )
        signed_values = {name: request.headers.get(name, "") for name in parsed.signed_headers}
        canonical = canonical_request(
            request.method,
            request.rel_url.raw_path,
            list(request.rel_url.query.items()),
            signed_values,
            list(parsed.signed_headers),
            body,
        )
        expected = compute_signature(secret_key, sdk_date, canonical)
        if not hmac.compare_digest(expected, parsed.signature):
            return self._deny(request_id, "verify aksk signature fail")
        return None

    def _check_token(self, token: str, project_id: str, request_id: str) -> web.Response | None:
        info = self.tokens.get(token)
        if info is None:
            return gateway_error(
                401, "APIG.1002", "Incorrect token or token resolution failed", request_id
            )
        if self.clock() >= info.expires_at:
            return gateway_error(401, "APIG.1002", "The token must be updated.", request_id)
        if info.project_id is not None and info.project_id != project_id:
            return ecs_error(
                400, "Ecs.0023", "The project in the token does not match the project in the URL."
            )
        return None
