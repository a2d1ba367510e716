"""The public Huawei Cloud URLs of a region, without importing any HTTP machinery.

The settings derive their default endpoints from here, so loading the configuration does not
load aiohttp.
"""

from __future__ import annotations


def default_endpoint(region: str) -> str:
    """The public ECS endpoint of a region."""
    return f"https://ecs.{region}.myhuaweicloud.com"


def default_iam_endpoint(region: str) -> str:
    """The public IAM token URL of a region."""
    return f"https://iam.{region}.myhuaweicloud.com/v3/auth/tokens"
