"""An event as a Kafka record: its headers, its value's size budget, and the broker's refusals.

Shared by the two ways events leave the worker: `EventPublisher` (acknowledged one by one) and
the exactly-once delivery's transactions (`worker.consumer.transactional`).
"""

from __future__ import annotations

from aiokafka.errors import (
    CorruptRecordException,
    InvalidMessageError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    RecordTooLargeError,
)
from aiokafka.record.default_records import DefaultRecordBatchBuilder

from ecsp_contract.cloudevent import CONTENT_TYPE, CloudEvent

#: Errors that are about the record, not the destination: sending it again cannot succeed.
EVENT_REJECTED = (
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    RecordTooLargeError,
    CorruptRecordException,
    InvalidMessageError,
)
_CONTENT_TYPE_HEADER = ("content-type", CONTENT_TYPE.encode())
#: Room left for varint growth between the size estimate of an empty value and the real one.
_SIZE_SLACK = 16


def value_budget(max_event_bytes: int, key: bytes | None, headers: list[tuple[str, bytes]]) -> int:
    """How many bytes an event's value may have next to `key` and `headers` in a record of at
    most `max_event_bytes`."""
    overhead: int = DefaultRecordBatchBuilder.estimate_size_in_bytes(key, b"", headers)
    return max_event_bytes - overhead - _SIZE_SLACK


def event_headers(event: CloudEvent) -> list[tuple[str, bytes]]:
    """The record's headers: the content type and the event's W3C trace context (the same
    `traceparent`/`tracestate` as its CloudEvents distributed-tracing extension)."""
    headers = [_CONTENT_TYPE_HEADER]
    if event.traceparent is not None:
        headers.append(("traceparent", event.traceparent.encode()))
        if event.tracestate is not None:
            headers.append(("tracestate", event.tracestate.encode()))
    return headers
