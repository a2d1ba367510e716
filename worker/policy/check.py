"""Which rules of a policy a request breaks: every broken rule, each with the JSON path it is about.

Works on the request as the API would receive it (wire names, only the fields the publisher set),
so paths read like the body: `server.flavorRef`, `server.data_volumes[1].size`. Messages name the
offending value only for non-secret fields (flavor, image, zone, sizes, counts, tag keys).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from worker.policy.model import Patterns, Rules


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken rule: its name in the policy file, the request's JSON path, what is wrong."""

    rule: str
    path: str
    message: str

    def as_detail(self) -> dict[str, str]:
        return {"rule": self.rule, "path": self.path, "message": self.message}

    def __str__(self) -> str:
        return f"{self.path}: {self.message} (rule {self.rule})"


def violations(rules: Rules, wire: dict[str, Any]) -> list[Violation]:
    """Every rule of `rules` that the request body `wire` breaks, in the policy's rule order."""
    server: dict[str, Any] = wire.get("server") or {}
    return [*_checks(rules, server)]


def requested_servers(wire: dict[str, Any]) -> int:
    """How many servers the body asks for (`server.count`, 1 when absent)."""
    count = (wire.get("server") or {}).get("count")
    return count if isinstance(count, int) and count > 0 else 1


def _checks(rules: Rules, server: dict[str, Any]) -> Iterator[Violation]:
    yield from _patterns("flavors", rules.flavors, "server.flavorRef", server.get("flavorRef"))
    yield from _patterns("images", rules.images, "server.imageRef", server.get("imageRef"))
    yield from _zone(rules.availability_zones, server.get("availability_zone"))
    extend: dict[str, Any] = server.get("extendparam") or {}
    if rules.charging_modes is not None:
        mode = extend.get("chargingMode") or "postPaid"
        if mode not in rules.charging_modes:
            yield Violation(
                "charging_modes",
                "server.extendparam.chargingMode",
                f"charging mode {mode} is not allowed (allowed: {', '.join(rules.charging_modes)})",
            )
    if rules.allow_auto_pay is False and str(extend.get("isAutoPay", "")).lower() == "true":
        yield Violation(
            "allow_auto_pay",
            "server.extendparam.isAutoPay",
            "automatic payment is not allowed: pay the order yourself (isAutoPay false)",
        )
    count = server.get("count") or 1
    if rules.max_count is not None and count > rules.max_count:
        yield Violation(
            "max_count",
            "server.count",
            f"count {count} is more than the {rules.max_count} servers allowed per request",
        )
    if rules.max_servers_per_hour is not None and count > rules.max_servers_per_hour:
        yield Violation(
            "max_servers_per_hour",
            "server.count",
            f"count {count} is more than the project's budget of "
            f"{rules.max_servers_per_hour} servers per hour: it could never be created",
        )
    yield from _volumes(rules, server)
    yield from _tags(rules.required_server_tags, server.get("server_tags"))


def _patterns(rule: str, patterns: Patterns | None, path: str, value: Any) -> Iterator[Violation]:
    if patterns is not None and isinstance(value, str) and not patterns.permits(value):
        yield Violation(rule, path, f"{value} is not allowed ({patterns.describe()})")


def _zone(patterns: Patterns | None, zone: Any) -> Iterator[Violation]:
    path = "server.availability_zone"
    if patterns is not None and patterns.allow is not None and not zone:
        yield Violation(
            "availability_zones",
            path,
            f"an availability zone is required ({patterns.describe()}); "
            "without one the cloud may pick any",
        )
        return
    yield from _patterns("availability_zones", patterns, path, zone)


def _volumes(rules: Rules, server: dict[str, Any]) -> Iterator[Violation]:
    root_size = (server.get("root_volume") or {}).get("size")
    limit = rules.max_root_volume_gb
    if limit is not None and isinstance(root_size, int) and root_size > limit:
        yield Violation(
            "max_root_volume_gb",
            "server.root_volume.size",
            f"system disk of {root_size} GB is larger than the {limit} GB allowed",
        )
    limit = rules.max_data_volume_gb
    if limit is None:
        return
    for index, volume in enumerate(server.get("data_volumes") or []):
        size = volume.get("size") if isinstance(volume, dict) else None
        if isinstance(size, int) and size > limit:
            yield Violation(
                "max_data_volume_gb",
                f"server.data_volumes[{index}].size",
                f"data disk of {size} GB is larger than the {limit} GB allowed",
            )


def _tags(required: list[str] | None, tags: Any) -> Iterator[Violation]:
    if not required:
        return
    present = {tag.get("key") for tag in tags or [] if isinstance(tag, dict)}
    missing = [key for key in required if key not in present]
    if missing:
        yield Violation(
            "required_server_tags",
            "server.server_tags",
            "missing required tag key(s): " + ", ".join(missing),
        )
