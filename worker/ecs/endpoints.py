"""The public Huawei Cloud URLs of a region, and which endpoint URLs the worker accepts, without
importing any HTTP machinery.

The settings derive their default endpoints from here and check them here, so loading the
configuration does not load aiohttp. A region is a region name (`REGION_PATTERN`): it becomes
part of a host name, and `attacker.example/#` would send the create (and in token mode the IAM
password) elsewhere. An endpoint is https, or plain http to a loopback address (a local
simulator) or, for the metadata service, a link-local one (169.254.169.254 is http only);
anything else needs the operator's explicit `allow_insecure`.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

REGION_PATTERN = re.compile(r"[a-z0-9-]+")


def default_endpoint(region: str) -> str:
    """The public ECS endpoint of a region."""
    return f"https://ecs.{region}.myhuaweicloud.com"


def default_iam_endpoint(region: str) -> str:
    """The public IAM token URL of a region."""
    return f"https://iam.{region}.myhuaweicloud.com/v3/auth/tokens"


def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def endpoint_problem(url: str, *, allow_insecure: bool, link_local: bool = False) -> str | None:
    """Why the worker must not call `url` (None: it may)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return "is not a URL"
    if parts.scheme not in ("http", "https") or not host:
        return "must be an http(s) URL with a host"
    if parts.scheme == "https" or allow_insecure:
        return None
    address = _address(host)
    if host == "localhost" or (address is not None and address.is_loopback):
        return None
    if link_local and address is not None and address.is_link_local:
        return None
    return (
        "is plain http to a host that is not loopback: use https, or set "
        "ECSP_ALLOW_INSECURE_ENDPOINTS=true (e.g. a simulator in the same cluster)"
    )
