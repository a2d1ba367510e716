"""The `data` of the five CloudEvents the worker publishes, and the codes/stages they carry.

Owns `EventType`, `FailureStage`, `WorkerErrorCode` (with a one-line doc per code), the shared
value objects `KafkaOrigin`, `ErrorInfo`, `SubJobInfo`, and one data model per event type.
Every data model carries `request_key`, `client_token`, `project_id`, `received_at` (UTC) and the
Kafka `origin` of the request, plus an optional redacted copy of the request (`request`).
The envelope lives in `schemas.cloudevent`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from schemas.limits import MAX_HEADER_BYTES, MAX_INT_DIGITS, MAX_JSON_DEPTH, MAX_KEY_BYTES


class EventType(StrEnum):
    """CloudEvents `type` of everything the worker publishes."""

    SUBMITTED = "ecs.provisioning.submitted"
    AWAITING_PAYMENT = "ecs.provisioning.awaiting_payment"
    SUCCEEDED = "ecs.provisioning.succeeded"
    VALIDATED = "ecs.provisioning.validated"
    FAILED = "ecs.provisioning.failed"


EVENT_TYPE_DOCS: dict[EventType, str] = {
    EventType.SUBMITTED: "The create call was accepted; the job is running (progress topic).",
    EventType.AWAITING_PAYMENT: (
        "A prePaid order was created and waits for payment (progress topic)."
    ),
    EventType.SUCCEEDED: "The job finished with SUCCESS; the servers exist (results topic).",
    EventType.VALIDATED: "A dry_run request passed the API's check (results topic).",
    EventType.FAILED: "The request failed at the given stage (failures topic).",
}

FailureStage = Literal[
    "decode", "validate", "submit", "job", "timeout", "conflict", "token_expired", "payment"
]
"""Where a request failed: decode (not a JSON object / no key), validate (schema or secret),
submit (create call rejected), job (job ended FAIL), timeout (deadline passed), conflict
(Ecs.0122: key reused with another body), token_expired (Ecs.0124), payment (order not paid)."""


class WorkerErrorCode(StrEnum):
    """`error.code` of failures the worker detects itself; API codes (Ecs.xxxx, APIG.xxxx) pass
    through unchanged."""

    NOT_UTF8 = "ECSP.NotUtf8"
    NOT_JSON = "ECSP.NotJson"
    NOT_OBJECT = "ECSP.NotObject"
    TOO_LARGE = "ECSP.TooLarge"
    TOO_DEEP = "ECSP.TooDeep"
    NUMBER_TOO_LARGE = "ECSP.NumberTooLarge"
    KEY_TOO_LARGE = "ECSP.KeyTooLarge"
    HEADER_TOO_LARGE = "ECSP.HeaderTooLarge"
    INVALID_REQUEST = "ECSP.InvalidRequest"
    MISSING_KEY = "ECSP.MissingKey"
    UNKNOWN_SECRET = "ECSP.UnknownSecret"  # noqa: S105 - an error code, not a secret
    INVALID_SECRET = "ECSP.InvalidSecret"  # noqa: S105 - an error code, not a secret
    PROJECT_NOT_ALLOWED = "ECSP.ProjectNotAllowed"
    DEADLINE_EXCEEDED = "ECSP.DeadlineExceeded"
    JOB_FAILED = "ECSP.JobFailed"
    JOB_VANISHED = "ECSP.JobNotFound"
    INTERNAL_ERROR = "ECSP.InternalError"
    TOKEN_WINDOW_PASSED = "ECSP.TokenWindowPassed"  # noqa: S105 - an error code, not a secret


WORKER_ERROR_CODE_DOCS: dict[WorkerErrorCode, str] = {
    WorkerErrorCode.TOKEN_WINDOW_PASSED: (
        "The record is older than the API's token window and only some of its servers were "
        "found by their token tag (listed in servers); nothing was created."
    ),
    WorkerErrorCode.NOT_UTF8: (
        "The message value is not valid UTF-8, or a JSON string in it escapes a lone UTF-16 "
        "surrogate (such as \\ud800), which has no UTF-8 form."
    ),
    WorkerErrorCode.NOT_JSON: "The message value is not JSON.",
    WorkerErrorCode.NOT_OBJECT: "The message value is JSON but not an object.",
    WorkerErrorCode.TOO_LARGE: "The message value exceeds the worker's size limit.",
    WorkerErrorCode.TOO_DEEP: (
        f"The message value nests objects/arrays deeper than {MAX_JSON_DEPTH} levels."
    ),
    WorkerErrorCode.NUMBER_TOO_LARGE: (
        f"The message value has an integer of more than {MAX_INT_DIGITS} digits."
    ),
    WorkerErrorCode.KEY_TOO_LARGE: f"The message key is longer than {MAX_KEY_BYTES} bytes.",
    WorkerErrorCode.HEADER_TOO_LARGE: (
        f"The ecs-project-id header is longer than {MAX_HEADER_BYTES} bytes."
    ),
    WorkerErrorCode.INVALID_REQUEST: (
        "The body breaks the request schema; error.details lists {path, message} per problem."
    ),
    WorkerErrorCode.MISSING_KEY: "The message has no (or an empty) Kafka key.",
    WorkerErrorCode.UNKNOWN_SECRET: (
        "adminPass names a $NAME secret the worker cannot find (names reaching the worker's own "
        "settings are never found)."
    ),
    WorkerErrorCode.INVALID_SECRET: (
        "The resolved adminPass secret is not an acceptable password; the event says nothing "
        "more about the value (not its length, not the rule)."
    ),
    WorkerErrorCode.PROJECT_NOT_ALLOWED: "The ecs-project-id header names a project not allowed.",
    WorkerErrorCode.DEADLINE_EXCEEDED: "The job did not finish before the worker's deadline.",
    WorkerErrorCode.JOB_FAILED: "The job ended FAIL without an error_code of its own.",
    WorkerErrorCode.JOB_VANISHED: "The job could not be found any more (purged or unknown).",
    WorkerErrorCode.INTERNAL_ERROR: (
        "An unexpected error in the worker; retryable (same key, same token, no duplicate)."
    ),
}


def _error_code_description() -> str:
    lines = [f"- {code.value}: {doc}" for code, doc in WORKER_ERROR_CODE_DOCS.items()]
    return (
        "Machine-readable code. API codes (Ecs.xxxx, APIG.xxxx) pass through unchanged; "
        "codes the worker detects itself:\n" + "\n".join(lines)
    )


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

    code: str = Field(description=_error_code_description())
    message: str
    http_status: int | None = None
    request_id: str | None = None
    details: list[dict[str, Any]] | None = None


class SubJobInfo(_EventModel):
    """One server's sub-job of the create job (`entities.sub_jobs[]`)."""

    job_id: str | None = None
    status: str
    server_id: str | None = None
    error_code: str | None = None
    fail_reason: str | None = None
    begin_time: str | None = None
    end_time: str | None = None


Tagging = Literal["tagged", "no_room", "first_submitted_untagged"]
"""Whether the worker's own server tags (deployment and client token) went into the create:
tagged; no_room (the publisher's tags leave no room within the API's limit, or use the worker's
tag keys): sent untagged, as before tagging existed; first_submitted_untagged (the API had the
token with the untagged body of an earlier release, so that body was sent again)."""


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
        "`traceparent`, `sub_jobs`.",
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


EVENT_DATA_MODELS: dict[EventType, type[EventData]] = {
    EventType.SUBMITTED: SubmittedData,
    EventType.AWAITING_PAYMENT: AwaitingPaymentData,
    EventType.SUCCEEDED: SucceededData,
    EventType.VALIDATED: ValidatedData,
    EventType.FAILED: FailedData,
}
"""The data model of each event type."""
