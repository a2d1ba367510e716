"""A request's deadline: counted from when it was published, cut short by the token window.

Owns `RequestDeadline`. A request may wait (for the API during an outage, for the rate limit,
for its job) until `published + budget`, where `published` is the record's timestamp, so a
redelivered request keeps the deadline it was published with. Once a create may have reached the
API, the request must also end within the window (8 hours) in which the API remembers its
X-Client-Token, less a margin for clock skew: past it a re-sent create would no longer be
recognised as the same request.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

#: Ends a request this long before its token window closes (clock skew, the last calls), or a
#: tenth of the window if that is shorter (test setups shrink the window to seconds).
TOKEN_WINDOW_MARGIN_SECONDS = 300.0


@dataclass(frozen=True)
class RequestDeadline:
    """When a request must end, on the monotonic clock, and why that moment."""

    published: datetime
    budget: float
    at: float
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    capped_by_token_window: bool = False

    @classmethod
    def starting(
        cls,
        published: datetime,
        budget: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> RequestDeadline:
        """The deadline of a request published at `published` (a record's timestamp) with
        `budget` seconds. A timestamp in the future (a publisher's skewed clock) counts as now."""
        age = max(0.0, wall() - published.timestamp())
        return cls(published, budget, clock() + budget - age, clock)

    def remaining(self) -> float:
        return self.at - self.clock()

    def passed(self) -> bool:
        return self.remaining() <= 0

    def before_token_expires(self, token_window: float) -> RequestDeadline:
        """This deadline, cut short for a create about to be sent: the request must end within
        the `token_window` seconds in which the API remembers its token (8 h;
        `ECSP_TOKEN_WINDOW_SECONDS`)."""
        margin = min(TOKEN_WINDOW_MARGIN_SECONDS, token_window / 10)
        window_end = self.clock() + token_window - margin
        if window_end >= self.at:
            return self
        return replace(self, at=window_end, capped_by_token_window=True)

    def describe(self) -> str:
        """Why the deadline is when it is, for a failure message."""
        published = self.published.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        if self.capped_by_token_window:
            return (
                f"published {published}; ended before the API forgets its X-Client-Token "
                f"(the token window after the first create attempt)"
            )
        return f"published {published}, deadline {self.budget:g} s after publishing"
