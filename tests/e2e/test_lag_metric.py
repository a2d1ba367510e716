"""`ecsp_consumer_lag` tells the truth across a rebalance: each partition's lag is exported by
exactly the member that owns it, and equals the broker's high-water mark minus the group's
committed offset even while every request of the partition is stuck behind a long job."""

from __future__ import annotations

from typing import Any

from tests.support.kafka import committed_offsets, end_offsets, wait_for
from tests.support.stack import in_process, keyed_examples, settings_from, stack
from worker.ops.metrics import Metrics


async def true_lag(bootstrap: str, topic: str, group: str) -> dict[int, int]:
    """End offset minus the group's committed offset (0 when none: a fresh topic starts at 0)."""
    ends = await end_offsets(bootstrap, topic)
    committed = await committed_offsets(bootstrap, group, topic)
    return {partition: end - committed.get(partition, 0) for partition, end in ends.items()}


def exported_lag(metrics: Metrics) -> dict[int, float]:
    return {
        int(sample.labels["partition"]): sample.value
        for family in metrics.registry.collect()
        if family.name == "ecsp_consumer_lag"
        for sample in family.samples
    }


def assigned(metrics: Metrics) -> float:
    return metrics.registry.get_sample_value("ecsp_partitions_assigned") or 0


async def test_lag_equals_high_water_minus_committed_after_a_member_joins_and_leaves(
    kafka_bootstrap: str,
) -> None:
    async with stack(
        kafka_bootstrap, partitions=4, job_seconds=(0.2, 0.4), in_process_worker=False
    ) as s:
        topic, group = s.settings.topic_requests, s.settings.group_id
        async with in_process(s.settings) as first:
            await s.publish(keyed_examples("done", 8))
            await s.outcomes(8)
            await s.sim("POST", "/_sim/faults", {"job_seconds": [600, 600]})  # stuck from now on
            async with in_process(settings_from(s.env)) as second:
                await wait_for(lambda: assigned(first) > 0 and assigned(second) > 0, 60)
                await s.publish(keyed_examples("stuck", 12))
                await s.progress(20, timeout=60)  # all 12 created and waiting for their job
                split: dict[str, Any] = {}

                async def each_member_exports_its_own_partitions_truly() -> bool:
                    truth = await true_lag(kafka_bootstrap, topic, group)
                    mine, theirs = exported_lag(first), exported_lag(second)
                    split.update(truth=truth, first=mine, second=theirs)
                    return not mine.keys() & theirs.keys() and {**mine, **theirs} == truth

                await wait_for(each_member_exports_its_own_partitions_truly, 60)
            # the second member left: the first owns everything and redoes its stuck requests
            await wait_for(lambda: assigned(first) == 4, 60)
            alone: dict[str, Any] = {}

            async def the_remaining_member_exports_the_true_lag() -> bool:
                truth = await true_lag(kafka_bootstrap, topic, group)
                alone.update(truth=truth, first=exported_lag(first))
                return exported_lag(first) == truth

            await wait_for(the_remaining_member_exports_the_true_lag, 60)

    assert sum(split["truth"].values()) == 12  # 12 stuck requests, the 8 done ones committed
    assert split["first"]
    assert split["second"]
    assert sorted(alone["first"]) == [0, 1, 2, 3]
    assert sum(alone["truth"].values()) == 12
