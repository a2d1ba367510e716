"""What wraps every step, the way faststream's middlewares wrap a handler.

Owns `Middleware` (a step and its stage in, a step out) and `StageGuard`, the one every step
gets (`worker.pipeline.compose`): an exception its step did not foresee (a bug, a value no check
foresaw) becomes `ECSP.InternalError` at that step's stage instead of escaping, so the partition
keeps moving and the event says how far the request got. Another cross-cutting concern (a span
or a timer per step, a logging context) is one more middleware in the composition's list.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from ecsp_contract.failures import FailureStage
from worker.pipeline.failure import StageFailure, internal_failure, log_unexpected
from worker.pipeline.port import Outcome
from worker.pipeline.state import Request, Step

S = TypeVar("S")

Middleware = Callable[[Step[Any], FailureStage], Step[Any]]


@dataclass(frozen=True)
class StageGuard(Generic[S]):
    """Turns an unexpected exception of `step` into an internal failure at `stage`."""

    step: Step[S]
    stage: FailureStage

    async def __call__(self, request: Request[S]) -> Outcome:
        try:
            return await self.step(request)
        except StageFailure:
            raise
        except Exception as exc:
            log_unexpected(exc)
            raise internal_failure(self.stage, exc) from None
