"""Process-wide token-bucket rate limiter for API calls.

Owns: ``TokenBucket``. One instance per process is shared by create and job calls so a fleet
of N workers stays under N * rate requests/second. Waiters are served in arrival order: each
``acquire`` reserves the next token (the balance may go negative) and sleeps until it is due.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` saved up; ``rate <= 0`` disables limiting."""

    def __init__(
        self,
        rate: float,
        burst: int = 1,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.rate = rate
        self.burst = max(1, burst)
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(self.burst)
        self._updated = clock()

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
        self._updated = now

    async def acquire(self) -> None:
        """Wait until a request may be sent. Cancelling the wait gives the token back."""
        if not self.enabled:
            return
        self._refill()
        self._tokens -= 1.0
        if self._tokens >= 0:
            return
        try:
            await self._sleep(-self._tokens / self.rate)
        except BaseException:
            self._tokens += 1.0
            raise
