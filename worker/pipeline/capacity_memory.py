"""The pod's memory of offerings: which were sold out lately, which took a create lately.

Owns `CapacityMemory`, Karpenter's unavailable-offerings cache for this worker: an offering
(flavor x zone x charging mode, `worker.pipeline.alternatives.Offering`) answered sold out is
remembered for `ttl_seconds` (`ECSP_CAPACITY_CACHE_SECONDS`, 180 by default, as Karpenter's 3
minutes; marking it again extends it), so later requests skip it and go to their next
alternative without spending an API call. An offering whose create was accepted is remembered as
available for as long, and forgets being sold out. Neither is remembered past its TTL, nor in
more than `max_entries` offerings each (the oldest mark goes first): a publisher naming endless
flavors cannot grow the pod. A TTL of 0 remembers nothing. Time is passed in (`now`, monotonic
seconds): the memory has no clock of its own, so tests move time by hand.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Literal

from worker.pipeline.alternatives import Offering

Status = Literal["sold_out", "available", "unknown"]
DEFAULT_TTL_SECONDS = 180.0
DEFAULT_MAX_ENTRIES = 10_000


@dataclass
class CapacityMemory:
    """Offerings seen sold out, and seen available, within the last `ttl_seconds`."""

    ttl_seconds: float = DEFAULT_TTL_SECONDS
    max_entries: int = DEFAULT_MAX_ENTRIES
    _sold_out: OrderedDict[Offering, float] = field(default_factory=OrderedDict)
    _available: OrderedDict[Offering, float] = field(default_factory=OrderedDict)

    def status(self, offering: Offering, now: float) -> Status:
        """What the pod saw of `offering` within the TTL, if anything."""
        if _fresh(self._sold_out, offering, now):
            return "sold_out"
        if _fresh(self._available, offering, now):
            return "available"
        return "unknown"

    def sold_out(self, offering: Offering, now: float) -> bool:
        return self.status(offering, now) == "sold_out"

    def mark_sold_out(self, offering: Offering, now: float) -> None:
        """The API answered sold out for `offering`: skip it until now + TTL."""
        self._available.pop(offering, None)
        self._mark(self._sold_out, offering, now)

    def mark_available(self, offering: Offering, now: float) -> None:
        """The API accepted a create of `offering`: it is not sold out (for now)."""
        self._sold_out.pop(offering, None)
        self._mark(self._available, offering, now)

    def _mark(self, marks: OrderedDict[Offering, float], offering: Offering, now: float) -> None:
        if self.ttl_seconds <= 0:
            return
        marks[offering] = now + self.ttl_seconds
        marks.move_to_end(offering)
        while len(marks) > self.max_entries:
            marks.popitem(last=False)


def _fresh(marks: OrderedDict[Offering, float], offering: Offering, now: float) -> bool:
    until = marks.get(offering)
    if until is None:
        return False
    if now < until:
        return True
    del marks[offering]
    return False
