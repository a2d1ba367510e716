"""One example event of each type, for the AsyncAPI document: built, not written by hand.

Every example is made by `build_event` from the data models, for one request (key
`ticket-4711`, the reference's keypair example) at fixed times, so it always matches the exported
schemas and the document stays byte-stable. The ids are derived as the worker derives them; the
`traceparent` is a worker's producer span continuing the request's trace.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ecsp_contract.cloudevent import CloudEvent, build_event
from ecsp_contract.events import (
    AwaitingPaymentData,
    ErrorInfo,
    EventData,
    EventType,
    FailedData,
    KafkaOrigin,
    Placement,
    PlacementAttempt,
    SubJobInfo,
    SubmittedData,
    SucceededData,
    ValidatedData,
)
from ecsp_contract.failures import FailureStage
from ecsp_contract.idempotency import client_token

REQUEST_KEY = "ticket-4711"
PROJECT_ID = "0605767ea3000f5b2fe8c0051de0b9ba"
JOB_ID = "ff80808288d41e1b018990260955686a"
ORDER_ID = "CS2311301528CAZ4R"
SUB_JOB_ID = "ff80808288d41e1b018990260a5c686b"
SERVER_IDS = ["1f5b1a2c-7f8e-4e0c-9a55-0c6f0b6f6a01"]
#: The request's trace context (as a portal would send it) and the worker's span's.
REQUEST_TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
EVENT_TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-b7ad6b7169203331-01"
TRACESTATE = "portal=7f3a"
_RECEIVED = datetime(2026, 11, 30, 9, 0, 0, tzinfo=UTC)
_PUBLISHED = datetime(2026, 11, 30, 9, 1, 30, tzinfo=UTC)


def _common(offset: int) -> dict[str, Any]:
    return {
        "request_key": REQUEST_KEY,
        "client_token": str(client_token(REQUEST_KEY)),
        "project_id": PROJECT_ID,
        "received_at": _RECEIVED,
        "origin": KafkaOrigin(topic="ecs.provisioning.requests", partition=3, offset=offset),
        "request": None,
        "tagging": "tagged",
    }


def _data() -> dict[EventType, EventData]:
    return {
        EventType.SUBMITTED: SubmittedData(
            **_common(1042), job_id=JOB_ID, order_id=ORDER_ID, server_ids=SERVER_IDS
        ),
        EventType.AWAITING_PAYMENT: AwaitingPaymentData(
            **_common(1042), job_id=JOB_ID, order_id=ORDER_ID, server_ids=SERVER_IDS
        ),
        EventType.SUCCEEDED: SucceededData(
            **_common(1042),
            job_id=JOB_ID,
            order_id=ORDER_ID,
            server_ids=SERVER_IDS,
            sub_jobs=[SubJobInfo(job_id=SUB_JOB_ID, status="SUCCESS", server_id=SERVER_IDS[0])],
            begin_time="2026-11-30T09:00:02.112Z",
            end_time="2026-11-30T09:01:29.870Z",
            attempts=1,
            placement=Placement(  # the body's zone was sold out; the header's @az2-dc1 was not
                flavorRef="s2.small.1",
                availability_zone="az2-dc1",
                attempts=[
                    PlacementAttempt(
                        flavorRef="s2.small.1", availability_zone="az1-dc1", code="Ecs.0319"
                    ),
                    PlacementAttempt(
                        flavorRef="s2.small.1", availability_zone="az2-dc1", code=None
                    ),
                ],
                skipped=[],
            ),
        ),
        EventType.VALIDATED: ValidatedData(**_common(1043), attempts=1),
        EventType.FAILED: FailedData(
            **_common(1044),
            stage=FailureStage.SUBMIT,
            error=ErrorInfo(
                code="Ecs.0005",
                message="Flavor s9.huge.1 is not available in az1-dc1.",
                http_status=400,
                request_id="7a3b0c1d2e3f40516273849506172839",
            ),
            retryable=False,
        ),
    }


def example_event(event_type: EventType) -> CloudEvent:
    """The example event of `event_type`."""
    return build_event(
        _data()[event_type],
        event_type,
        source="ecs-provisioner/prod",
        time=_PUBLISHED,
        traceparent=EVENT_TRACEPARENT,
        tracestate=TRACESTATE,
    )
