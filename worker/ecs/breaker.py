"""Circuit breaker around the ECS API: an outage makes callers wait instead of spending attempts.

Owns: ``BreakerConfig``, ``CircuitBreaker`` and the three states. Outage signals (5xx, no
response, timeouts) in a row open the breaker; while it is open no call goes out, callers are
refused at once (``admit`` is False) and can ``wait_available``. After a backoff one call is let
through as a probe (half-open); any answer from the API (2xx, 4xx, even 429: the API is there)
closes the breaker, another outage signal re-opens it with a doubled backoff. Throttling is not
an outage: the adaptive rate (``ratelimit.py``) handles it. The breaker knows nothing of Kafka or
requests.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

CircuitState = Literal["closed", "open", "half_open"]


@dataclass(frozen=True)
class BreakerConfig:
    """Open after ``failure_threshold`` outage signals in a row; probe after a growing backoff.

    The n-th probe after opening comes ``min(probe_max, probe_initial * 2**(n-1))`` seconds
    after the previous one failed.
    """

    failure_threshold: int = 5
    probe_initial: float = 2.0
    probe_max: float = 60.0

    def __post_init__(self) -> None:
        if self.failure_threshold < 1:
            raise ValueError("failure_threshold must be >= 1")
        if not 0 < self.probe_initial <= self.probe_max:
            raise ValueError("probe delays must satisfy 0 < initial <= max")

    def probe_delay(self, failed_probes: int) -> float:
        return min(self.probe_max, self.probe_initial * 2.0 ** min(failed_probes, 62))


class CircuitBreaker:
    """One per process, shared by every API call. Not thread-safe: one event loop."""

    def __init__(
        self,
        config: BreakerConfig | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[CircuitState], None] | None = None,
    ) -> None:
        self.config = config or BreakerConfig()
        self._clock = clock
        self._on_change = on_change
        self._state: CircuitState = "closed"
        self._outages_in_a_row = 0
        self._failed_probes = 0
        self._probe_at = 0.0
        self._changed = asyncio.Event()

    @property
    def state(self) -> CircuitState:
        return self._state

    @property
    def reason(self) -> str:
        return f"ECS API circuit {self._state.replace('_', '-')}"

    def admit(self) -> bool:
        """May a call go out now? In the open state the first caller after the backoff is the
        probe (the state becomes half-open); everyone else is refused until it answers."""
        if self._state == "closed":
            return True
        if self._state == "open" and self._clock() >= self._probe_at:
            self._set("half_open")
            return True
        return False

    def succeeded(self) -> None:
        """The API answered (any status but an outage signal): it is up."""
        self._outages_in_a_row = 0
        if self._state != "closed":
            self._failed_probes = 0
            self._set("closed")

    def outage(self) -> None:
        """A call got a 5xx, no response or a timeout."""
        self._outages_in_a_row += 1
        if self._state == "half_open":
            self._failed_probes += 1
            self._open()
        elif self._state == "closed" and self._outages_in_a_row >= self.config.failure_threshold:
            self._open()

    def throttled(self) -> None:
        """A 429: the API is there but busy. Neither an outage nor a reset of the streak; a
        throttled probe closes the breaker (the adaptive rate slows the calls down)."""
        if self._state == "half_open":
            self.succeeded()

    def abandoned(self) -> None:
        """A call admitted by ``admit`` ended without an answer (cancelled): if it was the
        probe, the next caller may probe at once."""
        if self._state == "half_open":
            self._probe_at = self._clock()
            self._set("open")

    async def wait_available(self, within: float) -> bool:
        """Wait until the breaker is closed or a probe is due; False if ``within`` seconds passed
        first."""
        until = self._clock() + within
        while True:
            now = self._clock()
            if self._state == "closed" or (self._state == "open" and now >= self._probe_at):
                return True
            if now >= until:
                return False
            wake = until - now
            if self._state == "open":
                wake = min(wake, self._probe_at - now)
            changed = self._changed
            try:
                async with asyncio.timeout(wake):
                    await changed.wait()
            except TimeoutError:
                pass

    def _open(self) -> None:
        self._probe_at = self._clock() + self.config.probe_delay(self._failed_probes)
        self._set("open")

    def _set(self, state: CircuitState) -> None:
        if state == self._state:
            return
        self._state = state
        self._changed.set()  # wake every waiter; later waiters use a fresh event
        self._changed = asyncio.Event()
        if self._on_change is not None:
            self._on_change(state)
