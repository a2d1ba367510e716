"""HTTP client spans of the ECS API calls: the client's `HttpTracer`, one span per attempt.

Each attempt the client reports (`worker.ecs.client.HttpAttempt`) becomes a CLIENT span with
its real start and end, a child of whatever span is current (the request's consumer span), with
the OpenTelemetry HTTP client semantic conventions (method, URL without query, server, status,
`error.type`) and `ecs.*` attributes (endpoint, job id, request id). Nothing of a request's
body or headers is recorded, so no secret can reach an attribute.
"""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from worker.ecs.observer import HttpAttempt


class HttpSpans:
    """Makes a span of each HTTP attempt, with `tracer`."""

    def __init__(self, tracer: trace.Tracer) -> None:
        self._tracer = tracer

    def http_attempt(self, attempt: HttpAttempt) -> None:
        url = attempt.url
        attributes: dict[str, str | int] = {
            "http.request.method": attempt.method,
            "url.full": str(url.with_query(None).with_fragment(None)),
            "url.template": attempt.route,
            "server.address": url.host or "",
            "server.port": url.port or 0,
            "ecs.endpoint": attempt.endpoint,
        }
        if attempt.status is not None:
            attributes["http.response.status_code"] = attempt.status
        if attempt.job_id is not None:
            attributes["ecs.job_id"] = attempt.job_id
        if attempt.request_id is not None:
            attributes["ecs.request_id"] = attempt.request_id
        failed = attempt.outcome != "ok"
        if failed:
            attributes["error.type"] = attempt.error_code or attempt.outcome
        span = self._tracer.start_span(
            f"{attempt.method} {attempt.route}",
            kind=SpanKind.CLIENT,
            attributes=attributes,
            start_time=attempt.started_ns,
        )
        if failed:
            span.set_status(Status(StatusCode.ERROR, attempt.outcome))
        span.end(end_time=attempt.started_ns + int(attempt.seconds * 1e9))
