"""Intake holds: counted per partition and everywhere; every change is announced."""

from __future__ import annotations

import pytest

from worker.consumer.holds import IntakeHolds


def test_holds_are_counted_and_released_and_listeners_hear_each_change() -> None:
    holds = IntakeHolds()
    changes: list[bool] = []
    holds.on_change(lambda: changes.append(holds.is_held("t", 0)))
    with holds.holding(("t", 0)):
        with holds.holding(("t", 0)):
            assert holds.is_held("t", 0)
            assert not holds.is_held("t", 1)
        assert holds.is_held("t", 0)
    assert not holds.is_held("t", 0)
    assert changes == [True, True, True, False]


def test_a_hold_on_every_partition_holds_all_and_is_released_on_error() -> None:
    holds = IntakeHolds()

    def fail_while_holding() -> None:
        with holds.holding(None):
            assert holds.is_held("t", 0)
            assert holds.is_held("u", 7)
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        fail_while_holding()
    assert not holds.is_held("t", 0)
