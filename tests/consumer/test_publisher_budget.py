"""Events stay within the size budget, and errors about the event itself are not retried blindly:
the minimal form is tried once, then the event is logged, counted and the request moves on."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka.errors import KafkaError, MessageSizeTooLargeError, RecordListTooLargeError
from aiokafka.record.default_records import DefaultRecordBatchBuilder

from ecsp_contract.cloudevent import CloudEvent, build_event
from ecsp_contract.events import ErrorInfo, EventType, FailedData, KafkaOrigin
from worker.consumer.publisher import EventPublisher
from worker.ops.metrics import Metrics

BUDGET = 64 * 1024


class Producer:
    """Refuses sends with `errors` in turn, then accepts; keeps what it was asked to send."""

    def __init__(self, *errors: KafkaError) -> None:
        self.errors = list(errors)
        self.sent: list[tuple[bytes | None, bytes, list[tuple[str, bytes]]]] = []

    async def send_and_wait(
        self, topic: str, value: bytes, *, key: bytes | None, headers: Any
    ) -> None:
        self.sent.append((key, value, headers))
        if self.errors:
            raise self.errors.pop(0)


def big_failed(details: int) -> CloudEvent:
    data = FailedData(
        request_key="k",
        client_token=None,
        project_id="p",
        received_at=datetime.now(UTC),
        origin=KafkaOrigin(topic="t", partition=0, offset=1),
        request={"server": {"blob": "x" * 100_000}},
        stage="validate",
        error=ErrorInfo(
            code="ECSP.InvalidRequest",
            message="m",
            details=[{"path": f"p{i}", "message": "unknown field"} for i in range(details)],
        ),
        retryable=False,
    )
    return build_event(data, EventType.FAILED, source="s")


def unpublishable(metrics: Metrics) -> float | None:
    return metrics.registry.get_sample_value(
        "ecsp_events_unpublishable_total", {"type": "ecs.provisioning.failed"}
    )


@pytest.mark.parametrize("key", [b"k", b"k" * 1024, None])
async def test_every_sent_record_fits_the_budget(key: bytes | None) -> None:
    producer = Producer()
    publisher = EventPublisher(producer, Metrics(), max_event_bytes=BUDGET)
    await publisher.publish("failures", key, big_failed(details=20_000))
    [(sent_key, value, headers)] = producer.sent
    assert DefaultRecordBatchBuilder.estimate_size_in_bytes(sent_key, value, headers) <= BUDGET
    assert json.loads(value)["data"]["truncated"][0] == "request"


async def test_a_broker_refusing_the_size_gets_the_minimal_form_once() -> None:
    producer = Producer(MessageSizeTooLargeError())
    metrics = Metrics()
    publisher = EventPublisher(producer, metrics, max_event_bytes=BUDGET)
    await publisher.publish("failures", b"k", big_failed(details=100))
    assert len(producer.sent) == 2
    minimal = json.loads(producer.sent[1][1])
    assert minimal["data"]["truncated"] == ["request", "error.details: 0 of 100 kept"]
    assert unpublishable(metrics) is None


async def test_an_event_refused_even_minimal_is_counted_and_the_publish_returns() -> None:
    producer = Producer(MessageSizeTooLargeError(), RecordListTooLargeError())
    metrics = Metrics()
    publisher = EventPublisher(producer, metrics, max_event_bytes=BUDGET)
    async with asyncio.timeout(5):
        await publisher.publish("failures", b"k", big_failed(details=10))
    assert len(producer.sent) == 2  # never retried blindly
    assert unpublishable(metrics) == 1


async def test_an_impossible_budget_is_counted_without_sending() -> None:
    producer = Producer()
    metrics = Metrics()
    publisher = EventPublisher(producer, metrics, max_event_bytes=300)
    await publisher.publish("failures", b"k", big_failed(details=1))
    assert producer.sent == []
    assert unpublishable(metrics) == 1


async def test_a_copy_refused_even_minimal_is_not_counted_again() -> None:
    producer = Producer(MessageSizeTooLargeError(), RecordListTooLargeError())
    metrics = Metrics()
    publisher = EventPublisher(producer, metrics, max_event_bytes=BUDGET)
    async with asyncio.timeout(5):
        delivered = await publisher.publish_copy("state", b"k", big_failed(details=10), within=5)
    assert delivered is False
    assert len(producer.sent) == 2  # the minimal form once, as for the event itself
    assert unpublishable(metrics) is None
