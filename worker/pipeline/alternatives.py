"""The placements a request may be created in: the body's own first, then the header's.

Owns `Offering` (flavor x zone x charging mode: what the API sells out, the capacity memory's
key), `Alternative` (one placement, its token, its body), `alternatives` (the header's fallbacks
resolved against the body, repeats dropped), `placement_token` and `fallbacks_of` (the header,
or a `validate` failure).

Alternative 0 is the body exactly as published, with the request's own token: a request without
the header, and the first try of one with it, send today's bytes with today's token (golden files
pin both). Alternative i >= 1 is the body with `flavorRef` and/or `availability_zone` replaced
(an existing field keeps its place; a zone the body lacked is appended), and a token derived from
the request's token and the placement itself, `uuid5(token, "ecs-provisioner:placement:" +
FLAVOR@ZONE)`: the same on every redelivery (a crash mid-fallback resumes with the same token and
gets the first answer back, never a second create), the same whichever position the alternative
had in the header, and never the request's own token.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from ecsp_contract.failures import FailureStage, WorkerErrorCode
from ecsp_contract.idempotency import uuid5_text
from ecsp_contract.placement import FALLBACKS_HEADER, Fallback, InvalidFallbacks, parse_fallbacks
from worker.pipeline.failure import StageFailure

_TOKEN_NAME = "ecs-provisioner:placement:"  # noqa: S105 - a uuid5 name prefix


@dataclass(frozen=True, slots=True)
class Offering:
    """What the API sells out: a flavor in a zone ("" when none was named) for a charging mode
    (postPaid, prePaid or spot)."""

    flavor_ref: str
    availability_zone: str
    charging_mode: str


@dataclass(frozen=True, slots=True)
class Alternative:
    """One placement of a request: index 0 is the body's own."""

    index: int
    flavor_ref: str
    availability_zone: str | None
    token: str
    offering: Offering

    def body_of(self, body: dict[str, Any]) -> dict[str, Any]:
        """`body` (the wire body, or the one with the resolved password) in this placement;
        alternative 0 returns `body` itself, untouched."""
        if self.index == 0:
            return body
        server = {**body["server"], "flavorRef": self.flavor_ref}
        if self.availability_zone is not None:
            server["availability_zone"] = self.availability_zone
        return {**body, "server": server}


def placement_token(token: str, flavor_ref: str, availability_zone: str | None) -> str:
    """The X-Client-Token of an alternative placement: lowercase 8-4-4-4-12, derived from the
    request's token and the placement."""
    name = f"{_TOKEN_NAME}{flavor_ref}@{availability_zone or ''}"
    return uuid5_text(uuid.UUID(token).bytes, name)


def charging_mode(wire: dict[str, Any]) -> str:
    """spot, prePaid or postPaid (the default) of a wire body."""
    extend = wire["server"].get("extendparam") or {}
    if extend.get("marketType") == "spot":
        return "spot"
    return "prePaid" if extend.get("chargingMode") == "prePaid" else "postPaid"


def offering_of(wire: dict[str, Any]) -> Offering:
    """The offering a (wire) body asks for."""
    server = wire["server"]
    return Offering(server["flavorRef"], server.get("availability_zone") or "", charging_mode(wire))


def alternatives(
    wire: dict[str, Any], token: str, fallbacks: tuple[Fallback, ...]
) -> tuple[Alternative, ...]:
    """The body's own placement, then each fallback resolved against the body (a missing flavor
    or zone is the body's), in order; a placement named twice is kept once, at its first place."""
    server = wire["server"]
    flavor, zone, mode = server["flavorRef"], server.get("availability_zone"), charging_mode(wire)
    found = [Alternative(0, flavor, zone, token, Offering(flavor, zone or "", mode))]
    seen = {(flavor, zone)}
    for fallback in fallbacks:
        placement = (
            fallback.flavor_ref or flavor,
            zone if fallback.availability_zone is None else fallback.availability_zone,
        )
        if placement in seen:
            continue
        seen.add(placement)
        alt_flavor, alt_zone = placement
        found.append(
            Alternative(
                index=len(found),
                flavor_ref=alt_flavor,
                availability_zone=alt_zone,
                token=placement_token(token, alt_flavor, alt_zone),
                offering=Offering(alt_flavor, alt_zone or "", mode),
            )
        )
    return tuple(found)


def fallbacks_of(header: str | None) -> tuple[Fallback, ...]:
    """The header's alternatives; a `validate` StageFailure (ECSP.InvalidRequest) if invalid."""
    try:
        return parse_fallbacks(header)
    except InvalidFallbacks as exc:
        raise StageFailure(
            stage=FailureStage.VALIDATE,
            code=WorkerErrorCode.INVALID_REQUEST,
            message=f"header {FALLBACKS_HEADER}: {exc}",
            details=[{"path": f"headers.{FALLBACKS_HEADER}", "message": str(exc)}],
        ) from None
