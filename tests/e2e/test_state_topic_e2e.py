"""The state topic end to end: each keyed request's latest event, written after its own topic,
and a state topic that refuses the copies loses no answer and holds up no commit; in both
delivery modes (under exactly_once the copies are in their events' transactions, and read as a
read_committed subscriber reads them)."""

from __future__ import annotations

import uuid

import pytest

from tests.support.kafka import (
    committed_offsets,
    consume,
    create_topics,
    delete_topics,
    read_committed,
    wait_for,
)
from tests.support.stack import example, stack


async def committed(bootstrap: str, group: str, topic: str, offset: int) -> bool:
    """Whether `group` committed `topic`'s partition 0 up to `offset`."""
    return (await committed_offsets(bootstrap, group, topic)).get(0) == offset


DELIVERIES = pytest.mark.parametrize("delivery", ["at_least_once", "exactly_once"])


@DELIVERIES
async def test_the_state_topic_holds_each_keyed_requests_progress_then_its_answer(
    kafka_bootstrap: str, delivery: str
) -> None:
    async with stack(kafka_bootstrap, ECSP_DELIVERY=delivery) as s:
        await s.publish(
            [("st-ok", example("01-prepaid-keypair.json")), ("st-bad", b"[]"), (None, b"[]")]
        )
        answers = {r.key: r.json() for r in await s.outcomes(3)}
        await wait_for(
            lambda: committed(s.bootstrap, s.settings.group_id, s.settings.topic_requests, 3)
        )
        # every copy is written before (or with) its request's offset commit: the topic is
        # complete, for a read_committed subscriber too
        state = await read_committed(kafka_bootstrap, s.settings.topic_state)
    # st-ok: submitted then succeeded; st-bad: failed; the keyless request: nothing
    assert len(state) == 3
    ok = [r.json() for r in state if r.key == b"st-ok"]
    assert [e["type"] for e in ok] == ["ecs.provisioning.submitted", "ecs.provisioning.succeeded"]
    assert ok[-1] == answers[b"st-ok"]  # the same event, byte for byte as parsed
    [bad] = [r.json() for r in state if r.key == b"st-bad"]
    assert bad == answers[b"st-bad"]
    assert all(r.key is not None for r in state)


@DELIVERIES
async def test_a_state_topic_refusing_every_copy_loses_no_answer_and_holds_no_commit(
    kafka_bootstrap: str, delivery: str
) -> None:
    """Under exactly_once a refused record spoils the partition's producer: the request is
    answered again twice (full copy, minimal copy refused), then the topic's copies pause."""
    refusing = f"test.e2e.tiny-state.{uuid.uuid4().hex[:10]}"
    await create_topics(kafka_bootstrap, [refusing], 1, {"max.message.bytes": "200"})
    try:
        async with stack(kafka_bootstrap, ECSP_TOPIC_STATE=refusing, ECSP_DELIVERY=delivery) as s:
            await s.publish([("refused-state", example("05-dry-run.json"))])
            (answer,) = await s.outcomes(1)
            await wait_for(
                lambda: committed(
                    kafka_bootstrap, s.settings.group_id, s.settings.topic_requests, 1
                )
            )
            assert s.metrics is not None
            dropped = s.metrics.registry.get_sample_value("ecsp_state_writes_dropped_total")
        state = await consume(kafka_bootstrap, [refusing], count=1, timeout=1)
    finally:
        await delete_topics(kafka_bootstrap, [refusing])
    assert answer.json()["type"] == "ecs.provisioning.validated"
    assert dropped == 1
    assert state == []
