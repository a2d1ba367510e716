"""Every event fits its size budget: large parts are cut first (request copy, error.details,
error.message, echoed key/project, traceparent, sub_jobs), each cut named in `data.truncated`;
ids, type, stage, code and server ids survive; only an impossible budget raises."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from ecsp_contract.cloudevent import CloudEvent, build_event
from ecsp_contract.event_size import EventTooLarge, fit_event
from ecsp_contract.events import ErrorInfo, EventType, FailedData, KafkaOrigin

MIB = 1_048_576


def failed(
    *,
    details: int = 0,
    request: Any = None,
    key: str = "k",
    message: str = "bad",
    traceparent: str | None = None,
) -> CloudEvent:
    data = FailedData(
        request_key=key,
        client_token="6e024162-9183-52c0-ba95-b90fee1b06a0",
        project_id="p",
        received_at=datetime(2026, 1, 1, tzinfo=UTC),
        origin=KafkaOrigin(topic="t", partition=0, offset=1),
        request=request,
        stage="validate",
        error=ErrorInfo(
            code="ECSP.InvalidRequest",
            message=message,
            details=[{"path": f"server.x{i}", "message": "unknown field"} for i in range(details)]
            or None,
        ),
        retryable=False,
        server_ids=["11111111-1111-4111-8111-111111111111"],
    )
    return build_event(data, EventType.FAILED, source="s", traceparent=traceparent)


def decoded(value: bytes) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(value)
    return document


def test_an_event_within_budget_is_left_whole() -> None:
    event = failed(details=10, request={"server": {"name": "a"}})
    value = fit_event(event, MIB)
    assert value == event.to_bytes()
    assert decoded(value)["data"]["truncated"] is None


def test_the_request_copy_goes_first() -> None:
    event = failed(details=3, request={"server": {"name": "a" * 900_000}})
    document = decoded(fit_event(event, 200_000))
    assert document["data"]["request"] is None
    assert document["data"]["truncated"] == ["request"]
    assert len(document["data"]["error"]["details"]) == 3


def test_details_keep_the_longest_prefix_that_fits_and_say_how_many() -> None:
    event = failed(details=60_000)
    assert len(event.to_bytes()) > 2 * MIB
    value = fit_event(event, MIB)
    document = decoded(value)
    kept = len(document["data"]["error"]["details"])
    assert 0 < kept < 60_000
    assert document["data"]["truncated"] == [f"error.details: {kept} of 60000 kept"]
    assert MIB - 200 < len(value) <= MIB  # the longest prefix: one more would not fit
    assert document["id"] == event.id
    assert document["data"]["error"]["code"] == "ECSP.InvalidRequest"


def test_echoed_key_and_message_are_cut_when_nothing_else_helps() -> None:
    trace = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    event = failed(key="k" * 600_000, message="m" * 600_000, traceparent=trace)
    value = fit_event(event, 20_000)
    document = decoded(value)
    assert document["data"]["truncated"] == ["error.message", "request_key"]
    assert document["traceparent"] == trace
    assert len(document["subject"]) < 400
    assert document["data"]["server_ids"] == ["11111111-1111-4111-8111-111111111111"]
    assert len(value) <= 20_000


def test_an_unserialisable_request_copy_is_cut_instead_of_raising() -> None:
    event = failed(request={"description": "\ud800", "\udfff": [1]})
    document = decoded(fit_event(event, MIB))
    assert document["data"]["truncated"] == ["request"]


def test_minimal_cuts_everything_at_once() -> None:
    trace = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    event = failed(details=5, request={"a": 1}, message="short", traceparent=trace)
    document = decoded(fit_event(event, MIB, minimal=True))
    assert document["data"]["truncated"] == [
        "request",
        "error.details: 0 of 5 kept",
        "traceparent",
    ]
    assert "traceparent" not in document


def test_an_impossible_budget_raises() -> None:
    with pytest.raises(EventTooLarge):
        fit_event(failed(), 100)


def test_text_utf8_cannot_carry_is_replaced_rather_than_dropping_the_event() -> None:
    document = decoded(fit_event(failed(message="api said \ud800"), MIB))
    assert document["data"]["error"]["message"] == "api said ?"
    assert document["data"]["truncated"] == ["unencodable text"]
