"""The CloudEvents 1.0 envelope (structured JSON mode) and its deterministic event id.

Owns `CloudEvent`, `build_event`, `event_id`, `dataschema_uri` and `CONTENT_TYPE`.

Event ids are deterministic so subscribers can deduplicate redeliveries by id:
- with a client token: `uuid5(UUID(client_token), event_type)`; since the token is itself
  `uuid5(namespace, request_key)`, the same key reaching the same outcome gives the same id;
- without one (the request had no usable key): `uuid5(NAMESPACE_URL,
  "kafka://{topic}/{partition}/{offset}#{event_type}")`, unique per consumed message.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Literal

import pydantic_core
from pydantic import BaseModel, ConfigDict

from schemas.events import EVENT_DATA_MODELS, EventData, EventType, KafkaOrigin

CONTENT_TYPE = "application/cloudevents+json"
"""Kafka `content-type` header of every published event (structured mode)."""

DATA_CONTENT_TYPE = "application/json"
SCHEMA_VERSION = 1


def dataschema_uri(name: str) -> str:
    """`$id` of the exported JSON Schema of `name` (an event type or `ecs.provisioning.request`)."""
    return f"urn:ecs-provisioner:schemas:{name}:{SCHEMA_VERSION}"


class CloudEvent(BaseModel):
    """A CloudEvents 1.0 event with a JSON object as `data`."""

    model_config = ConfigDict(title="CloudEvent")

    specversion: Literal["1.0"] = "1.0"
    id: str
    source: str
    type: EventType
    subject: str | None = None
    time: datetime
    datacontenttype: Literal["application/json"] = "application/json"
    dataschema: str
    traceparent: str | None = None
    data: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """The structured-mode JSON object; `subject`/`traceparent` are omitted when None."""
        event: dict[str, Any] = {
            "specversion": self.specversion,
            "id": self.id,
            "source": self.source,
            "type": self.type.value,
        }
        if self.subject is not None:
            event["subject"] = self.subject
        event["time"] = _rfc3339(self.time)
        event["datacontenttype"] = self.datacontenttype
        event["dataschema"] = self.dataschema
        if self.traceparent is not None:
            event["traceparent"] = self.traceparent
        event["data"] = self.data
        return event

    def to_bytes(self) -> bytes:
        """Compact UTF-8 JSON: the Kafka value (content type `CONTENT_TYPE`)."""
        return pydantic_core.to_json(self.to_dict())


def event_id(client_token: str | None, event_type: EventType, origin: KafkaOrigin) -> str:
    """The deterministic event id (see the module doc)."""
    if client_token is not None:
        return str(uuid.uuid5(uuid.UUID(client_token), event_type.value))
    name = f"kafka://{origin.topic}/{origin.partition}/{origin.offset}#{event_type.value}"
    return str(uuid.uuid5(uuid.NAMESPACE_URL, name))


def build_event(
    data: EventData,
    event_type: EventType,
    *,
    source: str,
    time: datetime | None = None,
    traceparent: str | None = None,
) -> CloudEvent:
    """Wrap `data` as the `event_type` CloudEvent; `subject` is the request key (omitted if none).

    Raises TypeError when `data` is not the data model of `event_type`. The already-validated
    data is not validated again (this is on the hot path).
    """
    expected = EVENT_DATA_MODELS[event_type]
    if not isinstance(data, expected):
        raise TypeError(f"{event_type.value} needs {expected.__name__}, not {type(data).__name__}")
    return CloudEvent.model_construct(
        id=event_id(data.client_token, event_type, data.origin),
        source=source,
        type=event_type,
        subject=data.request_key or None,
        time=time or datetime.now(UTC),
        dataschema=dataschema_uri(event_type.value),
        traceparent=traceparent,
        data=data.model_dump(mode="json"),
    )


def _rfc3339(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("event time must be timezone-aware")
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
