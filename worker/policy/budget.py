"""The hourly server budget: servers created per project in a sliding window, in this process.

`try_spend` records servers when they fit under the limit right now; `spend` waits for room,
first come first served per project, until a deadline. The limit is asked for again on every
check, so a policy reload applies to requests already waiting. Spent servers can be refunded
when the API refused the create. Counting is per process: with N worker pods a project may get up
to N times the budget (see docs/guardrails.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass

#: Longest wait between two checks of a waiting request (a policy reload may raise the limit).
RECHECK_SECONDS = 1.0

Limit = Callable[[], int | None]


@dataclass(eq=False)
class Spending:
    """Servers recorded in the window at a time; `refund()` removes them again."""

    budget: HourlyBudget
    project_id: str
    at: float
    servers: int

    def refund(self) -> None:
        self.budget.refund(self)


class HourlyBudget:
    """Sliding-window counts of servers per project (the window is an hour unless shortened)."""

    def __init__(
        self, window_seconds: float = 3600.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._window = window_seconds
        self._clock = clock
        self._spent: defaultdict[str, deque[Spending]] = defaultdict(deque)
        self._waiting: defaultdict[str, deque[object]] = defaultdict(deque)
        self._changed = asyncio.Event()

    def used(self, project_id: str) -> int:
        """Servers of `project_id` recorded within the window."""
        spent = self._spent.get(project_id)
        if not spent:
            return 0
        horizon = self._clock() - self._window
        while spent and spent[0].at <= horizon:
            spent.popleft()
        return sum(s.servers for s in spent)

    def try_spend(self, project_id: str, servers: int, limit: int | None) -> Spending | None:
        """Records `servers` if nobody waits before them and they fit now; else None."""
        if self._waiting.get(project_id) or not self._fits(project_id, servers, limit):
            return None
        return self._record(project_id, servers)

    async def spend(
        self, project_id: str, servers: int, limit: Limit, deadline: float
    ) -> Spending | None:
        """Waits for room (in arrival order per project); None when `deadline` passes first."""
        ticket = object()
        queue = self._waiting[project_id]
        queue.append(ticket)
        try:
            while True:
                if queue[0] is ticket and self._fits(project_id, servers, limit()):
                    return self._record(project_id, servers)
                now = self._clock()
                if now >= deadline:
                    return None
                await self._wait_for_change(min(deadline - now, self._until_expiry(project_id)))
        finally:
            queue.remove(ticket)
            if not queue:
                del self._waiting[project_id]
            self._notify()

    def refund(self, spending: Spending) -> None:
        spent = self._spent.get(spending.project_id)
        if spent is not None and spending in spent:
            spent.remove(spending)
            self._notify()

    def _fits(self, project_id: str, servers: int, limit: int | None) -> bool:
        return limit is None or self.used(project_id) + servers <= limit

    def _record(self, project_id: str, servers: int) -> Spending:
        spending = Spending(self, project_id, self._clock(), servers)
        self._spent[project_id].append(spending)
        return spending

    def _until_expiry(self, project_id: str) -> float:
        self.used(project_id)  # drops what left the window
        spent = self._spent.get(project_id)
        if not spent:
            return RECHECK_SECONDS
        return max(0.01, min(RECHECK_SECONDS, spent[0].at + self._window - self._clock()))

    async def _wait_for_change(self, seconds: float) -> None:
        changed = self._changed
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await changed.wait()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()
