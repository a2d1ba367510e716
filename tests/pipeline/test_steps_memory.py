"""While a job is followed (for minutes, 10,000 at a time), nothing of the request's body is held.

The steps hand one `Request` along and replace its state as they go (`worker.pipeline.state`);
a step that kept its own state in a variable across the await of the next step would hold the
parsed document, the model and the body with the password for as long as the job runs. This
counts the states alive while the job is read, and a planted defect shows the count can fail.
"""

from __future__ import annotations

import gc
import json
from dataclasses import dataclass
from typing import Any

from ecsp_contract.failures import FailureStage
from ecsp_contract.request import CreateServersBody
from tests.support.pipeline import example, message, pipeline_for, settings
from tests.support.scripted_api import ACCEPTED, ScriptedApi, job
from worker.ecs.models import CreateResult, JobStatus
from worker.pipeline.middleware import StageGuard
from worker.pipeline.port import Outcome
from worker.pipeline.state import DecodedRequest, Parsed, Request, Resolved, Step, Validated

LARGE = (Parsed, Validated, Resolved, DecodedRequest, CreateServersBody)
#: The server name of the request: a parsed document, wire body or body to send holds it.
NAME = "memory-probe-7c1f"


def alive() -> dict[str, int]:
    """The large states alive, and the dicts of this request's server (`server_dicts`)."""
    gc.collect()
    counts: dict[str, int] = {}
    for obj in gc.get_objects():
        kind = type(obj)  # not isinstance: it would call __instancecheck__ on lazy modules
        if kind in LARGE:
            counts[kind.__name__] = counts.get(kind.__name__, 0) + 1
        elif kind is dict and obj.get("name") == NAME:
            counts["server_dicts"] = counts.get("server_dicts", 0) + 1
    return counts


class Counting(ScriptedApi):
    """Counts the large states alive at each job read (the job is followed meanwhile)."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.seen: list[dict[str, int]] = []

    async def create_servers(
        self, body: dict[str, Any], client_token: str, project_id: str
    ) -> CreateResult:
        result = await super().create_servers(body, client_token, project_id)
        self.bodies.clear()  # a double's record of what was sent is not the pipeline's
        return result

    async def get_job(self, job_id: str, project_id: str) -> JobStatus:
        self.seen.append(alive())
        return await super().get_job(job_id, project_id)


@dataclass(frozen=True)
class Holding:
    """The planted defect: a step that keeps its state in a variable while the next one runs."""

    step: Step[Any]
    stage: FailureStage

    async def __call__(self, request: Request[Any]) -> Outcome:
        state = request.state
        outcome = await self.step(request)
        assert state is not None
        return outcome


def holding(step: Step[Any], stage: FailureStage) -> Step[Any]:
    return Holding(step, stage)


def probe() -> bytes:
    document = example("01-prepaid-keypair.json")
    document["server"]["name"] = NAME
    return json.dumps(document).encode()


def api() -> Counting:
    return Counting(ACCEPTED, [job("RUNNING"), job("SUCCESS", ("SUCCESS", ACCEPTED.server_ids[0]))])


async def test_no_step_keeps_the_body_while_the_job_is_followed() -> None:
    before, counting = alive(), api()
    event = await pipeline_for(settings(), counting).process(message(probe()))
    assert event.type == "ecs.provisioning.succeeded"
    assert counting.seen == [before, before]


async def test_a_step_holding_its_state_is_caught() -> None:
    before, counting = alive(), api()
    pipeline = pipeline_for(settings(), counting, middlewares=(StageGuard, holding))
    await pipeline.process(message(probe()))
    held = counting.seen[0]
    assert held != before
    assert held["Resolved"] == before.get("Resolved", 0) + 1
    assert held["server_dicts"] > before.get("server_dicts", 0)
