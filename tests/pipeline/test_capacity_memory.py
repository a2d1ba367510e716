"""The capacity memory: TTL, re-marking, available vs sold out, bounded size, TTL 0."""

from __future__ import annotations

from worker.pipeline.alternatives import Offering
from worker.pipeline.capacity_memory import CapacityMemory

S2_AZ1 = Offering("s2.small.1", "az1", "postPaid")


def test_a_sold_out_offering_is_remembered_for_the_ttl_and_then_forgotten() -> None:
    memory = CapacityMemory(ttl_seconds=180)
    assert memory.status(S2_AZ1, 0.0) == "unknown"
    memory.mark_sold_out(S2_AZ1, 10.0)
    assert memory.sold_out(S2_AZ1, 10.0)
    assert memory.sold_out(S2_AZ1, 189.9)
    assert memory.status(S2_AZ1, 190.0) == "unknown"


def test_marking_again_extends_the_memory() -> None:
    memory = CapacityMemory(ttl_seconds=180)
    memory.mark_sold_out(S2_AZ1, 0.0)
    memory.mark_sold_out(S2_AZ1, 100.0)
    assert memory.sold_out(S2_AZ1, 250.0)
    assert not memory.sold_out(S2_AZ1, 280.0)


def test_the_key_is_flavor_zone_and_charging_mode() -> None:
    memory = CapacityMemory()
    memory.mark_sold_out(S2_AZ1, 0.0)
    for other in (
        Offering("s2.small.1", "az2", "postPaid"),
        Offering("s2.medium.1", "az1", "postPaid"),
        Offering("s2.small.1", "az1", "prePaid"),
        Offering("s2.small.1", "", "postPaid"),
    ):
        assert memory.status(other, 1.0) == "unknown"


def test_an_accepted_create_forgets_sold_out_and_a_sold_out_answer_forgets_available() -> None:
    memory = CapacityMemory()
    memory.mark_sold_out(S2_AZ1, 0.0)
    memory.mark_available(S2_AZ1, 1.0)
    assert memory.status(S2_AZ1, 2.0) == "available"
    memory.mark_sold_out(S2_AZ1, 3.0)
    assert memory.status(S2_AZ1, 4.0) == "sold_out"
    assert memory.status(S2_AZ1, 200.0) == "unknown"


def test_the_memory_is_bounded_the_oldest_mark_goes_first() -> None:
    memory = CapacityMemory(max_entries=3)
    offerings = [Offering(f"f{i}", "az1", "postPaid") for i in range(5)]
    for offering in offerings:
        memory.mark_sold_out(offering, 0.0)
    assert [memory.sold_out(o, 1.0) for o in offerings] == [False, False, True, True, True]
    memory.mark_sold_out(offerings[2], 2.0)  # re-marked: now the newest
    memory.mark_sold_out(Offering("f9", "az1", "postPaid"), 2.0)
    assert memory.sold_out(offerings[2], 3.0)
    assert not memory.sold_out(offerings[3], 3.0)
    for index in range(5):
        memory.mark_available(Offering(f"a{index}", "az1", "postPaid"), 4.0)
    assert memory.status(Offering("a0", "az1", "postPaid"), 5.0) == "unknown"
    assert memory.status(Offering("a4", "az1", "postPaid"), 5.0) == "available"


def test_a_ttl_of_zero_remembers_nothing() -> None:
    memory = CapacityMemory(ttl_seconds=0)
    memory.mark_sold_out(S2_AZ1, 0.0)
    memory.mark_available(S2_AZ1, 0.0)
    assert memory.status(S2_AZ1, 0.0) == "unknown"
