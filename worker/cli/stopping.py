"""How a CLI command that talks to Kafka ends on SIGINT or SIGTERM: within about two seconds.

Why the commands need this rather than Python's own KeyboardInterrupt: Python turns SIGINT into
KeyboardInterrupt only when the process did not inherit SIGINT as *ignored*, and every
background job of a non-interactive shell does inherit it ignored (a CI step, `make run &`, a
test runner started that way, and then everything it starts). Such a command never noticed
Ctrl-C at all. SIGTERM, by default, kills the process without any clean-up.

`run_until_stopped` runs the command's coroutine with handlers of its own for both signals:

- the first signal cancels the command's task, so its `finally` blocks stop the Kafka clients;
- a command in a phase that only a signal ends (following events) says so with
  `Stop.ends_normally`; the signal then exits 0, otherwise 128 + its number (130 for SIGINT,
  143 for SIGTERM), the shells' convention;
- a second signal, or a clean-up still running `HARD_EXIT_SECONDS` after the first, ends the
  process at once with that same code: a swallowed cancellation or a clean-up waiting on a dead
  broker cannot keep it alive.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

#: After the first signal, the clean-up gets this long before the process exits regardless.
HARD_EXIT_SECONDS = 2.0
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@dataclass
class Stop:
    """How a signal should end the running command; the command may set `ends_normally`."""

    ends_normally: bool = False
    signum: int | None = None

    def exit_code(self) -> int:
        """0 when the command was in a phase only a signal ends, else 128 + the signal."""
        assert self.signum is not None, "no signal was received"
        return 0 if self.ends_normally else 128 + self.signum


def _exit_now(stop: Stop) -> None:
    """Ends the process without waiting for anything more (the last resort)."""
    print("ecs-provisioner: stopped before its clean-up finished", file=sys.stderr)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(stop.exit_code())


def run_until_stopped(command: Callable[[Stop], Coroutine[Any, Any, int]]) -> int:
    """Runs `command(stop)` in a new event loop and returns its exit code; see the module doc."""
    stop = Stop()
    deadline = threading.Timer(HARD_EXIT_SECONDS, _exit_now, (stop,))
    deadline.daemon = True

    async def main() -> int:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None

        def on_signal(signum: int) -> None:
            if stop.signum is not None:
                _exit_now(stop)
            stop.signum = signum
            task.cancel()
            deadline.start()

        for signum in STOP_SIGNALS:
            loop.add_signal_handler(signum, on_signal, signum)
        try:
            return await command(stop)
        except asyncio.CancelledError:
            if stop.signum is None:
                raise
            return stop.exit_code()
        finally:
            for signum in STOP_SIGNALS:
                loop.remove_signal_handler(signum)

    try:
        return asyncio.run(main())
    finally:
        deadline.cancel()  # the loop and its clean-up ended in time
