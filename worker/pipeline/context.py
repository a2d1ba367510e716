"""What every event of one request says, and until when it may run: `RequestContext`.

An immutable value that grows as the request moves through the steps: the answer step starts it
(identity, tenant, origin, deadline, where progress goes), the validate step adds the redacted
request copy, the place step the placement being tried, the submit step the tagging and the
token-window cap of the deadline. Events are built from it alone (`worker.pipeline.events`); a step
that learns something events must say returns a new context with it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from ecsp_contract.cloudevent import CloudEvent
from ecsp_contract.events import KafkaOrigin, Placement, Tagging
from worker.pipeline.deadline import RequestDeadline
from worker.pipeline.identity import Identity
from worker.pipeline.port import InboundMessage, Outcome, ProgressSink, answer_key
from worker.pipeline.tenant import Tenant


@dataclass(frozen=True, slots=True)
class EventSettings:
    """How this worker's events are made: their source and the fields redacted in copies."""

    source: str
    redact_fields: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RequestContext:
    """The shared fields of a request's events, its deadline and its progress sink."""

    settings: EventSettings
    identity: Identity
    tenant: Tenant  # whose request it is: from the topic it came from
    received_at: datetime
    origin: KafkaOrigin
    request_digest: str | None  # SHA-256 of the record's value: part of every event id
    deadline: RequestDeadline
    progress: ProgressSink | None  # None: progress events are off (not even built)
    reply_key: bytes | None  # the Kafka key of the events (the record's, cut to the limit)
    request_copy: bytes | None = None  # the redacted request as compact JSON
    tagging: Tagging | None = None
    placement: Placement | None = None  # with `ecs-fallbacks`: where, if the attempt succeeds

    @classmethod
    def starting(
        cls,
        settings: EventSettings,
        identity: Identity,
        tenant: Tenant,
        message: InboundMessage,
        *,
        deadline_seconds: float,
        progress: ProgressSink | None,
    ) -> RequestContext:
        received_at = message.received_at
        return cls(
            settings=settings,
            identity=identity,
            tenant=tenant,
            received_at=received_at,
            origin=message.origin,
            request_digest=None
            if message.value is None
            else hashlib.sha256(message.value).hexdigest(),
            deadline=RequestDeadline.starting(received_at, deadline_seconds),
            progress=progress,
            reply_key=answer_key(message.key),
        )

    def outcome(self, event: CloudEvent, *, created: bool = False) -> Outcome:
        """The request's end with `event` (`created`: it created servers)."""
        return Outcome(event, self.reply_key, created)
