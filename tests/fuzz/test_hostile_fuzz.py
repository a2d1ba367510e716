"""Hostile records (tests/fuzz/hostile.py) through the decode path, the whole pipeline and the
publisher, without a broker: each record yields exactly one terminal event; a hostile shape fails
at `decode` or `validate` (never an InternalError, never retryable) unless it is a valid request;
the record actually sent fits the size budget; and the planted secret is in no event. (Log lines
are searched for it by the suite's leak check.)"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from aiokafka.record.default_records import DefaultRecordBatchBuilder
from hypothesis import HealthCheck, given, settings

from tests.fuzz.hostile import Record, hostile_records
from tests.fuzz.malformed import schema_accepts
from tests.support import secrets
from tests.support.accepting_api import PROJECT, TERMINAL, AcceptingApi, pipeline
from tests.support.examples import examples
from worker.consumer.publisher import EventPublisher
from worker.ops.metrics import Metrics
from worker.pipeline.port import InboundMessage, answer_key

BUDGET = 64 * 1024
HOSTILE = settings(
    max_examples=examples(150),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


class RecordingProducer:
    def __init__(self) -> None:
        self.sent: list[tuple[bytes | None, bytes, Any]] = []

    async def send_and_wait(self, topic: str, value: bytes, *, key: Any, headers: Any) -> None:
        self.sent.append((key, value, headers))


async def answer(record: Record) -> tuple[list[tuple[bytes | None, bytes, Any]], int]:
    """What the worker would send for `record` (through the real publisher), and API creates."""
    key, value, headers = record
    api = AcceptingApi()
    # Published now: the request deadline counts from the record's timestamp, and a valid record
    # must reach the API rather than fail `timeout` for being old.
    published_ms = int(time.time() * 1000)
    message = InboundMessage("requests", 0, 9, key, value, headers, published_ms)
    event = await pipeline(api).process(message, _ignore)
    producer = RecordingProducer()
    publisher = EventPublisher(producer, Metrics(), max_event_bytes=BUDGET)
    await publisher.publish("events", answer_key(key), event)
    return producer.sent, api.creates


async def _ignore(event: object) -> None:
    del event


@HOSTILE
@given(record=hostile_records)
def test_every_hostile_record_gets_one_bounded_terminal_event_without_secrets(
    record: Record,
) -> None:
    sent, creates = asyncio.run(answer(record))

    [(key, value, headers)] = sent
    assert DefaultRecordBatchBuilder.estimate_size_in_bytes(key, value, headers) <= BUDGET
    assert secrets.PLANTED.encode() not in value
    event = json.loads(value)
    assert event["type"] in TERMINAL
    data = event["data"]
    if event["type"] == "ecs.provisioning.failed":
        assert data["stage"] in ("decode", "validate"), data["error"]
        assert data["error"]["code"] != "ECSP.InternalError"
        assert data["retryable"] is False
        assert creates == 0
    else:
        _, raw, record_headers = record
        project = dict(record_headers).get("ecs-project-id", PROJECT.encode())
        assert schema_accepts(raw)
        assert project == PROJECT.encode()
        assert creates == 1
