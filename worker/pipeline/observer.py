"""Where one request's life reports what happened: the `PipelineObserver` protocol.

The metrics implement it (structurally: nothing here is inherited); the pipeline knows no
Prometheus. `SilentObserver` reports nowhere (tests, tools).
"""

from __future__ import annotations

from typing import Protocol


class PipelineObserver(Protocol):
    """Hooks of the request pipeline."""

    def request_failed(self, stage: str) -> None:
        """A request ended in a `failed` event at `stage`."""

    def job_finished(self, outcome: str, seconds: float) -> None:
        """A followed job ended: `succeeded` or the failure stage, `seconds` after the create."""

    def servers_not_deleted(self, count: int) -> None:
        """A compensation meant to delete `count` servers and could not: they still run (and
        cost); the `failed` event names them."""


class SilentObserver:
    """Records nothing."""

    def request_failed(self, stage: str) -> None:
        return None

    def job_finished(self, outcome: str, seconds: float) -> None:
        return None

    def servers_not_deleted(self, count: int) -> None:
        return None
