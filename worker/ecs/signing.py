"""SDK-HMAC-SHA256 request signing, byte-for-byte what ``huaweicloudsdkcore``'s ``Signer`` does.

Owns: the canonical request (URI, query, headers, payload hash), the signature, the
``Authorization`` header value and its parsing. Used by the client to sign and by the simulator
to verify. Pure functions, no I/O.

Quirks kept on purpose because the official signer has them:
- the canonical URI always ends in ``/``;
- headers whose name contains ``_`` are not signed;
- an empty body always hashes to the empty hash, even when ``X-Sdk-Content-Sha256`` is set;
- only a header spelled exactly ``Content-Type`` with a non-JSON/BSON value switches the payload
  to ``UNSIGNED-PAYLOAD``;
- where a header name appears in several casings, the value lookups for ``X-Sdk-Date`` and
  ``X-Sdk-Content-Sha256`` take the first, the canonical headers take the last.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote, unquote

SDK_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
ALGORITHM = "SDK-HMAC-SHA256"
HEADER_DATE = "X-Sdk-Date"
HEADER_CONTENT_SHA256 = "X-Sdk-Content-Sha256"
HEADER_AUTHORIZATION = "Authorization"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
EMPTY_HASH = hashlib.sha256(b"").hexdigest()
#: A path of unreserved characters and slashes only: unquoting and quoting leave it as it is.
_PLAIN_PATH = re.compile(r"[A-Za-z0-9._~/-]*")


def _encode(value: str) -> str:
    return quote(value, safe="~")


def _first_ci(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def canonical_uri(path: str) -> str:
    """Each path segment percent-encoded (only ``~`` and unreserved kept), ending in ``/``."""
    if _PLAIN_PATH.fullmatch(path):  # nothing to unquote or quote: the common case, faster
        encoded = path
    else:
        encoded = "/".join(_encode(segment) for segment in unquote(path).split("/"))
    return encoded if encoded.endswith("/") else encoded + "/"


def canonical_query(query: Sequence[tuple[str, str]]) -> str:
    """Sorted ``key=value`` pairs, both percent-encoded, joined with ``&``."""
    return "&".join(f"{_encode(key)}={_encode(value)}" for key, value in sorted(query))


def signed_header_names(headers: Mapping[str, str]) -> list[str]:
    """Lowercased, sorted names of the headers to sign: all except those containing ``_``."""
    return sorted(key.lower() for key in headers if "_" not in key)


def _payload_hash(headers: Mapping[str, str], body: bytes) -> str:
    if not body:
        return EMPTY_HASH
    declared = _first_ci(headers, HEADER_CONTENT_SHA256)
    if declared:
        return declared
    return hashlib.sha256(body).hexdigest()


def canonical_request(  # noqa: PLR0917 - positional signature shared with the simulator
    method: str,
    path: str,
    query: Sequence[tuple[str, str]],
    headers: Mapping[str, str],
    signed_headers: Sequence[str],
    body: bytes,
) -> str:
    """The canonical request string that is hashed into the string to sign."""
    values = {key.lower(): str(value).strip() for key, value in headers.items()}
    canonical_headers = "".join(f"{name}:{values.get(name, '')}\n" for name in signed_headers)
    return "\n".join(
        (
            method.upper(),
            canonical_uri(path),
            canonical_query(query),
            canonical_headers,
            ";".join(signed_headers),
            _payload_hash(headers, body),
        )
    )


def compute_signature(secret_key: str, sdk_date: str, canonical: str) -> str:
    """Hex HMAC-SHA256 over ``ALGORITHM\\nDATE\\nsha256hex(canonical)`` keyed by the SK."""
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    string_to_sign = f"{ALGORITHM}\n{sdk_date}\n{digest}"
    return hmac.new(
        secret_key.encode("utf-8"), string_to_sign.encode("utf-8"), hashlib.sha256
    ).hexdigest()


def _sdk_date(headers: Mapping[str, str], now: datetime | None) -> tuple[str, bool]:
    """The date to sign with and whether it must be added as a header."""
    present = _first_ci(headers, HEADER_DATE)
    if present is not None:
        parsed = datetime.strptime(present, SDK_DATE_FORMAT)  # the format's Z: UTC
        return parsed.strftime(SDK_DATE_FORMAT), False
    if now is None:
        return _sdk_date_of_second(int(time.time())), True
    moment = now.astimezone(UTC) if now.tzinfo is not None else now
    return moment.strftime(SDK_DATE_FORMAT), True


@functools.lru_cache(maxsize=2)
def _sdk_date_of_second(second: int) -> str:
    """The X-Sdk-Date of a Unix second: formatted once per second, not once per request."""
    return time.strftime(SDK_DATE_FORMAT, time.gmtime(second))


def sign_request(  # noqa: PLR0917 - positional signature shared with the simulator
    access_key: str,
    secret_key: str,
    method: str,
    host: str,
    path: str,
    query: Sequence[tuple[str, str]],
    headers: Mapping[str, str],
    body: bytes,
    now: datetime | None = None,
) -> dict[str, str]:
    """Sign a request; return the headers to send (input + Host + X-Sdk-Date + Authorization).

    ``host`` is the URL's netloc (with the port when it is not the default). An ``X-Sdk-Date``
    already in ``headers`` is used as is; otherwise ``now`` (default: the current UTC time).
    Header values are returned stripped, as signed.
    """
    out = dict(headers)
    content_type = out.get("Content-Type")
    if content_type and not content_type.startswith(("application/json", "application/bson")):
        out[HEADER_CONTENT_SHA256] = UNSIGNED_PAYLOAD
    sdk_date, add_date = _sdk_date(out, now)
    if add_date:
        out[HEADER_DATE] = sdk_date
    if not any(key.lower() == "host" for key in out):
        out["Host"] = host
    names = signed_header_names(out)
    canonical = canonical_request(method, path, query, out, names, body)
    signature = compute_signature(secret_key, sdk_date, canonical)
    out = {key: str(value).strip() for key, value in out.items()}
    out[HEADER_AUTHORIZATION] = (
        f"{ALGORITHM} Access={access_key}, SignedHeaders={';'.join(names)}, Signature={signature}"
    )
    return out


@dataclass(frozen=True)
class ParsedAuthorization:
    """The three parts of an ``SDK-HMAC-SHA256`` Authorization header."""

    access_key: str
    signed_headers: tuple[str, ...]
    signature: str


def parse_authorization(value: str) -> ParsedAuthorization | None:
    """Parse ``SDK-HMAC-SHA256 Access=..., SignedHeaders=a;b, Signature=hex``; None if malformed."""
    prefix = ALGORITHM + " "
    if not value.startswith(prefix):
        return None
    parts: dict[str, str] = {}
    for item in value[len(prefix) :].split(","):
        name, sep, part = item.strip().partition("=")
        if not sep or name in parts:
            return None
        parts[name] = part
    if set(parts) != {"Access", "SignedHeaders", "Signature"}:
        return None
    access_key, signed, signature = parts["Access"], parts["SignedHeaders"], parts["Signature"]
    if not access_key or not signed or not signature:
        return None
    return ParsedAuthorization(
        access_key=access_key, signed_headers=tuple(signed.split(";")), signature=signature
    )
