"""Bad input against the decode -> validate path and the whole pipeline (hypothesis, no broker).

Properties: parsing either yields a JSON object or fails at `decode`; validation either yields a
request or fails at `validate`; and `Pipeline.process` turns every record whatsoever into
exactly one terminal event (never an exception), `failed` at decode/validate without an API call
unless the record is a valid request, with the deterministic id for its key.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecsp_contract.cloudevent import CloudEvent
from ecsp_contract.idempotency import DEFAULT_TOKEN_NAMESPACE, client_token
from tests.fuzz.malformed import (
    json_values,
    mutated_bodies,
    record_keys,
    record_values,
    schema_accepts,
)
from tests.support.accepting_api import PROJECT, TERMINAL, AcceptingApi, pipeline
from tests.support.events import expected_event_id
from tests.support.examples import examples
from worker.pipeline.decode import parse_json_object
from worker.pipeline.failure import StageFailure
from worker.pipeline.identity import Identity
from worker.pipeline.port import InboundMessage
from worker.pipeline.state import DecodedRequest
from worker.pipeline.tenant import Tenant
from worker.pipeline.validate import validate

TENANT = Tenant("default", DEFAULT_TOKEN_NAMESPACE, PROJECT, frozenset({PROJECT}))
FUZZ = settings(
    max_examples=examples(400), deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def record(key: bytes | None, value: bytes | None, project: str | None) -> InboundMessage:
    headers = () if project is None else (("ecs-project-id", project.encode()),)
    return InboundMessage("requests", 0, 42, key, value, headers, int(time.time() * 1000))


async def _ignore(event: CloudEvent) -> None:
    del event


@FUZZ
@given(value=record_values)
def test_parsing_yields_an_object_or_fails_at_decode(value: bytes | None) -> None:
    result = _outcome(lambda: parse_json_object(record(b"k", value, None), max_bytes=1_048_576))
    if isinstance(result, StageFailure):
        assert result.stage == "decode"
        assert result.code.startswith("ECSP.")
    else:
        assert isinstance(result, dict)


def test_a_byte_order_mark_is_named_as_what_makes_the_value_not_json() -> None:
    result = _outcome(
        lambda: parse_json_object(record(b"k", b"\xef\xbb\xbf{}", None), max_bytes=99)
    )
    assert isinstance(result, StageFailure)
    assert result.code == "ECSP.NotJson"
    assert "BOM" in result.message


@FUZZ
@given(document=st.one_of(st.dictionaries(st.text(max_size=10), json_values), mutated_bodies()))
def test_validation_yields_a_request_or_fails_at_validate(document: dict[str, Any] | bytes) -> None:
    doc = json.loads(document) if isinstance(document, bytes) else document
    identity = Identity("k", client_token("k"), PROJECT, None)
    result = _outcome(lambda: validate(identity, doc, tenant=TENANT))
    if isinstance(result, StageFailure):
        assert result.stage == "validate"
        assert result.message
    else:
        assert isinstance(result, DecodedRequest)
        assert result.wire["server"]


@FUZZ
@given(
    key=record_keys,
    value=record_values,
    project=st.sampled_from([None, PROJECT, "someone-elses-project"]),
)
def test_every_record_becomes_exactly_one_terminal_event(
    key: bytes | None, value: bytes | None, project: str | None
) -> None:
    api = AcceptingApi()
    message = record(key, value, project)

    event = asyncio.run(pipeline(api).process(message, _ignore))
    # a redelivery is a new record: the pipeline lets go of a record's value once submitted
    again = asyncio.run(pipeline(AcceptingApi()).process(record(key, value, project), _ignore))

    assert event.type in TERMINAL
    assert again.id == event.id
    assert again.type == event.type
    data = json.loads(event.to_bytes())["data"]
    key_text = _key_text(key)
    if key_text is not None:
        assert event.data["client_token"] == client_token(key_text)
    assert event.id == expected_event_id(event, value)
    usable = key_text is not None and project in (None, PROJECT) and schema_accepts(value)
    if event.type == "ecs.provisioning.failed":
        assert data["stage"] in ("decode", "validate")
        assert api.creates == 0
        assert not usable
    else:
        assert usable
        assert api.creates == 1


def _outcome(call: Callable[[], object]) -> object:
    """What `call` returned, or the StageFailure it raised."""
    try:
        return call()
    except StageFailure as failure:
        return failure


def _key_text(key: bytes | None) -> str | None:
    try:
        return key.decode() or None if key else None
    except UnicodeDecodeError:
        return None
