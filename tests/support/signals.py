"""Starting a process the way a background job of a non-interactive shell starts: SIGINT ignored."""

from __future__ import annotations

#: Runs argv[1:] with SIGINT ignored, as a background job of a non-interactive shell has it.
IGNORING_SIGINT = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_IGN); "
    "os.execv(sys.argv[1], sys.argv[1:])"
)
