"""One line that keeps being rewritten while a command waits, on a terminal only.

`ProgressLine` shows a spinner, a status text and the seconds waited, redrawn in place (carriage
return, erase line) at most every `REDRAW_SECONDS`, so a long wait is one line, not a flood.
When the stream is not a terminal (a CI log, a pipe) it writes nothing at all. `clear()` erases
it before the command prints its result.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TextIO

SPINNER = "|/-\\"
REDRAW_SECONDS = 0.25
_ERASE = "\r\x1b[K"


class ProgressLine:
    """A rewritten status line on `stream` when it is a terminal (or `enabled` says so)."""

    def __init__(
        self,
        stream: TextIO,
        *,
        enabled: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stream = stream
        self._enabled = stream.isatty() if enabled is None else enabled
        self._clock = clock
        self._started = clock()
        self._drawn_at: float | None = None
        self._frame = 0
        self._text = ""
        self._shown = False

    def update(self, text: str) -> None:
        """Show `text` from now on (redrawn at once)."""
        self._text = text
        self._drawn_at = None
        self.tick()

    def tick(self) -> None:
        """Redraw the line if it is due (the spinner turns, the seconds count up)."""
        now = self._clock()
        if not self._enabled or (
            self._drawn_at is not None and now - self._drawn_at < REDRAW_SECONDS
        ):
            return
        self._frame = (self._frame + 1) % len(SPINNER)
        waited = int(now - self._started)
        self._stream.write(f"{_ERASE}{SPINNER[self._frame]} {self._text} ({waited}s)")
        self._stream.flush()
        self._drawn_at = now
        self._shown = True

    def clear(self) -> None:
        """Erase the line, so the next output starts at the line's beginning."""
        if self._shown:
            self._stream.write(_ERASE)
            self._stream.flush()
            self._shown = False
