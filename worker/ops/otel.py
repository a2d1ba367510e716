"""Tracing of the process: on when the standard OTEL_* variables configure an exporter, else off.

Off (no exporter configured, or `OTEL_SDK_DISABLED=true`) the worker creates no tracer at all:
the components get `None` and skip every tracing call, so an untraced worker pays nothing. On,
an OpenTelemetry SDK `TracerProvider` of this process (not the global one) exports spans in
batches over OTLP/HTTP protobuf; the SDK reads the rest of its configuration itself
(`OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER`, `OTEL_BSP_*`,
`OTEL_EXPORTER_OTLP_*`). The SDK and the exporter are the optional `otel` extra; asking for
tracing without them is a configuration error.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from opentelemetry import trace

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

#: The instrumentation scope of every span of the worker.
INSTRUMENTATION_NAME = "ecs-provisioner"
#: How long the exit waits for queued spans to be exported (the pod's grace is short).
FLUSH_SECONDS = 3.0
#: Variables whose presence asks for exported traces.
_ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
_PROTOCOLS = ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL")
_MISSING_EXTRA = (
    "OTEL_* asks for traces, but the OpenTelemetry SDK is not installed: "
    "pip install 'ecs-provisioner[otel]' (or unset the OTEL_EXPORTER_OTLP_* variables)"
)


class TracingConfigError(ValueError):
    """OTEL_* asks for something this worker cannot do (an exporter it lacks, a protocol)."""


def tracing_requested(env: Mapping[str, str] = os.environ) -> bool:
    """Whether OTEL_* configures a trace exporter (and the SDK is not disabled)."""
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporter = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter:
        return exporter != "none"
    return any(env.get(name, "").strip() for name in _ENDPOINT_VARIABLES)


def _check_exporter(env: Mapping[str, str]) -> None:
    exporter = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter not in ("", "otlp"):
        raise TracingConfigError(f"OTEL_TRACES_EXPORTER={exporter!r}: only 'otlp' is supported")
    for name in _PROTOCOLS:
        protocol = env.get(name, "").strip()
        if protocol:
            if protocol != "http/protobuf":
                raise TracingConfigError(f"{name}={protocol!r}: only 'http/protobuf' is supported")
            return


@dataclass(frozen=True)
class Tracing:
    """The process's tracer provider while tracing is on; `shutdown` flushes what is left."""

    provider: TracerProvider

    def tracer(self) -> trace.Tracer:
        return self.provider.get_tracer(INSTRUMENTATION_NAME)

    async def shutdown(self) -> None:
        """Exports the spans still queued, for at most FLUSH_SECONDS (plus one export in
        progress, bounded by OTEL_EXPORTER_OTLP_TIMEOUT), and stops the exporter; off the loop."""

        def flush_and_stop() -> None:
            self.provider.force_flush(timeout_millis=int(FLUSH_SECONDS * 1000))
            self.provider.shutdown()

        await asyncio.to_thread(flush_and_stop)


def start_tracing(version: str, env: Mapping[str, str] = os.environ) -> Tracing | None:
    """The process's tracing when OTEL_* asks for it, else None (then nothing is traced).

    Raises TracingConfigError when OTEL_* asks for an exporter, protocol or SDK this worker
    does not have.
    """
    if not tracing_requested(env):
        return None
    _check_exporter(env)
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        raise TracingConfigError(_MISSING_EXTRA) from None
    provider = TracerProvider(resource=Resource.create(_resource_defaults(version, env)))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return Tracing(provider)


def _resource_defaults(version: str, env: Mapping[str, str]) -> dict[str, str]:
    """The service's name and version, unless OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES
    name it (the SDK gives attributes passed in precedence over the environment's)."""
    attributes = {"service.version": version}
    named = env.get("OTEL_SERVICE_NAME", "").strip() or "service.name=" in env.get(
        "OTEL_RESOURCE_ATTRIBUTES", ""
    )
    if not named:
        attributes["service.name"] = "ecs-provisioner"
    return attributes
