"""Events: deterministic ids, CloudEvents SDK parsing, and the exported JSON Schemas."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from cloudevents.core.bindings.kafka import KafkaMessage, from_structured
from cloudevents.core.formats.json import JSONFormat
from cloudevents.v1.http import from_json
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from ecsp_contract.cloudevent import (
    CONTENT_TYPE,
    CloudEvent,
    build_event,
    dataschema_uri,
    event_id,
    outcome_fingerprint,
)
from ecsp_contract.events import (
    AwaitingPaymentData,
    Compensation,
    ErrorInfo,
    EventData,
    EventType,
    FailedData,
    KafkaOrigin,
    ServerNotDeleted,
    SubJobInfo,
    SubmittedData,
    SucceededData,
    ValidatedData,
)
from ecsp_contract.failures import WorkerErrorCode
from ecsp_contract.idempotency import DEFAULT_TOKEN_NAMESPACE, client_token, uuid5_text
from tests.schemas.conftest import schema_validator

ORIGIN = KafkaOrigin(topic="ecs.provisioning.requests", partition=3, offset=42)
RECEIVED = datetime(2024, 5, 6, 7, 8, 9, 123000, tzinfo=UTC)
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def base(key: str | None = "order-17") -> dict[str, Any]:
    return {
        "request_key": key,
        "client_token": client_token(key) if key else None,
        "project_id": "0605767fb500d5a42f61c0001a3e2ed0" if key else None,
        "received_at": RECEIVED,
        "origin": ORIGIN,
        "request": {"server": {"name": "n1", "adminPass": "***"}},
    }


def sample_data(key: str | None = "order-17") -> dict[EventType, EventData]:
    sub_job = SubJobInfo(
        job_id="ff80808273",
        status="SUCCESS",
        server_id="fe0528f0-5b1c-4c8c-9adf-e5d5047b8c17",
        begin_time="2016-04-25T20:04:47.591Z",
        end_time="2016-04-25T20:08:21.328Z",
    )
    return {
        EventType.SUBMITTED: SubmittedData(
            **base(key), job_id="ff808082739334d80173943ec9b42130", order_id=None, server_ids=[]
        ),
        EventType.AWAITING_PAYMENT: AwaitingPaymentData(
            **base(key), job_id=None, order_id="CS2007281506xxxxx", server_ids=[]
        ),
        EventType.SUCCEEDED: SucceededData(
            **base(key),
            job_id="ff808082739334d80173943ec9b42130",
            order_id=None,
            server_ids=["fe0528f0-5b1c-4c8c-9adf-e5d5047b8c17"],
            sub_jobs=[sub_job],
            begin_time="2016-04-25T20:04:34.604Z",
            end_time="2016-04-25T20:08:41.593Z",
            attempts=2,
        ),
        EventType.VALIDATED: ValidatedData(**base(key), attempts=1),
        EventType.FAILED: FailedData(
            **base(key),
            stage="job",
            error=ErrorInfo(
                code="Ecs.0319",
                message="insufficient capacity",
                http_status=None,
                request_id="req-1",
                details=[{"code": "Ecs.0039"}],
            ),
            retryable=False,
            job_id="ff808082739334d80173943ec9b42130",
            sub_jobs=[sub_job],
        ),
    }


ALL_TYPES = list(EventType)


@pytest.mark.parametrize("event_type", ALL_TYPES)
@pytest.mark.parametrize("key", ["order-17", None])
def test_event_parses_with_cloudevents_sdk_and_matches_schemas(
    event_type: EventType, key: str | None
) -> None:
    data = sample_data(key)[event_type]
    event = build_event(data, event_type, source="ecs-provisioner/test", traceparent=TRACEPARENT)
    value = event.to_bytes()

    parsed = from_structured(
        KafkaMessage(headers={"content-type": CONTENT_TYPE.encode()}, key=None, value=value),
        JSONFormat(),
    )
    assert parsed.get_specversion() == "1.0"
    assert parsed.get_type() == event_type.value
    assert parsed.get_id() == event.id
    assert parsed.get_subject() == key
    assert parsed.get_dataschema() == dataschema_uri(event_type.value)
    assert parsed.get_extension("traceparent") == TRACEPARENT
    assert parsed.get_data() == data.model_dump(mode="json")
    legacy = from_json(value)
    assert legacy["type"] == event_type.value

    document = json.loads(value)
    assert list(schema_validator("cloudevent").iter_errors(document)) == []
    data_schema = schema_validator(event_type.value)
    assert data_schema.schema["$id"] == document["dataschema"]
    assert list(data_schema.iter_errors(document["data"])) == []


def test_event_id_is_scoped_by_the_token_and_fingerprints_the_outcome() -> None:
    data = sample_data()[EventType.FAILED]
    token = client_token("order-17")
    fields: dict[str, Any] = {
        "error_code": "Ecs.0319",
        "job_id": "ff808082739334d80173943ec9b42130",
        "order_id": None,
        "project_id": data.project_id,
        "request_digest": "d1",
        "server_ids": [],
        "stage": "job",
    }
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"))
    fingerprint = hashlib.sha256(canonical.encode()).hexdigest()
    expected = str(uuid.uuid5(uuid.UUID(token), f"ecs.provisioning.failed#{fingerprint}"))

    assert event_id(data, EventType.FAILED, "d1") == expected
    event = build_event(data, EventType.FAILED, source="s", request_digest="d1")
    assert event.id == expected


def test_event_id_is_deterministic_per_key_and_outcome() -> None:
    first = sample_data("k1")
    again = sample_data("k1")
    other = sample_data("k2")
    ids = {
        event_type: build_event(first[event_type], event_type, source="a").id
        for event_type in ALL_TYPES
    }

    assert len(set(ids.values())) == len(ALL_TYPES)
    for event_type in ALL_TYPES:
        assert build_event(again[event_type], event_type, source="b").id == ids[event_type]
        assert build_event(other[event_type], event_type, source="a").id != ids[event_type]


def test_a_different_outcome_for_the_same_key_gets_another_id() -> None:
    failed = sample_data()[EventType.FAILED]
    assert isinstance(failed, FailedData)
    first = event_id(failed, EventType.FAILED, "digest-1")
    variants = [
        failed.model_copy(update={"stage": "timeout"}),
        failed.model_copy(update={"error": failed.error.model_copy(update={"code": "Ecs.0001"})}),
        failed.model_copy(update={"job_id": "another-job"}),
        failed.model_copy(update={"server_ids": ["s-1"]}),
        failed.model_copy(update={"project_id": "another-project"}),
        failed.model_copy(
            update={"compensation": Compensation(action="delete", deleted=["s"], not_deleted=[])}
        ),
        failed.model_copy(
            update={
                "compensation": Compensation(
                    action="delete",
                    deleted=[],
                    not_deleted=[ServerNotDeleted(server_id="s", reason="refused")],
                )
            }
        ),
    ]
    ids = {event_id(v, EventType.FAILED, "digest-1") for v in variants}
    ids.add(event_id(failed, EventType.FAILED, "digest-2"))  # another body, same key
    assert first not in ids
    assert len(ids) == len(variants) + 1


def test_a_reconciled_success_is_another_outcome_than_the_created_one() -> None:
    succeeded = sample_data()[EventType.SUCCEEDED]
    assert isinstance(succeeded, SucceededData)
    reconciled = succeeded.model_copy(update={"reconciled": True})
    assert event_id(reconciled, EventType.SUCCEEDED) != event_id(succeeded, EventType.SUCCEEDED)
    same = succeeded.model_copy(update={"reconciled": True, "attempts": 0})
    assert event_id(same, EventType.SUCCEEDED) == event_id(reconciled, EventType.SUCCEEDED)


def test_volatile_texts_do_not_change_the_id() -> None:
    failed = sample_data()[EventType.FAILED]
    assert isinstance(failed, FailedData)
    reworded = failed.model_copy(
        update={
            "error": failed.error.model_copy(
                update={"message": "retried 7 times", "request_id": "r9"}
            ),
            "received_at": datetime(2030, 1, 1, tzinfo=UTC),
        }
    )
    assert event_id(reworded, EventType.FAILED, "d") == event_id(failed, EventType.FAILED, "d")


def test_event_id_without_token_is_scoped_by_the_kafka_origin() -> None:
    data = sample_data(None)[EventType.FAILED]
    scope = uuid.uuid5(uuid.NAMESPACE_URL, "kafka://ecs.provisioning.requests/3/42")
    fingerprint = outcome_fingerprint(data)
    assert event_id(data, EventType.FAILED) == str(
        uuid.uuid5(scope, f"ecs.provisioning.failed#{fingerprint}")
    )
    moved = data.model_copy(
        update={"origin": KafkaOrigin(topic=ORIGIN.topic, partition=3, offset=43)}
    )
    assert event_id(moved, EventType.FAILED) != event_id(data, EventType.FAILED)


def test_optional_attributes_are_omitted_when_unknown() -> None:
    event = build_event(sample_data(None)[EventType.FAILED], EventType.FAILED, source="s")
    document = json.loads(event.to_bytes())

    assert "subject" not in document
    assert "traceparent" not in document
    assert document["data"]["request_key"] is None


def test_wire_format_is_compact_utf8_with_rfc3339_utc_time() -> None:
    moment = datetime(2024, 1, 2, 4, 4, 5, tzinfo=timezone(timedelta(hours=1)))
    event = build_event(
        sample_data()[EventType.VALIDATED], EventType.VALIDATED, source="s", time=moment
    )
    value = event.to_bytes()

    assert b": " not in value
    assert b", " not in value
    document = json.loads(value.decode("utf-8"))
    assert document["time"] == "2024-01-02T03:04:05Z"
    assert document["data"]["received_at"] == "2024-05-06T07:08:09.123000Z"
    assert document["datacontenttype"] == "application/json"


def test_published_event_parses_back_into_the_envelope_model() -> None:
    event = build_event(sample_data()[EventType.SUCCEEDED], EventType.SUCCEEDED, source="s")

    parsed = CloudEvent.model_validate_json(event.to_bytes())

    assert parsed.to_dict() == event.to_dict()
    assert SucceededData.model_validate(parsed.data) == sample_data()[EventType.SUCCEEDED]


def test_data_of_the_wrong_type_is_refused() -> None:
    with pytest.raises(TypeError, match=r"ecs\.provisioning\.succeeded needs SucceededData"):
        build_event(sample_data()[EventType.FAILED], EventType.SUCCEEDED, source="s")


def test_naive_event_time_is_refused() -> None:
    event = build_event(
        sample_data()[EventType.VALIDATED],
        EventType.VALIDATED,
        source="s",
        time=datetime(2024, 1, 1),
    )
    with pytest.raises(ValueError, match="timezone-aware"):
        event.to_bytes()


def test_received_at_is_normalised_to_utc_and_must_be_aware() -> None:
    fields = base()
    fields["received_at"] = datetime(2024, 1, 1, 2, 0, tzinfo=timezone(timedelta(hours=2)))
    assert ValidatedData(**fields, attempts=1).received_at == datetime(2024, 1, 1, tzinfo=UTC)

    fields["received_at"] = datetime(2024, 1, 1)
    with pytest.raises(ValidationError, match="timezone-aware"):
        ValidatedData(**fields, attempts=1)


def test_failure_stage_is_closed() -> None:
    fields = base()
    with pytest.raises(ValidationError):
        FailedData(
            **fields,
            stage="somewhere",
            error=ErrorInfo(code=WorkerErrorCode.JOB_FAILED, message="m"),
            retryable=True,
        )


def test_client_token_is_uuid5_of_the_key_in_the_default_namespace() -> None:
    assert str(DEFAULT_TOKEN_NAMESPACE) == "2c583f0f-d3c3-56a4-b688-680fd0fbb1b3"
    token = client_token("order-17")
    assert token == str(uuid.uuid5(DEFAULT_TOKEN_NAMESPACE, "order-17"))
    assert token == token.lower()
    assert len(token) == 36
    other_namespace = uuid.UUID("11111111-2222-3333-4444-555555555555")
    assert client_token("order-17", other_namespace) != token


@given(namespace=st.uuids(), name=st.text(st.characters(exclude_categories=["Cs"])))
def test_uuid5_text_is_the_standard_librarys_uuid5(namespace: uuid.UUID, name: str) -> None:
    assert uuid5_text(namespace.bytes, name) == str(uuid.uuid5(namespace, name))


def test_worker_error_codes_are_documented_in_the_failed_schema() -> None:
    text = json.dumps(schema_validator(EventType.FAILED.value).schema)
    for code in WorkerErrorCode:
        assert code.value in text
