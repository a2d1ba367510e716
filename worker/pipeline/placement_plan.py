"""Which of a request's placements to try, in order, and which to skip: a pure decision.

Owns `plan` and its result: an alternative the guardrails policy forbids is skipped (reason
`policy`) and never tried; one the pod's capacity memory saw sold out is skipped (reason
`sold_out_recently`), unless every allowed alternative is, and nothing was tried yet: then the
first of them is tried once rather than failing on a memory that may be stale. The order is the
publisher's (the body's own placement first).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ecsp_contract.events import SkipReason
from worker.pipeline.alternatives import Alternative
from worker.pipeline.capacity_memory import CapacityMemory
from worker.policy.check import Violation

Forbidden = Callable[[Alternative], Sequence[Violation]]
"""The policy hook: the rules an alternative's wire body breaks (none: allowed)."""


def nothing_forbidden(alternative: Alternative) -> Sequence[Violation]:
    """The hook without a policy file."""
    del alternative
    return ()


@dataclass(frozen=True, slots=True)
class Skipped:
    """An alternative left out, why, and (policy) the rules it breaks."""

    alternative: Alternative
    reason: SkipReason
    violations: tuple[Violation, ...] = ()


@dataclass(frozen=True, slots=True)
class PlacementPlan:
    """The alternatives to try, in order, and the ones skipped, in order."""

    to_try: tuple[Alternative, ...]
    skipped: tuple[Skipped, ...]


def plan(
    alternatives: Sequence[Alternative],
    memory: CapacityMemory,
    now: float,
    *,
    forbidden: Forbidden = nothing_forbidden,
    attempted: bool = False,
) -> PlacementPlan:
    """The plan for `alternatives` at `now`; `attempted`: the request already sent one (then
    alternatives remembered sold out are skipped even if none is left)."""
    allowed: list[Alternative] = []
    skipped: list[Skipped] = []
    for alternative in alternatives:
        violations = tuple(forbidden(alternative))
        if violations:
            skipped.append(Skipped(alternative, "policy", violations))
        else:
            allowed.append(alternative)
    to_try = [a for a in allowed if not memory.sold_out(a.offering, now)]
    if not to_try and allowed and not attempted:
        to_try = allowed[:1]
    skipped += [Skipped(a, "sold_out_recently") for a in allowed if a not in to_try]
    skipped.sort(key=lambda s: s.alternative.index)
    return PlacementPlan(tuple(to_try), tuple(skipped))
