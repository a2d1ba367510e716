"""What one request's life needs from the configuration, and nothing else.

The service fills it from the process settings (`worker.service.pipeline_config`); the pipeline
never sees Kafka topics, credentials or the other settings.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from ecsp_contract.extensions import ExtraField
from worker.pipeline.follow import JobSchedule
from worker.pipeline.submit import SubmitPolicy
from worker.pipeline.tagging import OnPartialFailure


@dataclass(frozen=True)
class PipelineConfig:
    """The settings a request is processed with (meanings: the README's configuration table)."""

    event_source: str
    token_namespace: uuid.UUID
    default_project: str
    allowed_projects: frozenset[str]
    max_request_bytes: int
    include_request: bool
    redact_fields: tuple[str, ...]
    request_deadline_seconds: float
    schedule: JobSchedule
    submit: SubmitPolicy = field(default_factory=SubmitPolicy)
    on_partial_failure: OnPartialFailure = "keep"
    partial_failure_header_allowed: bool = True
    extra_fields: tuple[ExtraField, ...] = ()
