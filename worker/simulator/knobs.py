"""Simulator settings: the start-up configuration and the run-time fault knobs.

Owns `SimulatorConfig` (fixed for the life of an app), `Faults` (replaced as a whole at run time
through `POST /_sim/faults`) and `update_faults`, the one place that checks a fault update, and
`parse_offering` / `offering_in` (the `FLAVOR@ZONE` patterns of the offerings that are sold out
or over quota, `*` for either side).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

Range = tuple[float, float]

_RATE_FIELDS = (
    "error_rate",
    "throttle_rate",
    "drop_rate",
    "job_failure_rate",
    "partial_failure_rate",
    "sold_out_job_rate",
)
_RANGE_FIELDS = ("latency_ms", "job_seconds")
_QUOTA_FIELDS = ("quota_per_second",)
_OFFERING_FIELDS = ("sold_out", "quota_exceeded")
ANY = "*"


@dataclass(frozen=True)
class Faults:
    """Injected faults; names as in docs/contract.md, "Simulator interface".

    Rates are fractions in [0, 1] of API calls (``error_rate`` 5xx, ``throttle_rate`` 429
    APIG.0308, ``drop_rate`` connections closed without an answer) or of created jobs
    (``job_failure_rate``; ``partial_failure_rate``: jobs with count > 1 that end FAIL with
    exactly one sub-job failed and the other servers created). ``latency_ms`` and
    ``job_seconds`` are inclusive [min, max] ranges drawn uniformly. ``job_seconds=None`` means
    "the config's ``job_seconds``".
    ``quota_per_second`` is a hard account quota on ECS API calls (0 = none): within each
    clock second, calls past that many answer 429 APIG.0308, as a real flow-control policy does.
    ``sold_out`` lists the offerings out of capacity as ``FLAVOR@ZONE`` (``*`` for any flavor
    or any zone; a create naming no zone matches only ``*``): a create of one is answered
    Ecs.0319, either at once (400) or, for a ``sold_out_job_rate`` fraction of them, accepted
    and then failed in its job, every sub-job Ecs.0319. ``quota_exceeded`` (same patterns) makes
    a create of such an offering answer 400 Ecs.0001 (the project's vCPU or memory quota is too
    small for that flavor), before capacity is looked at.
    """

    error_rate: float = 0.0
    throttle_rate: float = 0.0
    drop_rate: float = 0.0
    latency_ms: Range = (0.0, 0.0)
    job_failure_rate: float = 0.0
    job_seconds: Range | None = None
    partial_failure_rate: float = 0.0
    quota_per_second: float = 0.0
    sold_out: tuple[str, ...] = ()
    sold_out_job_rate: float = 0.5
    quota_exceeded: tuple[str, ...] = ()


@dataclass(frozen=True)
class SimulatorConfig:
    """Everything a simulator app needs at start.

    ``credentials`` maps AK to SK; ``iam_users`` maps user name to password (any domain).
    ``metadata_credential_ttl_seconds`` is the lifetime of the temporary credentials the
    metadata service hands out.
    ``clock`` returns the current time in seconds since the epoch; tests pass a fake one to
    jump over token TTLs, signature skew and job retention. ``extra_fields`` are create-body
    fields of a newer API (``server.new_field``; see `ecsp_contract.extensions`) it accepts too.
    ``list_lag_seconds``: the server list is eventually consistent; a new server is missing from
    ListServersDetails for this long after its job starts. ``admin_routes``: serve the
    unauthenticated ``/_sim/`` paths (tests, local stacks); off, the simulator serves only what
    the real services do.
    """

    credentials: Mapping[str, str] = field(default_factory=dict)
    iam_users: Mapping[str, str] = field(default_factory=dict)
    job_seconds: Range = (2.0, 6.0)
    seed: int | None = None
    token_ttl_seconds: float = 8 * 3600
    job_retention_seconds: float = 86400
    pending_payment_retention_seconds: float = 14 * 86400
    skew_seconds: float = 900
    iam_token_ttl_seconds: float = 86400
    metadata_credential_ttl_seconds: float = 86400
    retry_after_seconds: int = 1
    faults: Faults = field(default_factory=Faults)
    clock: Callable[[], float] = time.time
    extra_fields: tuple[str, ...] = ()
    list_lag_seconds: float = 0.0
    admin_routes: bool = False


class FaultsError(ValueError):
    """A fault update that names an unknown field or carries an invalid value."""


def _rate(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FaultsError(f"{name} must be a number")
    rate = float(value)
    if not 0.0 <= rate <= 1.0:
        raise FaultsError(f"{name} must be between 0 and 1")
    return rate


def _range(name: str, value: object) -> Range:
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise FaultsError(f"{name} must be [min, max]")
    low, high = value
    for bound in (low, high):
        if isinstance(bound, bool) or not isinstance(bound, int | float):
            raise FaultsError(f"{name} bounds must be numbers")
        if not math.isfinite(bound):
            raise FaultsError(f"{name} bounds must be finite")
    if not 0 <= low <= high:
        raise FaultsError(f"{name} must satisfy 0 <= min <= max")
    return (float(low), float(high))


def _quota(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FaultsError(f"{name} must be a number")
    if not (math.isfinite(value) and value >= 0):
        raise FaultsError(f"{name} must be a finite number >= 0")
    return float(value)


def parse_offering(text: str) -> str:
    """A ``FLAVOR@ZONE`` pattern (either side may be ``*``), as given; `FaultsError` if not."""
    flavor, sep, zone = text.partition("@")
    if not sep or not flavor or not zone or "@" in zone or text != text.strip():
        raise FaultsError(f"expected FLAVOR@ZONE (* for any), got {text[:80]!r}")
    return text


def _offerings(name: str, value: object) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise FaultsError(f"{name} must be a list of FLAVOR@ZONE strings")
    return tuple(parse_offering(text) for text in value)


def offering_in(patterns: tuple[str, ...], flavor_ref: str, availability_zone: str) -> bool:
    """Whether a pattern matches the offering (zone "" when the create named none)."""
    for pattern in patterns:
        flavor, _, zone = pattern.partition("@")
        if flavor in (ANY, flavor_ref) and zone in (ANY, availability_zone):
            return True
    return False


def update_faults(current: Faults, update: Mapping[str, object]) -> Faults:
    """A copy of ``current`` with the fields in ``update`` replaced; `FaultsError` if invalid."""
    known = set(_RATE_FIELDS) | set(_RANGE_FIELDS) | set(_QUOTA_FIELDS) | set(_OFFERING_FIELDS)
    unknown = sorted(set(update) - known)
    if unknown:
        raise FaultsError(f"unknown fault field(s): {', '.join(unknown)}")
    changes: dict[str, object] = {}
    for name, value in update.items():
        if name in _RATE_FIELDS:
            changes[name] = _rate(name, value)
        elif name in _QUOTA_FIELDS:
            changes[name] = _quota(name, value)
        elif name in _OFFERING_FIELDS:
            changes[name] = _offerings(name, value)
        else:
            changes[name] = _range(name, value)
    return dataclasses.replace(current, **changes)  # type: ignore[arg-type]


def parse_range(text: str) -> Range:
    """Parse the command line's ``MIN:MAX`` form; `FaultsError` if invalid."""
    low, sep, high = text.partition(":")
    if not sep:
        raise FaultsError(f"expected MIN:MAX, got {text!r}")
    try:
        bounds = (float(low), float(high))
    except ValueError as exc:
        raise FaultsError(f"expected MIN:MAX numbers, got {text!r}") from exc
    return _range("range", bounds)
