"""One request followed across systems: the worker's spans, exported over OTLP, and the events'
trace context, against the real broker and the simulator.

The OTLP exporter is pointed (by the standard OTEL_* variables) at a receiver the test runs; the
worker flushes its spans when it stops, so every span is in the receiver once the stack exits.
"""

from __future__ import annotations

import json
import os
import secrets as random_ids
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support import secrets
from tests.support.otlp import ReceivedSpan, Receiver, otlp_receiver
from tests.support.stack import example, stack

TRACE_ID = random_ids.token_hex(16)
PARENT_SPAN_ID = random_ids.token_hex(8)
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_SPAN_ID}-01"
TRACESTATE = "portal=7f3a"


def header(headers: tuple[tuple[str, bytes], ...], name: str) -> str:
    [value] = [v.decode() for k, v in headers if k == name]
    return value


def one(spans: list[ReceivedSpan], name: str) -> ReceivedSpan:
    [span] = [s for s in spans if s.name == name]
    return span


def no_otel_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("OTEL_"):
            monkeypatch.delenv(name)


@pytest.fixture
async def receiver(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Receiver]:
    """A running OTLP receiver that the standard OTEL_* variables point the worker at."""
    no_otel_env(monkeypatch)
    async with otlp_receiver() as running:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", running.endpoint)
        monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "200")
        monkeypatch.setenv("OTEL_SERVICE_NAME", "ecsp-under-test")
        yield running


async def test_a_request_is_one_trace_continued_by_its_events(
    kafka_bootstrap: str, receiver: Receiver, suite_log: Path
) -> None:
    # per-job checks (not bulk following), so the job is read several times: each read's span
    # must be a child of the request's consumer span
    async with stack(kafka_bootstrap, job_seconds=(0.6, 0.9), ECSP_BULK_FOLLOW="false") as s:
        headers = [("traceparent", TRACEPARENT.encode()), ("tracestate", TRACESTATE.encode())]
        await s.publish([("traced-1", example("02-prepaid-password.json"))], headers)
        [outcome] = await s.outcomes(1)
        [submitted] = await s.progress(1)
        results_topic = s.settings.topic_results
        requests_topic = s.settings.topic_requests
    spans = [span for span in receiver.spans if span.trace_id == TRACE_ID]

    event = outcome.json()
    assert event["type"] == "ecs.provisioning.succeeded"
    # The event continues the trace: header and CloudEvents extension name the same span.
    traceparent = header(outcome.headers, "traceparent")
    assert traceparent.split("-")[1] == TRACE_ID
    assert event["traceparent"] == traceparent
    assert header(outcome.headers, "tracestate") == TRACESTATE == event["tracestate"]
    assert header(submitted.headers, "traceparent").split("-")[1] == TRACE_ID

    consumer = one(spans, f"process {requests_topic}")
    assert consumer.kind == "consumer"
    assert consumer.parent_span_id == PARENT_SPAN_ID
    assert consumer.service_name == "ecsp-under-test"
    assert consumer.attributes["messaging.system"] == "kafka"
    assert consumer.attributes["messaging.destination.name"] == requests_topic
    assert consumer.attributes["messaging.kafka.message.key"] == "traced-1"
    assert consumer.attributes["ecs.outcome"] == "succeeded"
    assert consumer.attributes["ecs.job_id"] == event["data"]["job_id"]
    assert consumer.attributes["ecs.server_ids"] == event["data"]["server_ids"]
    assert not consumer.error

    create = one(spans, "POST /v1.1/{project_id}/cloudservers")
    checks = [s for s in spans if s.name == "GET /v1/{project_id}/jobs/{job_id}"]
    assert len(checks) >= 2  # the job ran for 0.6 s or more, polled every 0.2-0.5 s
    for span in (create, *checks):
        assert span.kind == "client"
        assert span.parent_span_id == consumer.span_id
        assert span.attributes["http.response.status_code"] == 200
    assert all(c.attributes["ecs.job_id"] == event["data"]["job_id"] for c in checks)

    publishes = [s for s in spans if s.kind == "producer"]
    assert {s.name for s in publishes} >= {f"send {results_topic}"}
    assert all(s.parent_span_id == consumer.span_id for s in publishes)
    result_publish = one(publishes, f"send {results_topic}")
    assert traceparent.split("-")[2] == result_publish.span_id
    assert result_publish.attributes["messaging.message.id"] == event["id"]

    # The worker's log lines about this request name its trace and the consumer span.
    lines = [json.loads(line) for line in suite_log.read_text().splitlines() if TRACE_ID in line]
    job_lines = [line for line in lines if line["event"] == "job succeeded"]
    assert [(line["trace_id"], line["span_id"]) for line in job_lines] == [
        (TRACE_ID, consumer.span_id)
    ]

    # No secret reaches an attribute: not the password, not the AK/SK.
    dumped = json.dumps([span.attributes for span in receiver.spans])
    for secret in (secrets.ADMIN_PASS_SECRET, secrets.TEST_AK, secrets.TEST_SK, "adminPass"):
        assert secret not in dumped


async def test_a_failed_request_without_trace_context_starts_a_trace_marked_as_an_error(
    kafka_bootstrap: str, receiver: Receiver
) -> None:
    async with stack(kafka_bootstrap) as s:
        await s.publish([("untraced-bad", {"server": {"name": 5}})])
        [outcome] = await s.outcomes(1)
        requests_topic = s.settings.topic_requests

    trace_id = header(outcome.headers, "traceparent").split("-")[1]
    spans = [span for span in receiver.spans if span.trace_id == trace_id]
    consumer = one(spans, f"process {requests_topic}")
    assert consumer.parent_span_id == ""  # a new trace
    assert consumer.error
    assert consumer.attributes["ecs.outcome"] == "failed"
    assert consumer.attributes["ecs.stage"] == "validate"
    assert consumer.attributes["error.type"] == outcome.json()["data"]["error"]["code"]


async def test_with_tracing_off_events_carry_the_requests_trace_context(
    kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    no_otel_env(monkeypatch)
    async with stack(kafka_bootstrap) as s:
        headers = [("traceparent", TRACEPARENT.encode()), ("tracestate", TRACESTATE.encode())]
        await s.publish([("off-1", example("05-dry-run.json"))], headers)
        [outcome] = await s.outcomes(1)
    assert header(outcome.headers, "traceparent") == TRACEPARENT == outcome.json()["traceparent"]
    assert header(outcome.headers, "tracestate") == TRACESTATE
