"""Where one request's life reports what happened: the `PipelineObserver` protocol.

The metrics implement it; the pipeline knows no Prometheus. Every hook does nothing by default
and implementers subclass the protocol explicitly, so adding a hook is one method here plus its
call, and only the observers that record it override it.
"""

from __future__ import annotations

from typing import Protocol

from ecsp_contract.failures import FailureStage


class PipelineObserver(Protocol):
    """Hooks of the request pipeline; each one is a no-op unless an observer overrides it."""

    def request_failed(self, stage: FailureStage) -> None:
        """A request ended in a `failed` event at `stage`."""
        return None

    def job_finished(self, outcome: str, seconds: float) -> None:
        """A followed job ended: `succeeded` or the failure stage, `seconds` after the create."""
        return None

    def servers_not_deleted(self, count: int) -> None:
        """A compensation meant to delete `count` servers and could not: they still run (and
        cost); the `failed` event names them."""
        return None


class SilentObserver(PipelineObserver):
    """Records nothing (tests, tools)."""
