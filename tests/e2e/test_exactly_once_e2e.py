"""`ECSP_DELIVERY=exactly_once` end to end: real broker, simulator, the worker in-process. A
read_committed subscriber sees one terminal event per request and the progress events, the
group's offsets reach the end with the transactions, and the transaction metrics count them."""

from __future__ import annotations

from collections import Counter

from tests.support.kafka import committed_offsets, end_offsets, read_committed, wait_for
from tests.support.stack import TenantSetup, example, keyed_examples, stack


async def test_every_request_is_answered_once_in_committed_transactions(
    kafka_bootstrap: str,
) -> None:
    async with stack(kafka_bootstrap, partitions=3, ECSP_DELIVERY="exactly_once") as s:
        await s.publish(keyed_examples("eos", 12))
        await s.outcomes(12)
        topics = s.settings
        ends = await end_offsets(kafka_bootstrap, topics.topic_requests)

        async def all_committed() -> bool:
            committed = await committed_offsets(
                kafka_bootstrap, topics.group_id, topics.topic_requests
            )
            return committed == ends

        await wait_for(all_committed, timeout=30)
        results = await read_committed(kafka_bootstrap, topics.topic_results)
        progress = await read_committed(kafka_bootstrap, topics.topic_progress)
        assert s.metrics is not None
        committed = s.metrics.registry.get_sample_value(
            "ecsp_transactions_total", {"outcome": "committed"}
        )

    subjects = Counter(r.json()["subject"] for r in results)
    assert subjects == Counter(f"eos-{i}" for i in range(12))
    assert {r.json()["type"] for r in results} == {"ecs.provisioning.succeeded"}
    assert Counter(r.json()["subject"] for r in progress) == subjects  # one `submitted` each
    assert (committed or 0) >= 3  # a transaction per partition at least


async def test_a_tenants_events_and_state_commit_on_its_own_topics(kafka_bootstrap: str) -> None:
    """With tenants, a record of a tenant's request topic is answered on that tenant's topics
    and its state copy lands on that tenant's state topic, in the record's partition's
    transaction: a read_committed reader of each topic sees exactly its own, once."""
    tenants = {"team-a": TenantSetup("a1" + "0" * 30)}
    async with stack(kafka_bootstrap, tenants=tenants, ECSP_DELIVERY="exactly_once") as s:
        await s.publish([("shared-1", example("05-dry-run.json"))])
        await s.publish([("a-1", example("05-dry-run.json"))], tenant="team-a")
        await s.outcomes(1)
        await s.outcomes(1, tenant="team-a")
        seen = {
            (tenant, role): [
                r.key for r in await read_committed(s.bootstrap, s.topic(role, tenant))
            ]
            for tenant in (None, "team-a")
            for role in ("results", "state")
        }
    assert seen == {
        (None, "results"): [b"shared-1"],
        (None, "state"): [b"shared-1"],
        ("team-a", "results"): [b"a-1"],
        ("team-a", "state"): [b"a-1"],
    }
