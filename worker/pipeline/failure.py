"""StageFailure: how each step of the pipeline says "this request ends here, failed, because…"."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ecsp_contract.events import Compensation, Placement, ServerInfo, SubJobInfo
from ecsp_contract.failures import FailureStage


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

    def __str__(self) -> str:
        return f"{self.stage}: {self.code}: {self.message}"
