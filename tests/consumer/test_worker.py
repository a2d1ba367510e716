"""The consume loop against the in-memory broker: what it wires around the pipeline."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from tests.consumer.machine import BASE_SETTINGS, ScriptedPipeline
from tests.support.memory_broker import MemoryBroker
from worker.assembly import worker_config
from worker.consumer.runner import Worker
from worker.ops.metrics import Metrics
from worker.tenancy.model import TenantsDocument


async def turns_until(condition: Callable[[], object], turns: int = 100) -> None:
    for _ in range(turns):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("the condition never held")


@pytest.mark.parametrize(
    ("topic_progress", "topics"),
    [
        ("progress", ["progress", "ecs.provisioning.results"]),
        ("", ["ecs.provisioning.results"]),  # progress off: the pipeline gets no sink
    ],
)
async def test_progress_events_go_to_the_progress_topic_only_when_it_is_set(
    topic_progress: str, topics: list[str]
) -> None:
    broker = MemoryBroker("requests", 1)
    consumer, publisher = broker.join()
    pipeline = ScriptedPipeline()
    settings = BASE_SETTINGS.model_copy(update={"topic_progress": topic_progress})
    worker = Worker(
        worker_config(settings, TenantsDocument()), consumer, publisher, pipeline, Metrics()
    )
    stop = asyncio.Event()
    run = asyncio.create_task(worker.run(stop))
    await turns_until(lambda: consumer.listener is not None)
    await broker.rebalance({consumer: broker.partitions})
    broker.produce(0, b"key-1", b"{}")

    await turns_until(pipeline.running)
    pipeline.running()[0].set_result(None)
    await turns_until(broker.pending)
    broker.ack(broker.pending()[0])
    await turns_until(lambda: worker.assignment and not broker.unanswered())
    stop.set()
    await run

    assert [topic for topic, _, _ in broker.published] == topics
    assert broker.committed == {broker.partitions[0]: 1}
