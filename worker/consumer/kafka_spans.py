"""Spans of a request's trip through Kafka: the consumer span and one producer span per event.

`KafkaTracing` is the loop's `RequestTracing`: each request gets a CONSUMER span
(`process {topic}`) that continues the record's W3C `traceparent` (or starts a new trace) and
is current while the request is processed and answered, so the ECS client's HTTP spans and the
publishes are its children. `TracedEventSink` wraps the `EventSink`: each event is sent in a
PRODUCER span (`send {topic}`) whose context becomes the event's `traceparent`/`tracestate`
(CloudEvents distributed-tracing extension, and the record's headers), so a subscriber's span
continues the trace. Attributes follow the OpenTelemetry messaging semantic conventions for
Kafka, plus `ecs.*` ids and the outcome; they hold keys, ids, codes and stages only, never a
request body, a header value other than trace context, or a message text.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from opentelemetry import trace
from opentelemetry.propagators.textmap import Getter
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from ecsp_contract.cloudevent import CloudEvent
from ecsp_contract.events import EventType
from worker.consumer.keys import key_for_logs
from worker.consumer.ports import EventSink, RequestSpan
from worker.pipeline.port import InboundMessage

_W3C = TraceContextTextMapPropagator()


class _HeaderGetter(Getter[InboundMessage]):
    """Reads trace context from a request record's headers (case-insensitive)."""

    def get(self, carrier: InboundMessage, key: str) -> list[str] | None:
        value = carrier.header(key)
        return None if value is None else [value]

    def keys(self, carrier: InboundMessage) -> list[str]:
        return [name for name, _ in carrier.headers]


_GETTER = _HeaderGetter()


def _kafka(operation: str, topic: str) -> dict[str, str]:
    return {
        "messaging.system": "kafka",
        "messaging.operation.type": operation,
        "messaging.operation.name": operation,
        "messaging.destination.name": topic,
    }


class _RequestSpan:
    def __init__(self, span: trace.Span) -> None:
        self._span = span

    def answered(self, event: CloudEvent) -> None:
        data = event.data
        outcome = event.type.value.rsplit(".", 1)[-1]
        attributes: dict[str, str | list[str]] = {"ecs.outcome": outcome}
        if isinstance(job_id := data.get("job_id"), str):
            attributes["ecs.job_id"] = job_id
        server_ids = data.get("server_ids")
        if isinstance(server_ids, list) and server_ids:
            attributes["ecs.server_ids"] = [str(server_id) for server_id in server_ids]
        if isinstance(token := data.get("client_token"), str):
            attributes["ecs.client_token"] = token
        self._span.set_attributes(attributes)
        if event.type == EventType.FAILED:
            code = str((data.get("error") or {}).get("code"))
            self._span.set_attributes({"error.type": code, "ecs.stage": str(data.get("stage"))})
            self._span.set_status(Status(StatusCode.ERROR, code))


class KafkaTracing:
    """The consumer span of each request, with `tracer`; `group_id` is the consumer group."""

    def __init__(self, tracer: trace.Tracer, *, group_id: str) -> None:
        self._tracer = tracer
        self._group_id = group_id

    @contextlib.contextmanager
    def request(self, message: InboundMessage) -> Iterator[RequestSpan]:
        attributes: dict[str, str | int] = {
            **_kafka("process", message.topic),
            "messaging.consumer.group.name": self._group_id,
            "messaging.destination.partition.id": str(message.partition),
            "messaging.kafka.offset": message.offset,
            "messaging.message.body.size": len(message.value or b""),
        }
        if (key := key_for_logs(message.key)) is not None:
            attributes["messaging.kafka.message.key"] = key
        with self._tracer.start_as_current_span(
            f"process {message.topic}",
            context=_W3C.extract(message, getter=_GETTER),
            kind=SpanKind.CONSUMER,
            attributes=attributes,
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            try:
                yield _RequestSpan(span)
            except BaseException as exc:  # cancelled (revoked, shut down) or a bug: not answered
                span.set_attribute("ecs.outcome", "unanswered")
                span.set_attribute("error.type", type(exc).__name__)
                raise


class TracedEventSink:
    """An `EventSink` that sends each event in a producer span carrying its trace context."""

    def __init__(self, sink: EventSink, tracer: trace.Tracer) -> None:
        self._sink = sink
        self._tracer = tracer

    async def publish(self, topic: str, key: bytes | None, event: CloudEvent) -> None:
        with self._sending(topic, key, event) as (_, traced):
            await self._sink.publish(topic, key, traced)

    async def publish_best_effort(
        self, topic: str, key: bytes | None, event: CloudEvent, *, within: float
    ) -> bool:
        with self._sending(topic, key, event) as (span, traced):
            sent = await self._sink.publish_best_effort(topic, key, traced, within=within)
            if not sent:
                span.set_status(Status(StatusCode.ERROR, "dropped"))
            return sent

    @contextlib.contextmanager
    def _sending(
        self, topic: str, key: bytes | None, event: CloudEvent
    ) -> Iterator[tuple[trace.Span, CloudEvent]]:
        """The producer span of `event` (current) and the event carrying its trace context."""
        with self._tracer.start_as_current_span(
            f"send {topic}",
            kind=SpanKind.PRODUCER,
            attributes=_sent(topic, key, event),
            record_exception=False,
        ) as span:
            yield span, _with_current_trace(event)


def _sent(topic: str, key: bytes | None, event: CloudEvent) -> dict[str, str]:
    attributes = {
        **_kafka("send", topic),
        "messaging.message.id": event.id,
        "cloudevents.event_id": event.id,
        "cloudevents.event_type": event.type.value,
        "cloudevents.event_source": event.source,
    }
    if (text := key_for_logs(key)) is not None:
        attributes["messaging.kafka.message.key"] = text
    return attributes


def _with_current_trace(event: CloudEvent) -> CloudEvent:
    """`event` with the current span's W3C trace context as its distributed-tracing extension."""
    carrier: dict[str, str] = {}
    _W3C.inject(carrier)
    if "traceparent" not in carrier:  # no valid span context: keep what the event has
        return event
    return event.model_copy(
        update={"traceparent": carrier["traceparent"], "tracestate": carrier.get("tracestate")}
    )
