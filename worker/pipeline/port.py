"""The consumer's one way into the pipeline: an inbound message in, an outcome out.

Owns what the two sides share and nothing more: `InboundMessage` (a fetched record, nothing
Kafka-specific), `Outcome` (the terminal event and the key to answer with), `ProgressSink` (where
progress events go while the request runs), the `RequestHandler` protocol (the composed
pipeline, `worker.pipeline.compose`), the `Intake` protocol (how a waiting request asks the
consumer to stop fetching a partition, or all of them) and `minimal_failed_event`, the answer
either side can still build when everything else failed: it echoes nothing of the record.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from ecsp_contract.cloudevent import CloudEvent, build_event
from ecsp_contract.events import ErrorInfo, EventType, FailedData, KafkaOrigin
from ecsp_contract.failures import FailureStage, WorkerErrorCode
from ecsp_contract.limits import MAX_KEY_BYTES

ProgressSink = Callable[[CloudEvent], Awaitable[None]]
PartitionKey = tuple[str, int]


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """A request record as fetched: raw key and value, headers, and where it came from.

    A message is processed once: the pipeline releases its value once the request is submitted
    (`release_value`); a redelivered record arrives as a new message."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()
    timestamp_ms: int | None = None

    def release_value(self) -> None:
        """Drops the raw value: once a request is submitted its job may be followed for hours,
        and nothing needs the record's bytes for that (~1 KB each for the reference's example).
        The one change a message allows; messages are not hashed or compared after it."""
        object.__setattr__(self, "value", None)

    @property
    def origin(self) -> KafkaOrigin:
        return KafkaOrigin(topic=self.topic, partition=self.partition, offset=self.offset)

    @property
    def received_at(self) -> datetime:
        """The broker's timestamp of the record (stable across redeliveries), else now.

        A producer may set any timestamp; one a datetime cannot hold (before 1970, after 9999)
        counts as missing.
        """
        if self.timestamp_ms is None or self.timestamp_ms < 0:
            return datetime.now(UTC)
        try:
            return datetime.fromtimestamp(self.timestamp_ms / 1000, UTC)
        except (OverflowError, OSError, ValueError):
            return datetime.now(UTC)

    def age_seconds(self) -> float | None:
        """How long ago the broker stamped the record; None without a timestamp."""
        if self.timestamp_ms is None or self.timestamp_ms < 0:
            return None
        return time.time() - self.timestamp_ms / 1000

    def header(self, name: str) -> str | None:
        """The last value of a header as text (case-insensitive name), or None."""
        wanted = name.lower()
        found: str | None = None
        for key, value in self.headers:
            if key.lower() == wanted and value is not None:
                found = value.decode("utf-8", errors="replace").strip()
        return found


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a request ended: its terminal event, the Kafka key to publish it with, and whether
    it created servers (a dry run, servers found by tag or a failure created none)."""

    event: CloudEvent
    key: bytes | None
    created: bool = False


class RequestHandler(Protocol):
    """One request's life. Never raises for a message (only `CancelledError`)."""

    async def __call__(self, message: InboundMessage, progress: ProgressSink | None) -> Outcome: ...


class Intake(Protocol):
    """Where a request that must wait holds the intake of its partition (None: every one)."""

    def holding(self, partition: PartitionKey | None = None) -> AbstractContextManager[None]: ...


def answer_key(raw: bytes | None) -> bytes | None:
    """The Kafka key of the events answering a record: its key, cut to MAX_KEY_BYTES."""
    return None if raw is None else raw[:MAX_KEY_BYTES]


def minimal_failed_event(
    message: InboundMessage, source: str, *, stage: FailureStage, exception: BaseException
) -> CloudEvent:
    """The last-resort `failed` event (`ECSP.InternalError` at `stage`): built from the record's
    origin alone, echoing nothing of its key, headers or value, so it cannot fail the way a full
    event did. It names the exception's type only (its text may echo the input)."""
    data = FailedData(
        request_key=None,
        client_token=None,
        project_id=None,
        received_at=datetime.now(UTC),
        origin=message.origin,
        stage=stage,
        error=ErrorInfo(
            code=WorkerErrorCode.INTERNAL_ERROR,
            message=f"unexpected {type(exception).__name__} in the worker; see its logs",
        ),
        retryable=True,
    )
    return build_event(data, EventType.FAILED, source=source)
