"""Trying a request's placements in order until one is not sold out: `Placer.place`.

Owns the loop over the alternatives (`worker.pipeline.alternatives`) and what each answer means
for it. The request's life in one placement is the caller's callable, so this works with any
step structure (and with fakes in tests):

- `attempt(alternative, placement)` runs the request in that placement to its end (create,
  follow the job) and returns its outcome, or raises the request's `StageFailure`; `placement`
  is what `data.placement` says if it succeeds. Whoever sends the create tells the placer as soon
  as the API answered it (`create_answered`), so requests waiting for that offering go on without
  waiting for the job.
- A capacity answer (`worker.pipeline.capacity_codes`: Ecs.0319, Ecs.0044, at create time or in
  the job) moves on to the next alternative, which has its own token. A failed job moves on only
  if it left no server behind: what its sub-jobs built was deleted by the caller's compensation
  (`failure.compensation`, with `ecs-on-partial-failure: delete`); with `keep` the built servers
  stay and the request ends with the job's failure, since another placement would create the
  whole count again next to them. A quota answer, or any other failure, ends the request at once.
- Every answer about an offering is remembered (`CapacityMemory`); later plans skip offerings
  sold out recently. An offering this pod knows nothing about is probed by one request at a time
  while other requests that have somewhere else to go wait for the first create's answer (about
  a second), so a burst for a sold-out offering costs one create, not one per request.
- When every placement was sold out (or skipped) the request fails `ECSP.CapacityExhausted`,
  retryable, at the stage of the last answer, carrying that answer's job fields; with a single
  placement (no header) the API's own code stands, as before placement existed.

Every outcome carries `data.placement`: the placement used (or last tried), every attempt with
the API's code, every skip with its reason. Tokens make this idempotent: a redelivery replans,
re-sends each alternative it reaches with that alternative's token and gets the API's first
answer back (the same job), so no placement is ever created twice.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import structlog

from ecsp_contract.events import Placement
from worker.pipeline.alternatives import Alternative, Offering, offering_of
from worker.pipeline.capacity_codes import REMEMBERED_CODES, answer_codes, classify_failure
from worker.pipeline.capacity_memory import CapacityMemory
from worker.pipeline.failure import StageFailure
from worker.pipeline.observer import PlacementObserver, SilentPlacementObserver
from worker.pipeline.placement_plan import Forbidden, Skipped, nothing_forbidden, plan
from worker.pipeline.placement_record import (
    PlacementRecord,
    capacity_exhausted,
    forbidden_failure,
    left_behind,
)

log = structlog.get_logger("worker.pipeline")

R = TypeVar("R")


@dataclass
class Placer:
    """One per process: the capacity memory, the probes in flight, the clock and the observer."""

    memory: CapacityMemory = field(default_factory=CapacityMemory)
    observer: PlacementObserver = field(default_factory=SilentPlacementObserver)
    clock: Callable[[], float] = time.monotonic
    _probes: dict[Offering, asyncio.Event] = field(default_factory=dict)

    async def place(
        self,
        alternatives: Sequence[Alternative],
        *,
        attempt: Callable[[Alternative, Placement], Awaitable[R]],
        forbidden: Forbidden = nothing_forbidden,
        resume: Alternative | None = None,
    ) -> R:
        """The outcome in the first placement that is not sold out; raises the request's
        StageFailure (with `placement` set) otherwise. `resume`: a placement an earlier delivery
        of the request created (its servers are there): it is attempted first, whatever the
        memory or the policy says (its create is answered with its first job), and only the
        placements after it may follow."""
        record = PlacementRecord(alternatives[0])
        pending = list(alternatives)
        if resume is not None:
            pending = pending[pending.index(resume) :]
        last_capacity: StageFailure | None = None
        accepted = False  # a create was accepted (its job then sold out)
        while pending:
            if resume is not None:
                nxt, resume = resume, None
            else:
                current = plan(
                    pending,
                    self.memory,
                    self.clock(),
                    forbidden=forbidden,
                    attempted=bool(record.attempts),
                )
                planned = current.to_try[0] if current.to_try else None
                for skip in current.skipped:
                    if planned is None or skip.alternative.index < planned.index:
                        self._skip(record, skip)
                        pending.remove(skip.alternative)
                if planned is None:
                    break
                nxt = planned
                if len(current.to_try) > 1 and await self._waited_for_probe(nxt.offering):
                    continue  # another request just asked the API about this offering: replan
            pending.remove(nxt)
            try:
                return await self._attempt(nxt, record, attempt)
            except _SoldOut as sold_out:
                last_capacity = sold_out.failure
                accepted = accepted or sold_out.failure.job_id is not None
        if last_capacity is None:
            raise forbidden_failure(record)
        exhausted = capacity_exhausted(last_capacity, record, single=len(alternatives) == 1)
        exhausted.refused_everywhere = not accepted
        raise exhausted

    async def _attempt(
        self,
        alternative: Alternative,
        record: PlacementRecord,
        attempt: Callable[[Alternative, Placement], Awaitable[R]],
    ) -> R:
        offering = alternative.offering
        self.observer.placement_tried(offering.flavor_ref, offering.availability_zone)
        probing = offering not in self._probes
        if probing:  # others that could go elsewhere wait for this create's answer
            self._probes[offering] = asyncio.Event()
        try:
            result = await attempt(alternative, record.if_it_succeeds(alternative))
        except StageFailure as failure:
            self._answered(alternative, record, failure)
            raise
        finally:
            if probing:
                self._release(offering)
        record.attempts.append((alternative, None))
        return result

    def create_answered(self, body: dict[str, Any], failure: StageFailure | None) -> None:
        """The API answered the create of `body` (`failure`: how it refused it): the memory
        learns about its offering, and requests waiting for that offering's answer go on."""
        offering = offering_of(body)
        if failure is None:
            self.memory.mark_available(offering, self.clock())
        elif REMEMBERED_CODES.intersection(answer_codes(failure)):
            self.memory.mark_sold_out(offering, self.clock())
        self._release(offering)

    def _release(self, offering: Offering) -> None:
        probe = self._probes.pop(offering, None)
        if probe is not None:
            probe.set()

    def _answered(
        self, alternative: Alternative, record: PlacementRecord, failure: StageFailure
    ) -> None:
        """Records the failed attempt and what it says about the offering; raises _SoldOut to
        go on to the next placement, or returns (the caller re-raises the failure) to stop."""
        record.attempts.append((alternative, failure.code))
        if classify_failure(failure) != "capacity":
            failure.placement = record.placement()
            return
        offering = alternative.offering
        self.observer.placement_sold_out(offering.flavor_ref, offering.availability_zone)
        if REMEMBERED_CODES.intersection(answer_codes(failure)):
            self.memory.mark_sold_out(offering, self.clock())
        if left_behind(failure):
            log.info(
                "placement sold out, but its job built servers: not trying another",
                flavor=offering.flavor_ref,
                zone=offering.availability_zone,
            )
            failure.placement = record.placement()
            return
        log.info(
            "placement sold out",
            flavor=offering.flavor_ref,
            zone=offering.availability_zone,
            code=failure.code,
            stage=failure.stage,
        )
        raise _SoldOut(failure)

    def _skip(self, record: PlacementRecord, skip: Skipped) -> None:
        record.skipped.append(skip)
        offering = skip.alternative.offering
        self.observer.placement_skipped(
            offering.flavor_ref, offering.availability_zone, skip.reason
        )

    async def _waited_for_probe(self, offering: Offering) -> bool:
        """Waits for another request's create of an offering this pod knows nothing about;
        True if there was one (the caller replans with its answer)."""
        probe = self._probes.get(offering)
        if probe is None or self.memory.status(offering, self.clock()) != "unknown":
            return False
        await probe.wait()
        return True


class _SoldOut(Exception):
    """An attempt was sold out and left nothing behind: try the next placement."""

    def __init__(self, failure: StageFailure) -> None:
        super().__init__(failure.code)
        self.failure = failure
