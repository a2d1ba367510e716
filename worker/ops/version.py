"""The version this worker runs: the installed package's, for `--version` and `ecsp_build_info`."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

DISTRIBUTION = "ecs-provisioner"


def package_version() -> str:
    """The installed distribution's version, or "unknown" when run from an uninstalled tree."""
    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:
        return "unknown"
