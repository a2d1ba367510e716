"""The ECS instance metadata service's credential paths, as the official SDK calls them.

Owns ``PUT /meta-data/latest/api/token`` (a session token for ``X-Metadata-Token``) and ``GET
/openstack/latest/securitykey``: the temporary AK/SK/security token of the instance's agency,
``{"credential": {"access", "secret", "securitytoken", "expires_at"}}``. Like the real service it
hands out the same credential until less than half of its lifetime is left, then a new one;
the old one stays valid until it expires. A request with an unknown session token gets 401.
"""

from __future__ import annotations

from aiohttp import web

from worker.simulator.keys import TemporaryKey
from worker.simulator.state import STATE
from worker.simulator.wire import iam_time, json_response

TOKEN_HEADER = "X-Metadata-Token"  # noqa: S105 - a header name
TOKEN_TTL_HEADER = "X-Metadata-Token-Ttl-Seconds"  # noqa: S105 - a header name
MAX_TOKEN_TTL_SECONDS = 6 * 3600


def credential_json(key: TemporaryKey) -> dict[str, object]:
    """A temporary key as IAM's security-token API and the metadata service write it."""
    return {
        "credential": {
            "access": key.access_key,
            "secret": key.secret_key,
            "securitytoken": key.security_token,
            "expires_at": iam_time(key.expires_at),
        }
    }


async def session_token(request: web.Request) -> web.Response:
    """A metadata session token for 1..21600 seconds (``X-Metadata-Token-Ttl-Seconds``)."""
    state = request.app[STATE]
    try:
        ttl = int(request.headers.get(TOKEN_TTL_HEADER, ""))
    except ValueError:
        ttl = 0
    if not 1 <= ttl <= MAX_TOKEN_TTL_SECONDS:
        return web.Response(status=400, text="invalid X-Metadata-Token-Ttl-Seconds")
    token = state.ids.job_id()
    state.metadata_tokens[token] = state.now() + ttl
    return web.Response(text=token)


async def security_key(request: web.Request) -> web.Response:
    """The agency's current temporary credential (a new one past half of its lifetime)."""
    state = request.app[STATE]
    now = state.now()
    token = request.headers.get(TOKEN_HEADER)
    if token is not None and state.metadata_tokens.get(token, 0.0) <= now:
        return web.Response(status=401, text="invalid or expired X-Metadata-Token")
    ttl = state.config.metadata_credential_ttl_seconds
    key = state.metadata_key
    if key is None or key.expires_at - now < ttl / 2:
        key = state.auth.keys.issue(state.ids, ttl, now)
        state.metadata_key = key
        state.stats.metadata_credentials_issued += 1
    return json_response(200, credential_json(key))
