"""Tracing is configured by the standard OTEL_* variables: off unless they ask for an exporter,
an error when they ask for what this install cannot do; log lines carry the current span's ids."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider

from tests.support.imports import loaded_by, offending
from worker.ops.logging import add_trace_ids
from worker.ops.otel import TracingConfigError, start_tracing, tracing_requested

ENDPOINT = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}


@pytest.mark.parametrize(
    ("env", "on"),
    [
        ({}, False),
        ({"OTEL_SERVICE_NAME": "x", "OTEL_TRACES_SAMPLER": "always_on"}, False),
        (ENDPOINT, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}, True),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, True),
        ({**ENDPOINT, "OTEL_TRACES_EXPORTER": "none"}, False),
        ({**ENDPOINT, "OTEL_SDK_DISABLED": "true"}, False),
        ({**ENDPOINT, "OTEL_SDK_DISABLED": "false"}, True),
    ],
)
def test_tracing_is_on_only_when_otel_asks_for_an_exporter(env: dict[str, str], on: bool) -> None:
    assert tracing_requested(env) is on
    assert (start_tracing("1.0", env) is not None) is on


@pytest.mark.parametrize(
    "env",
    [
        {**ENDPOINT, "OTEL_TRACES_EXPORTER": "zipkin"},
        {**ENDPOINT, "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
        {**ENDPOINT, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/json"},
    ],
)
def test_an_exporter_this_install_lacks_is_a_configuration_error(env: dict[str, str]) -> None:
    with pytest.raises(TracingConfigError):
        start_tracing("1.0", env)


def test_the_service_is_named_unless_otel_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    monkeypatch.delenv("OTEL_RESOURCE_ATTRIBUTES", raising=False)
    tracing = start_tracing("1.2.3", ENDPOINT)
    assert tracing is not None
    assert tracing.provider.resource.attributes["service.name"] == "ecs-provisioner"
    assert tracing.provider.resource.attributes["service.version"] == "1.2.3"
    monkeypatch.setenv("OTEL_SERVICE_NAME", "portal-worker")
    named = start_tracing("1.2.3", {**ENDPOINT, "OTEL_SERVICE_NAME": "portal-worker"})
    assert named is not None
    assert named.provider.resource.attributes["service.name"] == "portal-worker"


def test_log_lines_carry_the_current_spans_ids_and_nothing_without_one() -> None:
    tracer = TracerProvider().get_tracer("test")
    line: dict[str, Any] = {"event": "x"}
    assert add_trace_ids(None, "info", line) == {"event": "x"}
    with tracer.start_as_current_span("s") as span:
        context = span.get_span_context()
        add_trace_ids(None, "info", line)
    assert line["trace_id"] == f"{context.trace_id:032x}"
    assert line["span_id"] == f"{context.span_id:016x}"


def test_an_untraced_worker_loads_no_sdk() -> None:
    """Off, nothing of the SDK or the exporter is even imported: only the API is core."""
    loaded = loaded_by("worker.service", "worker.cli.main")
    assert offending(loaded, "opentelemetry.sdk", "opentelemetry.exporter") == []
