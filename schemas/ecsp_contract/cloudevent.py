"""The CloudEvents 1.0 envelope (structured JSON mode) and its deterministic event id.

Owns `CloudEvent`, `build_event`, `event_id`, `dataschema_uri` and `CONTENT_TYPE`.

Event ids identify an outcome, so subscribers can deduplicate redeliveries by id and never drop
a different outcome: `uuid5(scope, "{event_type}#{fingerprint}")` where
- `scope` is the client token (`uuid5(namespace, request_key)`) when the request has a usable
  key, else `uuid5(NAMESPACE_URL, "kafka://{topic}/{partition}/{offset}")`, the consumed record;
- `fingerprint` is the SHA-256 (hex) of the canonical JSON (sorted keys, no spaces) of the
  outcome's stable fields: `project_id`, the digest of the request record's value
  (`request_digest`, SHA-256 hex of its bytes, or null), and those the data has of `stage`,
  `error.code`, `job_id`, `order_id` and the sorted `server_ids`, plus `reconciled` when true
  and, when there is one, the compensation's sorted deleted and not-deleted server ids (a
  failure whose servers were deleted is another outcome than the same failure keeping them).
  Volatile texts (messages, reasons, attempts, times, request ids) are left out.
A redelivered record reaching the same outcome gets the same id; a second, different outcome for
the same key (another stage or code, another body, another project, other servers) gets another.
The X-Client-Token itself is unchanged (`ecsp_contract.idempotency`).
"""

from __future__ import annotations

import functools
import hashlib
import json
import uuid
from datetime import UTC, datetime
from typing import Any, Literal

import pydantic_core
from pydantic import BaseModel, ConfigDict

from ecsp_contract.events import EVENT_DATA_MODELS, EventData, EventType
from ecsp_contract.idempotency import uuid5_text

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
    tracestate: str | None = None
    data: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """The structured-mode JSON object; `subject` and the distributed-tracing extension
        (`traceparent`, `tracestate`) are omitted when None."""
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
        if self.tracestate is not None:
            event["tracestate"] = self.tracestate
        event["data"] = self.data
        return event

    def to_bytes(self) -> bytes:
        """Compact UTF-8 JSON: the Kafka value (content type `CONTENT_TYPE`)."""
        return pydantic_core.to_json(self.to_dict(), inf_nan_mode="null")


def event_id(data: EventData, event_type: EventType, request_digest: str | None = None) -> str:
    """The event id of this outcome (see the module doc)."""
    if data.client_token is not None:
        scope = uuid.UUID(data.client_token).bytes
    else:
        origin = data.origin
        name = f"kafka://{origin.topic}/{origin.partition}/{origin.offset}"
        scope = uuid.uuid5(uuid.NAMESPACE_URL, name).bytes
    return uuid5_text(scope, f"{event_type.value}#{outcome_fingerprint(data, request_digest)}")


def outcome_fingerprint(data: EventData, request_digest: str | None = None) -> str:
    """SHA-256 (hex) of the outcome's stable fields (see the module doc)."""
    present = _field_names(type(data))

    def field(name: str) -> Any:  # a field this data model lacks counts as None
        return getattr(data, name) if name in present else None

    fields: dict[str, Any] = {"project_id": data.project_id, "request_digest": request_digest}
    for name in ("stage", "job_id", "order_id"):
        if name in present:
            fields[name] = getattr(data, name)
    error = field("error")
    if error is not None:
        fields["error_code"] = error.code
    server_ids = field("server_ids")
    if server_ids is not None:
        fields["server_ids"] = sorted(server_ids)
    if field("reconciled"):
        fields["reconciled"] = True
    compensation = field("compensation")
    if compensation is not None:
        fields["compensation"] = {
            "deleted": sorted(compensation.deleted),
            "not_deleted": sorted(n.server_id for n in compensation.not_deleted),
        }
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


@functools.cache
def _field_names(model: type[EventData]) -> tuple[str, ...]:
    """The fields of a data model in order, asked once per model: a missing attribute of a
    pydantic model is found only through a raised AttributeError, several microseconds each."""
    return tuple(model.model_fields)


def build_event(
    data: EventData,
    event_type: EventType,
    *,
    source: str,
    time: datetime | None = None,
    traceparent: str | None = None,
    tracestate: str | None = None,
    request_digest: str | None = None,
) -> CloudEvent:
    """Wrap `data` as the `event_type` CloudEvent; `subject` is the request key (omitted if none).

    `request_digest` (SHA-256 hex of the request record's value) enters the id's fingerprint.

    Raises TypeError when `data` is not the data model of `event_type`.
    """
    expected = EVENT_DATA_MODELS[event_type]
    if not isinstance(data, expected):
        raise TypeError(f"{event_type.value} needs {expected.__name__}, not {type(data).__name__}")
    return CloudEvent(
        id=event_id(data, event_type, request_digest),
        source=source,
        type=event_type,
        subject=data.request_key or None,
        time=time or datetime.now(UTC),
        dataschema=dataschema_uri(event_type.value),
        traceparent=traceparent,
        tracestate=tracestate if traceparent is not None else None,
        data=_dump(data),
    )


_REQUEST = {"request"}


def _dump(data: EventData) -> dict[str, Any]:
    """`data` as JSON values. The request copy, a tree of JSON values already, is put in as it
    is rather than walked by the serializer (it is most of an event); NaN and infinities in it
    become null when the event is written (`CloudEvent.to_bytes`, `ecsp_contract.event_size`)."""
    request = data.request
    if request is None:
        return data.model_dump(mode="json")
    dumped = data.model_dump(mode="json", exclude=_REQUEST)
    return {
        name: request if name == "request" else dumped[name] for name in _field_names(type(data))
    }


def _rfc3339(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("event time must be timezone-aware")
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
