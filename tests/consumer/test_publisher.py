"""Terminal events are retried until acknowledged; progress events give up after a bound.

The producer here is a stub that always fails (the real-broker behaviour is covered end to end);
what is under test is the publisher's retry policy.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka.errors import KafkaTimeoutError

from ecsp_contract.cloudevent import build_event
from ecsp_contract.events import EventType, KafkaOrigin, SubmittedData
from worker.consumer.publisher import EventPublisher
from worker.ops.metrics import Metrics

BUDGET = 1_048_576


class FailingProducer:
    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0

    async def send_and_wait(self, *args: Any, **kwargs: Any) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise KafkaTimeoutError()


def event() -> Any:
    data = SubmittedData(
        request_key="k",
        client_token="6e024162-9183-52c0-ba95-b90fee1b06a0",
        project_id="p",
        received_at=datetime.now(UTC),
        origin=KafkaOrigin(topic="t", partition=0, offset=1),
        job_id="j",
        order_id=None,
        server_ids=[],
    )
    return build_event(data, EventType.SUBMITTED, source="test")


async def test_terminal_events_are_retried_until_acknowledged() -> None:
    producer = FailingProducer(failures=3)
    metrics = Metrics()
    publisher = EventPublisher(producer, metrics, max_event_bytes=BUDGET, max_backoff=0.01)
    await publisher.publish("results", b"k", event())
    assert producer.calls == 4
    assert (
        metrics.registry.get_sample_value(
            "ecsp_events_published_total", {"type": "ecs.provisioning.submitted"}
        )
        == 1
    )


async def test_terminal_publish_never_gives_up_on_its_own() -> None:
    producer = FailingProducer(failures=10**9)
    publisher = EventPublisher(producer, Metrics(), max_event_bytes=BUDGET, max_backoff=0.01)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.5):
            await publisher.publish("results", b"k", event())
    assert producer.calls > 5


async def test_progress_events_are_dropped_after_the_bound() -> None:
    producer = FailingProducer(failures=10**9)
    publisher = EventPublisher(producer, Metrics(), max_event_bytes=BUDGET, max_backoff=0.01)
    async with asyncio.timeout(5):
        delivered = await publisher.publish_best_effort("progress", b"k", event(), within=0.3)
    assert delivered is False
    assert producer.calls > 1  # it did retry before giving up


async def test_a_copy_is_retried_within_its_bound_and_not_counted_as_another_event() -> None:
    producer = FailingProducer(failures=2)
    metrics = Metrics()
    publisher = EventPublisher(producer, metrics, max_event_bytes=BUDGET, max_backoff=0.01)
    async with asyncio.timeout(5):
        delivered = await publisher.publish_copy("state", b"k", event(), within=5.0)
    assert delivered is True
    assert producer.calls == 3
    published = metrics.registry.get_sample_value(
        "ecsp_events_published_total", {"type": "ecs.provisioning.submitted"}
    )
    assert published == 0


async def test_a_copy_is_dropped_after_its_bound() -> None:
    producer = FailingProducer(failures=10**9)
    publisher = EventPublisher(producer, Metrics(), max_event_bytes=BUDGET, max_backoff=0.01)
    async with asyncio.timeout(5):
        delivered = await publisher.publish_copy("state", b"k", event(), within=0.3)
    assert delivered is False
    assert producer.calls > 1
