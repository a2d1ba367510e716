"""The committable offset never passes an unfinished request, whatever the completion order."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from worker.consumer.offsets import PartitionOffsets


def test_nothing_read_means_nothing_to_commit() -> None:
    assert PartitionOffsets().committable() is None


def test_commit_stops_at_the_lowest_unfinished_offset() -> None:
    offsets = PartitionOffsets()
    for offset in (10, 11, 12, 13):
        offsets.started(offset)
    offsets.finished(11)
    offsets.finished(13)
    assert offsets.committable() == 10
    offsets.finished(10)
    assert offsets.committable() == 12
    offsets.finished(12)
    assert offsets.committable() == 14


def test_offsets_an_earlier_commit_named_answered_are_skipped_and_count_as_finished() -> None:
    offsets = PartitionOffsets()
    offsets.load(10, {12, 14})
    assert offsets.skip(9)  # below the committed offset (a stale position: exactly-once)
    assert not offsets.skip(10)
    offsets.started(10)
    assert not offsets.skip(11)
    offsets.started(11)
    assert offsets.skip(12)
    assert offsets.committable() == 10
    assert offsets.answered_above(10) == {12, 14}  # 14 not read again yet: still carried
    offsets.finished(10)
    assert offsets.committable() == 11
    assert offsets.answered_above(11) == {12, 14}
    assert not offsets.skip(12)  # skipped once: a second read of it is a new record's
    offsets.finished(11)
    assert offsets.committable() == 13
    assert offsets.answered_above(13) == {14}


def test_nothing_loaded_skips_nothing() -> None:
    offsets = PartitionOffsets()
    offsets.load(None, ())
    assert not offsets.skip(0)


@given(st.integers(min_value=1, max_value=200), st.randoms(use_true_random=False))
def test_random_completion_order_never_skips_unfinished(count: int, rnd: random.Random) -> None:
    offsets = PartitionOffsets()
    for offset in range(100, 100 + count):
        offsets.started(offset)
    order = list(range(100, 100 + count))
    rnd.shuffle(order)
    done: set[int] = set()
    for offset in order:
        offsets.finished(offset)
        done.add(offset)
        committable = offsets.committable()
        assert committable is not None
        # every offset below the committable one is finished, and the committable one is not
        assert all(o in done for o in range(100, committable))
        assert committable == 100 + count or committable not in done
    assert offsets.committable() == 100 + count
    assert offsets.unfinished == 0


def test_committed_is_none_until_the_first_commit_then_the_offset_committed() -> None:
    offsets = PartitionOffsets()
    assert offsets.committed is None  # the lag report then asks the broker instead
    offsets.started(5)
    offsets.finished(5)
    offsets.mark_committed(6)
    assert offsets.committed == 6
