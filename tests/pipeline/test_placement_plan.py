"""The placement plan: policy skips, sold-out skips, and the first tried once if all are cached."""

from __future__ import annotations

from collections.abc import Sequence

from ecsp_contract.idempotency import client_token
from ecsp_contract.placement import parse_fallbacks
from tests.support.bodies import server_body
from worker.pipeline.alternatives import Alternative, alternatives
from worker.pipeline.capacity_memory import CapacityMemory
from worker.pipeline.placement_plan import plan
from worker.policy.check import Violation, violations
from worker.policy.model import Patterns, Rules

WIRE = server_body(availability_zone="az1")
ALTS = alternatives(WIRE, client_token("k"), parse_fallbacks("@az2,c7@az3,gpu.p2@az1"))


def _names(found: Sequence[Alternative]) -> list[str]:
    return [f"{a.flavor_ref}@{a.availability_zone}" for a in found]


def test_nothing_known_everything_is_tried_in_the_publisher_s_order() -> None:
    result = plan(ALTS, CapacityMemory(), 0.0)
    assert _names(result.to_try) == ["s6.small.1@az1", "s6.small.1@az2", "c7@az3", "gpu.p2@az1"]
    assert result.skipped == ()


def test_offerings_sold_out_recently_are_skipped() -> None:
    memory = CapacityMemory()
    memory.mark_sold_out(ALTS[0].offering, 0.0)
    memory.mark_sold_out(ALTS[2].offering, 0.0)
    result = plan(ALTS, memory, 10.0)
    assert _names(result.to_try) == ["s6.small.1@az2", "gpu.p2@az1"]
    assert [(s.alternative.index, s.reason) for s in result.skipped] == [
        (0, "sold_out_recently"),
        (2, "sold_out_recently"),
    ]
    assert _names(plan(ALTS, memory, 181.0).to_try) == _names(ALTS)  # the memory expired


def test_if_every_alternative_is_cached_sold_out_the_first_is_tried_once() -> None:
    memory = CapacityMemory()
    for alternative in ALTS:
        memory.mark_sold_out(alternative.offering, 0.0)
    result = plan(ALTS, memory, 1.0)
    assert _names(result.to_try) == ["s6.small.1@az1"]
    assert [s.alternative.index for s in result.skipped] == [1, 2, 3]
    after_an_attempt = plan(ALTS[1:], memory, 1.0, attempted=True)
    assert after_an_attempt.to_try == ()
    assert [s.alternative.index for s in after_an_attempt.skipped] == [1, 2, 3]


def test_a_forbidden_alternative_is_skipped_and_never_tried_even_as_the_last_resort() -> None:
    rules = Rules(flavors=Patterns(deny=["gpu.*"]), availability_zones=Patterns(deny=["az2"]))

    def forbidden(alternative: Alternative) -> list[Violation]:
        return violations(rules, alternative.body_of(WIRE))

    memory = CapacityMemory()
    memory.mark_sold_out(ALTS[0].offering, 0.0)
    memory.mark_sold_out(ALTS[2].offering, 0.0)
    result = plan(ALTS, memory, 1.0, forbidden=forbidden)
    assert _names(result.to_try) == ["s6.small.1@az1"]  # cached, but the first allowed one
    skips = {s.alternative.index: s for s in result.skipped}
    assert sorted(skips) == [1, 2, 3]
    assert skips[1].reason == "policy"
    assert [v.rule for v in skips[1].violations] == ["availability_zones"]
    assert skips[2].reason == "sold_out_recently"
    assert skips[3].reason == "policy"
    assert [v.path for v in skips[3].violations] == ["server.flavorRef"]


def test_all_forbidden_leaves_nothing_to_try() -> None:
    def forbid_all(alternative: Alternative) -> list[Violation]:
        return [Violation("flavors", "server.flavorRef", "no")]

    result = plan(ALTS, CapacityMemory(), 0.0, forbidden=forbid_all)
    assert result.to_try == ()
    assert {s.reason for s in result.skipped} == {"policy"}
