"""The `data` of the five CloudEvents the worker publishes.

Owns `EventType` (with a one-line doc per type), the shared value objects `KafkaOrigin`,
`ErrorInfo`, `SubJobInfo`, and one data model per event type. The stages and worker error codes
a `failed` event carries live in `ecsp_contract.failures`, the topics they go to in
`ecsp_contract.channels`.
Every data model carries `request_key`, `client_token`, `project_id`, `received_at` (UTC) and the
Kafka `origin` of the request, plus an optional redacted copy of the request (`request`).
The envelope lives in `ecsp_contract.cloudevent`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from ecsp_contract.failures import FailureStage, error_code_description


class EventType(StrEnum):
    """CloudEvents `type` of everything the worker publishes."""

    SUBMITTED = "ecs.provisioning.submitted"
    AWAITING_PAYMENT = "ecs.provisioning.awaiting_payment"
    SUCCEEDED = "ecs.provisioning.succeeded"
    VALIDATED = "ecs.provisioning.validated"
    FAILED = "ecs.provisioning.failed"


EVENT_TYPE_DOCS: dict[EventType, str] = {
    EventType.SUBMITTED: "The create call was accepted; the job is running.",
    EventType.AWAITING_PAYMENT: "A prePaid order was created and waits for payment.",
    EventType.SUCCEEDED: (
        "The job finished with SUCCESS, or (reconciled: true) the token window had passed and "
        "every requested server was found by its client-token tag; the servers exist."
    ),
    EventType.VALIDATED: "A dry_run request passed the API's check.",
    EventType.FAILED: "The request failed at the given stage.",
}
"""What each event type means (its topic is in `ecsp_contract.channels`)."""


def _as_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("must be timezone-aware")
    return value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_as_utc)]


class _EventModel(BaseModel):
    model_config = ConfigDict(frozen=True, json_schema_serialization_defaults_required=True)


class KafkaOrigin(_EventModel):
    """Where the request was read: topic, partition and offset."""

    topic: str
    partition: int
    offset: int


class ErrorInfo(_EventModel):
    """What went wrong, as reported by the API or detected by the worker."""

    code: str = Field(description=error_code_description())
    message: str
    http_status: int | None = None
    request_id: str | None = None
    details: list[dict[str, Any]] | None = Field(
        default=None,
        description="One entry per problem: {path, message} for ECSP.InvalidRequest; "
        "{rule, path, message} for ECSP.PolicyViolation (rule: the policy file's rule name, "
        "path: the JSON path in the request, e.g. server.flavorRef); the API's own details "
        "pass through.",
    )


class SubJobInfo(_EventModel):
    """One server's sub-job of the create job (`entities.sub_jobs[]`)."""

    job_id: str | None = None
    status: str
    server_id: str | None = None
    error_code: str | None = None
    fail_reason: str | None = None
    begin_time: str | None = None
    end_time: str | None = None


Tagging = Literal[
    "tagged", "no_room", "first_submitted_untagged", "first_submitted_before_request_tag"
]
"""Whether the worker's own server tags (deployment, client token and request: digest and
partial-failure choice) went into the create: tagged; no_room (the publisher's tags leave no
room within the API's limit): sent untagged, as before tagging existed;
first_submitted_untagged (the API had the token with the untagged body of an earlier release,
so that body was sent again); first_submitted_before_request_tag (likewise with the body of the
release before the request tag: deployment and token tags only)."""


class ServerInfo(_EventModel):
    """A server as the server list shows it (found by its client-token tag)."""

    server_id: str
    name: str | None = None
    status: str = Field(description="ACTIVE, BUILD, SHUTOFF, ERROR, ... as the API reports it.")


class ServerNotDeleted(_EventModel):
    """A server the compensation could not delete, and why."""

    server_id: str
    reason: str


class Compensation(_EventModel):
    """What the worker did with the servers a failed job had created (on-partial-failure)."""

    action: Literal["delete"]
    deleted: list[str] = Field(description="Servers deleted (or found already gone).")
    not_deleted: list[ServerNotDeleted] = Field(
        description="Servers still there: they run and are billed; delete them by hand."
    )


SkipReason = Literal["sold_out_recently", "policy"]
"""Why an alternative was not sent: the pod saw its offering sold out within
`ECSP_CAPACITY_CACHE_SECONDS` (sold_out_recently), or the guardrails policy forbids it (policy)."""


class PlacementAttempt(_EventModel):
    """One placement sent to the API, and the API's code for it (null: accepted and not failed)."""

    flavorRef: str
    availability_zone: str | None = Field(description="null: the body named no zone.")
    code: str | None = Field(
        description="The API's answer: a capacity code (Ecs.0319, Ecs.0044) when it was sold "
        "out at create time or in its job, another code when that ended the request, null when "
        "it was accepted and did not fail."
    )


class PlacementSkip(_EventModel):
    """An alternative that was not sent to the API, and why."""

    flavorRef: str
    availability_zone: str | None
    reason: SkipReason


class Placement(_EventModel):
    """Where the servers were asked for: the placement of the last attempt, every attempt in
    order and every alternative skipped (the body's own placement is the first alternative,
    the `ecs-fallbacks` header's follow)."""

    flavorRef: str = Field(
        description="Flavor of the last attempt (the servers', on success); the first "
        "alternative's when none was sent."
    )
    availability_zone: str | None = Field(description="Zone of the last attempt; null: none named.")
    attempts: list[PlacementAttempt] = Field(
        description="Alternatives sent to the API, in order, each with the API's code."
    )
    skipped: list[PlacementSkip] = Field(
        description="Alternatives passed over before the one that took the request (all of "
        "them, on failure): sold out recently (the pod's capacity memory) or forbidden by the "
        "policy."
    )


class EventData(_EventModel):
    """Fields every event's `data` carries."""

    request_key: str | None
    client_token: str | None = Field(description="The X-Client-Token derived from request_key.")
    project_id: str | None
    received_at: UtcDatetime = Field(description="When the worker read the request (UTC).")
    origin: KafkaOrigin
    request: dict[str, Any] | None = Field(
        default=None, description="A copy of the request with secret fields masked as ***."
    )
    tagging: Tagging | None = Field(
        default=None,
        description="Whether the create carried the worker's tags (null before a body was "
        "built); without them the servers cannot be found again after the token window.",
    )
    truncated: list[str] | None = Field(
        default=None,
        description="null unless parts of the event were cut to fit the events topic's size "
        "budget (ECSP_MAX_EVENT_BYTES); then what was cut, in order: `request`, "
        "`error.details: K of N kept`, `error.message`, `request_key`, `project_id`, "
        "`traceparent`, `sub_jobs`, `unencodable text` (replaced by `?`).",
    )


class SubmittedData(EventData):
    """`ecs.provisioning.submitted`: the create call was accepted."""

    model_config = ConfigDict(title=EventType.SUBMITTED.value)

    job_id: str | None
    order_id: str | None
    server_ids: list[str]


class AwaitingPaymentData(EventData):
    """`ecs.provisioning.awaiting_payment`: the prePaid order waits for payment."""

    model_config = ConfigDict(title=EventType.AWAITING_PAYMENT.value)

    job_id: str | None
    order_id: str | None
    server_ids: list[str]


class SucceededData(EventData):
    """`ecs.provisioning.succeeded`: the servers were created."""

    model_config = ConfigDict(title=EventType.SUCCEEDED.value)

    reconciled: bool = Field(
        default=False,
        description="true: the token window had passed and the servers were found by their "
        "client-token tag instead of being created (no create call; job_id unknown).",
    )
    servers: list[ServerInfo] = Field(
        default_factory=list, description="The servers found, with their states (reconciled)."
    )
    job_id: str | None
    order_id: str | None
    server_ids: list[str]
    sub_jobs: list[SubJobInfo]
    begin_time: str | None
    end_time: str | None
    attempts: int = Field(description="Number of create API calls made (retries included).")
    placement: Placement | None = Field(
        default=None,
        description="Where the servers were placed and which alternatives were tried or "
        "skipped first (null when no create was sent, e.g. reconciled).",
    )


class ValidatedData(EventData):
    """`ecs.provisioning.validated`: a dry_run request passed the API's check."""

    model_config = ConfigDict(title=EventType.VALIDATED.value)

    attempts: int = Field(description="Number of create API calls made (retries included).")


class FailedData(EventData):
    """`ecs.provisioning.failed`: the request failed; partial results are listed for clean-up."""

    model_config = ConfigDict(title=EventType.FAILED.value)

    stage: FailureStage
    error: ErrorInfo
    retryable: bool = Field(
        description="true when publishing the same request again later may succeed."
    )
    job_id: str | None = None
    order_id: str | None = None
    server_ids: list[str] = Field(default_factory=list)
    sub_jobs: list[SubJobInfo] = Field(default_factory=list)
    servers: list[ServerInfo] = Field(
        default_factory=list,
        description="token_expired: the servers found by the client-token tag (maybe none).",
    )
    compensation: Compensation | None = Field(
        default=None,
        description="With on-partial-failure delete: what was deleted of a failed job's servers.",
    )
    placement: Placement | None = Field(
        default=None,
        description="The placements tried (each with the API's code) and skipped, when the "
        "request got as far as choosing one.",
    )


EVENT_DATA_MODELS: dict[EventType, type[EventData]] = {
    EventType.SUBMITTED: SubmittedData,
    EventType.AWAITING_PAYMENT: AwaitingPaymentData,
    EventType.SUCCEEDED: SucceededData,
    EventType.VALIDATED: ValidatedData,
    EventType.FAILED: FailedData,
}
"""The data model of each event type."""
