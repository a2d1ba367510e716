"""Group membership as rollouts and restarts see it.

- At full scale (as many members as partitions) a surge member gets no partition; it must still
  be Ready, or a rollout with maxSurge 1 / maxUnavailable 0 waits for it forever.
- With static membership (ECSP_GROUP_INSTANCE_ID, the pod name in Kubernetes) a restarted member
  gets its partitions back and the others keep theirs without a rebalance; with dynamic
  membership the same restart revokes everybody's partitions.
"""

from __future__ import annotations

import asyncio
import contextlib

import aiohttp
import pytest

from tests.support.kafka import wait_for
from tests.support.ports import reserved_ports
from tests.support.stack import in_process, settings_from, stack
from worker.ops.metrics import Metrics


def assigned(metrics: Metrics) -> float:
    return metrics.registry.get_sample_value("ecsp_partitions_assigned") or 0


def rebalances(metrics: Metrics) -> float:
    return metrics.registry.get_sample_value("ecsp_rebalances_total") or 0


def owned(metrics: Metrics) -> set[int]:
    """The partitions a member reports lag for: exactly those it owns."""
    return {
        int(sample.labels["partition"])
        for family in metrics.registry.collect()
        if family.name == "ecsp_consumer_lag"
        for sample in family.samples
    }


async def ready(http: aiohttp.ClientSession, port: int) -> bool:
    try:
        async with http.get(f"http://127.0.0.1:{port}/readyz") as response:
            return response.status == 200
    except aiohttp.ClientConnectionError:
        return False


async def test_a_surge_member_at_full_scale_is_ready_without_partitions(
    kafka_bootstrap: str,
) -> None:
    with reserved_ports(3) as ports:
        async with (
            stack(kafka_bootstrap, partitions=2, in_process_worker=False) as s,
            contextlib.AsyncExitStack() as members,
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http,
        ):
            metrics = []
            for port in ports:  # two members own a partition each, then the surge pod joins
                settings = settings_from({**s.env, "ECSP_OPS_PORT": str(port)})
                metrics.append(await members.enter_async_context(in_process(settings)))
                await wait_for(lambda p=port: ready(http, p), 60)

            async def all_ready() -> bool:
                return all(await asyncio.gather(*(ready(http, p) for p in ports)))

            await wait_for(lambda: sum(assigned(m) for m in metrics) == 2, 60)
            await wait_for(all_ready, 30)
            spare = [m for m in metrics if assigned(m) == 0]
            still_ready = await all_ready()
    assert len(spare) == 1
    assert still_ready


@pytest.mark.parametrize("static", [True, False], ids=["static", "dynamic"])
async def test_restarting_a_member_moves_partitions_only_without_static_membership(
    kafka_bootstrap: str, static: bool
) -> None:
    async with stack(
        kafka_bootstrap,
        partitions=4,
        in_process_worker=False,
        ECSP_KAFKA_SESSION_TIMEOUT_SECONDS="30",
    ) as s:

        def member(name: str) -> contextlib.AbstractAsyncContextManager[Metrics]:
            instance = {"ECSP_GROUP_INSTANCE_ID": name} if static else {}
            return in_process(settings_from({**s.env, **instance}))

        async with member("pod-a") as a:
            await wait_for(lambda: owned(a) == {0, 1, 2, 3}, 60)
            async with member("pod-b") as b:
                await wait_for(lambda: len(owned(a)) == 2 and len(owned(b)) == 2, 60)
            kept_by_a, rebalances_before = owned(a), rebalances(a)
            async with member("pod-b") as b_again:  # the same pod, restarted
                # b gets partitions either at once (static) or through a rebalance, which
                # revokes a's partitions before b_again gets any: no waiting beyond this
                await wait_for(lambda: len(owned(b_again)) == 2, 60)
                after = (owned(a), rebalances(a))

    if static:
        assert after == (kept_by_a, rebalances_before)  # a never noticed the restart
    else:
        assert after[1] > rebalances_before  # the leave and the join each revoked a's partitions
