"""StageFailure: how each step of the pipeline says "this request ends here, failed, because…".

Owns `StageFailure`, `internal_failure` (what an unexpected exception at a stage becomes) and
`log_unexpected` (logs such an exception by type and place only: its text may echo the input,
huge numbers or secrets, so it never reaches the log).
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog

from ecsp_contract.events import Compensation, Placement, ServerInfo, SubJobInfo
from ecsp_contract.failures import FailureStage, WorkerErrorCode

log = structlog.get_logger("worker.pipeline")

#: Log lines carry at most this many traceback frames of an unexpected error.
MAX_LOGGED_FRAMES = 6


@dataclass
class StageFailure(Exception):
    """Raised inside the pipeline; turned into exactly one `failed` event."""

    stage: FailureStage
    code: str
    message: str
    retryable: bool = False
    http_status: int | None = None
    request_id: str | None = None
    details: list[dict[str, Any]] | None = None
    job_id: str | None = None
    order_id: str | None = None
    server_ids: tuple[str, ...] = ()
    sub_jobs: tuple[SubJobInfo, ...] = field(default=())
    servers: tuple[ServerInfo, ...] = ()
    compensation: Compensation | None = None
    placement: Placement | None = None
    refused_everywhere: bool = False
    """Every create of the request was refused at once (ECSP.CapacityExhausted without a job):
    retryable, yet nothing was created."""

    def __str__(self) -> str:
        return f"{self.stage}: {self.code}: {self.message}"

    @property
    def created_nothing(self) -> bool:
        """The request ends without a create the API accepted: refused or never sent (a job
        failure carries its job; a retryable failure may have reached the API)."""
        return self.refused_everywhere or (self.job_id is None and not self.retryable)


def internal_failure(stage: FailureStage, exc: BaseException) -> StageFailure:
    """The failure of a request whose processing raised `exc` unexpectedly at `stage`; names
    the exception's type only (its text may echo the input)."""
    return StageFailure(
        stage=stage,
        code=WorkerErrorCode.INTERNAL_ERROR,
        message=f"unexpected {type(exc).__name__} in the worker; see its logs",
        retryable=True,
    )


def log_unexpected(exc: BaseException) -> None:
    """Logs an unexpected exception by type and place only."""
    frames = traceback.extract_tb(exc.__traceback__)[-MAX_LOGGED_FRAMES:]
    log.error(
        "unexpected error while processing a request",
        error=type(exc).__name__,
        where=[f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in frames],
    )
