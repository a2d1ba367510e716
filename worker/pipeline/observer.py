"""Where one request's life reports what happened: the `PipelineObserver` protocol, and the
placer's `PlacementObserver`.

The metrics implement it (structurally: nothing here is inherited); the pipeline knows no
Prometheus. `SilentObserver` reports nowhere (tests, tools).
"""

from __future__ import annotations

from typing import Protocol

from ecsp_contract.events import SkipReason


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


class PlacementObserver(Protocol):
    """Told of each offering tried, found sold out, or skipped (the metrics implement it)."""

    def placement_tried(self, flavor_ref: str, availability_zone: str | None) -> None: ...

    def placement_sold_out(self, flavor_ref: str, availability_zone: str | None) -> None: ...

    def placement_skipped(
        self, flavor_ref: str, availability_zone: str | None, reason: SkipReason
    ) -> None: ...


class SilentPlacementObserver:
    def placement_tried(self, flavor_ref: str, availability_zone: str | None) -> None:
        return None

    def placement_sold_out(self, flavor_ref: str, availability_zone: str | None) -> None:
        return None

    def placement_skipped(
        self, flavor_ref: str, availability_zone: str | None, reason: SkipReason
    ) -> None:
        return None
