"""Deleting the servers a failed job did create (``on-partial-failure: delete``).

Owns the `Compensate` step (around following the job: when the job failed) and
`not_compensated`; `worker.pipeline.deletion.compensate` deletes what the job built, with what
the request itself created besides servers (`submit.delete_flags`: a new EIP, data volumes).

The choice is the first create's, not the message's: a record's key, value and headers are
claims, and a replay of a key with another header must not delete servers its first create
chose to keep. The create records the choice on the servers (`tagging.RequestTag`), and
`compensate` deletes only a server whose own tags say ``delete`` for this request; a server
created without that tag (an earlier release's body, or no room for tags) is never deleted.

Whatever is not deleted is named, with the reason, in the `failed` event.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import ClassVar, Protocol

from ecsp_contract.events import Compensation, ServerNotDeleted, SubJobInfo
from ecsp_contract.failures import FailureStage
from worker.pipeline.deletion import ServerDeleter, built_servers, compensate
from worker.pipeline.failure import StageFailure
from worker.pipeline.port import Outcome
from worker.pipeline.schedule import JobSchedule
from worker.pipeline.state import Created, Request, Step


class CompensationObserver(Protocol):
    def servers_not_deleted(self, count: int) -> None:
        """A compensation left `count` servers of a failed job it should have deleted."""


class NoCompensationObserver:
    def servers_not_deleted(self, count: int) -> None:
        return None


@dataclass(frozen=True)
class Compensate:
    """Deletes what a failed job built when the request chose ``delete``; its own deadline,
    as long as a request's."""

    api: ServerDeleter
    schedule: JobSchedule
    deadline_seconds: float
    next_step: Step[Created]
    observer: CompensationObserver = NoCompensationObserver()  # noqa: RUF009 - stateless
    stage: ClassVar[FailureStage] = FailureStage.JOB

    async def __call__(self, request: Request[Created]) -> Outcome:
        try:
            return await self.next_step(request)
        except StageFailure as failure:
            if failure.stage == FailureStage.JOB:
                failure.compensation = await self.compensation(request.state, failure)
            raise

    async def compensation(self, state: Created, failure: StageFailure) -> Compensation | None:
        """What becomes of the servers the failed job built: deleted when the first create of
        the key chose ``delete`` (its request tag on the servers); kept otherwise, saying why
        when this message asked for their deletion."""
        recorded = state.request_tag
        if recorded is not None and recorded.on_partial_failure == "delete":
            compensation = await compensate(
                self.api,
                failure.sub_jobs,
                project_id=state.project_id,
                token=state.token,
                digest=recorded.digest,
                flags=state.delete_flags,
                schedule=self.schedule,
                deadline=time.monotonic() + self.deadline_seconds,
            )
            if compensation is not None and compensation.not_deleted:
                self.observer.servers_not_deleted(len(compensation.not_deleted))
            return compensation
        if state.on_partial_failure != "delete":
            return None
        if recorded is None:
            why = (
                "created without the worker's request tag "
                f"(tagging: {state.tagging}): nothing says it may be deleted"
            )
        else:
            why = "the first create of this key chose keep; a later header cannot change it"
        return not_compensated(failure.sub_jobs, why)


def not_compensated(sub_jobs: tuple[SubJobInfo, ...], reason: str) -> Compensation | None:
    """The compensation of a request that asked for deletion but whose servers do not allow
    it: every built server kept, with the reason, and no API call."""
    built = built_servers(sub_jobs)
    if not built:
        return None
    kept = [ServerNotDeleted(server_id=sid, reason=reason) for sid in built]
    return Compensation(action="delete", deleted=[], not_deleted=kept)
