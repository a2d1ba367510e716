"""Publishing events and waiting for the broker's acknowledgement, within the size budget.

An event counts as published only when the broker acknowledged it (acks=all, idempotent producer).
Its record carries the W3C `traceparent`/`tracestate` headers of the event's distributed-tracing
extension, so a subscriber can continue the trace without parsing it. Every event is first fitted
into the size budget (`max_event_bytes`, the producer's max request size): its large parts are cut,
marked in `data.truncated` (`ecsp_contract.event_size`).

Errors about the event itself (too large for the broker, a record it refuses) are never retried
as they are: the minimal form is tried once, and if that is refused too (or cannot be built),
the event is logged and counted (`ecsp_events_unpublishable_total`) and the request moves on; a
request never holds its partition forever. Errors about the destination (timeouts, leaders,
authorisation, unknown topics) are retried with capped backoff until the send succeeds or the
caller is cancelled (revocation, shutdown): they affect every event alike, the request's offset
is not committed meanwhile, so nothing is lost, and a redelivery publishes an event with the
same id. Progress events are best effort: after a bounded time they are dropped (logged),
never blocking the request. A copy of an event for another topic (the state topic,
`worker.consumer.state`) is sent the same way but is not counted again in the event metrics.
"""

from __future__ import annotations

import asyncio
import time

import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from ecsp_contract.cloudevent import CloudEvent
from ecsp_contract.event_size import EventTooLarge, fit_event
from worker.consumer.event_records import EVENT_REJECTED, event_headers, value_budget
from worker.consumer.observer import DeliveryObserver

log = structlog.get_logger("worker.publisher")


class EventPublisher:
    """Sends CloudEvents (structured mode) keyed by request key, each within `max_event_bytes`."""

    def __init__(
        self,
        producer: AIOKafkaProducer,
        observer: DeliveryObserver,
        *,
        max_event_bytes: int,
        max_backoff: float = 5.0,
    ) -> None:
        self._producer = producer
        self._observer = observer
        self._max_event_bytes = max_event_bytes
        self._max_backoff = max_backoff

    async def publish(self, topic: str, key: bytes | None, event: CloudEvent) -> None:
        """Returns once the broker acknowledged the event, or it was found unpublishable
        (logged, counted); retries destination errors forever."""
        await self._send(topic, key, event, give_up_at=None)

    async def publish_best_effort(
        self, topic: str, key: bytes | None, event: CloudEvent, *, within: float
    ) -> bool:
        """Like `publish`, but gives up after `within` seconds (progress events: a missing
        or broken progress topic must not hold up the request's terminal outcome)."""
        return await self._send(topic, key, event, give_up_at=time.monotonic() + within)

    async def publish_copy(
        self, topic: str, key: bytes | None, event: CloudEvent, *, within: float
    ) -> bool:
        """Like `publish_best_effort`, for a copy of an event already published on its own topic:
        `ecsp_events_published_total` and `ecsp_events_unpublishable_total` count each event once,
        so the copy is not counted."""
        return await self._send(
            topic, key, event, give_up_at=time.monotonic() + within, counted=False
        )

    def value_budget(self, key: bytes | None, headers: list[tuple[str, bytes]]) -> int:
        """How many bytes an event's value may have next to `key` and `headers`."""
        return value_budget(self._max_event_bytes, key, headers)

    async def _send(
        self,
        topic: str,
        key: bytes | None,
        event: CloudEvent,
        *,
        give_up_at: float | None,
        counted: bool = True,
    ) -> bool:
        minimal = False
        backoff = 0.1
        headers = event_headers(event)
        while True:
            try:
                value = fit_event(event, self.value_budget(key, headers), minimal=minimal)
                await self._producer.send_and_wait(topic, value, key=key, headers=headers)
            except EVENT_REJECTED as exc:
                if minimal:
                    return self._unpublishable(topic, event, type(exc).__name__, counted)
                log.warning(
                    "event refused as it is; sending its minimal form",
                    topic=topic,
                    event_type=event.type,
                    error=type(exc).__name__,
                )
                minimal = True
                continue
            except EventTooLarge:
                return self._unpublishable(topic, event, "EventTooLarge", counted)
            except KafkaError as exc:
                if give_up_at is not None and time.monotonic() + backoff > give_up_at:
                    log.error(
                        "event dropped after retries",
                        topic=topic,
                        event_type=event.type,
                        error=type(exc).__name__,
                    )
                    return False
                log.warning(
                    "publish failed, retrying",
                    topic=topic,
                    event_type=event.type,
                    error=type(exc).__name__,
                    retry_in=backoff,
                )
                await asyncio.sleep(backoff)
                backoff = min(self._max_backoff, backoff * 2)
                continue
            if counted:
                self._observer.event_published(event.type)
            return True

    def _unpublishable(self, topic: str, event: CloudEvent, reason: str, counted: bool) -> bool:
        log.error(
            "event cannot be published, even in its minimal form; moving on",
            topic=topic,
            event_type=event.type,
            event_id=event.id,
            origin=event.data.get("origin"),
            error=reason,
        )
        if counted:
            self._observer.event_unpublishable(event.type)
        return False
