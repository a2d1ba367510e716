"""The request pipeline as the service composes it, for tests without a broker: builders of
settings, records and bodies, and `pipeline_for`, which composes the steps around a double.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ecsp_contract.cloudevent import CloudEvent
from worker.assembly import pipeline_parts, poll_schedule
from worker.consumer.holds import IntakeHolds
from worker.ops.metrics import Metrics
from worker.ops.settings import Settings
from worker.pipeline.bulk_follow import BulkFollower, BulkPacing
from worker.pipeline.compose import EcsApi, compose
from worker.pipeline.follow import OwnSchedule, Pacing
from worker.pipeline.guardrails import GuardrailsParts
from worker.pipeline.middleware import Middleware, StageGuard
from worker.pipeline.observer import PipelineObserver, SilentObserver
from worker.pipeline.placement import Placer
from worker.pipeline.port import InboundMessage, Outcome, ProgressSink, RequestHandler
from worker.pipeline.secrets import SecretSource
from worker.tenancy.model import TenantsDocument

EXAMPLES = Path(__file__).parents[2] / "schemas" / "ecsp_contract" / "examples"
PROJECT = "0605767ea3000f5b2fe8c0051de0b9ba"
SECRET_VALUE = "Sup3r-Secret!pw"


def example(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((EXAMPLES / name).read_text())
    return document


def settings(**overrides: Any) -> Settings:
    base: dict[str, Any] = {
        "ecs_project_id": PROJECT,
        "job_poll_initial_seconds": 0.005,
        "job_poll_max_seconds": 0.01,
        "request_deadline_seconds": 5.0,
        "secret_env_prefix": "TEST_ECSP_SECRET_",
    }
    return Settings(**{**base, **overrides})


def message(
    value: bytes | None, key: bytes | None = b"req-1", *, topic: str = "requests", **kw: Any
) -> InboundMessage:
    return InboundMessage(
        topic=topic,
        partition=0,
        offset=7,
        key=key,
        value=value,
        timestamp_ms=int(time.time() * 1000),  # published just now: the deadline counts from it
        **kw,
    )


def body(name: str = "01-prepaid-keypair.json", **server_changes: Any) -> bytes:
    document = example(name)
    document["server"].update(server_changes)
    return json.dumps(document).encode()


@dataclass(frozen=True)
class ComposedPipeline:
    """A composed handler, and `process` for tests that look at the terminal event only."""

    handler: RequestHandler

    async def __call__(self, message: InboundMessage, progress: ProgressSink | None) -> Outcome:
        return await self.handler(message, progress)

    async def process(
        self, message: InboundMessage, progress: ProgressSink | None = None
    ) -> CloudEvent:
        return (await self.handler(message, progress)).event


def pipeline_for(
    s: Settings,
    api: EcsApi,
    *,
    secrets: SecretSource | None = None,
    observer: PipelineObserver | None = None,
    guardrails: GuardrailsParts | None = None,
    follower: BulkFollower | None = None,
    intake: IntakeHolds | None = None,
    placer: Placer | None = None,
    middlewares: Sequence[Middleware] = (StageGuard,),
    tenants: TenantsDocument | None = None,
) -> ComposedPipeline:
    """The steps composed as `worker.service` composes them, around `api` (`secrets`: the
    default tenant's scope)."""
    pacing: Pacing = OwnSchedule(poll_schedule(s))
    if follower is not None:
        pacing = BulkPacing(follower, poll_schedule(s))
    parts = pipeline_parts(
        s,
        api,
        intake=intake or IntakeHolds(),
        pacing=pacing,
        observer=Metrics(),
        guardrails=guardrails,
        tenants=tenants or TenantsDocument(),
    )
    parts = replace(parts, observer=observer or SilentObserver())
    if placer is not None:
        parts = replace(parts, placer=placer)
    if secrets is not None:
        parts = replace(parts, secrets=replace(parts.secrets, default=secrets))
    return ComposedPipeline(compose(parts, middlewares))
