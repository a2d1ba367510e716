"""Publishing events and waiting for the broker's acknowledgement.

An event counts as published only when the broker acknowledged it (acks=all, idempotent
producer). A failed send of a terminal event is retried with capped backoff until it succeeds
or the caller is cancelled (revocation, shutdown): the request's offset is not committed
meanwhile, so nothing is lost, and a redelivery publishes an event with the same id. Progress
events are best effort: after a bounded time they are dropped (logged), never blocking the
request.
"""

from __future__ import annotations

import asyncio
import time

import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from schemas.cloudevent import CONTENT_TYPE, CloudEvent
from worker.ops.metrics import Metrics

log = structlog.get_logger("worker.publisher")


class EventPublisher:
    """Sends CloudEvents (structured mode) keyed by request key."""

    def __init__(
        self, producer: AIOKafkaProducer, metrics: Metrics, *, max_backoff: float = 5.0
    ) -> None:
        self._producer = producer
        self._metrics = metrics
        self._max_backoff = max_backoff

    async def publish(self, topic: str, key: bytes | None, event: CloudEvent) -> None:
        """Returns once the broker acknowledged the event; retries on Kafka errors forever."""
        await self._send(topic, key, event, give_up_at=None)

    async def publish_best_effort(
        self, topic: str, key: bytes | None, event: CloudEvent, *, within: float
    ) -> bool:
        """Like `publish`, but gives up after `within` seconds (progress events: a missing
        or broken progress topic must not hold up the request's terminal outcome)."""
        return await self._send(topic, key, event, give_up_at=time.monotonic() + within)

    async def _send(
        self, topic: str, key: bytes | None, event: CloudEvent, *, give_up_at: float | None
    ) -> bool:
        value = event.to_bytes()
        headers = [("content-type", CONTENT_TYPE.encode())]
        backoff = 0.1
        while True:
            try:
                await self._producer.send_and_wait(topic, value, key=key, headers=headers)
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
            self._metrics.events_published.labels(event.type).inc()
            return True
