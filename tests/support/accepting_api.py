"""An ECS API double that accepts every create and reports every job done, and the pipeline
composed around it: the fuzz tests' stand-in for the cloud."""

from __future__ import annotations

from typing import Any

from tests.support.fake_servers import NoServersListed
from tests.support.pipeline import ComposedPipeline, pipeline_for
from worker.ecs.models import CreateResult, JobStatus, SubJob
from worker.ops.settings import Settings
from worker.pipeline.secrets import SecretSource

PROJECT = "0605767ea3000f5b2fe8c0051de0b9ba"


SERVER = "11111111-1111-4111-8111-111111111111"


TERMINAL = {"ecs.provisioning.succeeded", "ecs.provisioning.validated", "ecs.provisioning.failed"}


class AcceptingApi(NoServersListed):
    """Accepts every create and reports every job done; counts the creates."""

    def __init__(self) -> None:
        self.creates = 0

    async def create_servers(
        self, body: dict[str, Any], client_token: str, project_id: str
    ) -> CreateResult:
        self.creates += 1
        dry = body.get("dry_run") is True
        return CreateResult(None if dry else "job-1", None, () if dry else (SERVER,), dry, "r", 1)

    async def wait_available(self, within: float) -> bool:
        raise AssertionError("the API is never unavailable here")

    async def get_job(self, job_id: str, project_id: str) -> JobStatus:
        sub = SubJob("sub-1", "SUCCESS", SERVER, None, None, None, None)
        return JobStatus(job_id, "SUCCESS", (sub,), None, None, None, None, "r")


class AnySecret(SecretSource):
    """Every `$NAME` reference resolves to a password the API rules accept."""

    async def lookup(self, name: str) -> str | None:
        return "Fuzz!Passw0rd-42"


def pipeline(api: AcceptingApi) -> ComposedPipeline:
    config = Settings(
        ecs_project_id=PROJECT,
        job_poll_initial_seconds=0.001,
        job_poll_max_seconds=0.002,
        request_deadline_seconds=5.0,
    )
    return pipeline_for(config, api, secrets=AnySecret("", None))
