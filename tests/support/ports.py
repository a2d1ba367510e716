"""TCP ports for tests that must hand a port NUMBER to another process (a script, a broker).

Binding port 0 and passing the number on is racy: the port is free again until the other process
binds it, and the kernel hands the same ephemeral ports to every outgoing connection on the box.
`reserved_ports` instead takes ports from a fixed band below the kernel's ephemeral range (so no
outgoing connection ever gets one), holds an exclusive lock file per port for as long as the test
runs (so a second copy of the suite, e.g. another worktree's, picks other ports), and skips ports
something else already listens on or holds.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
from collections.abc import Iterator
from pathlib import Path

BAND = range(23100, 23900)  # below Linux's default ephemeral range (32768-60999)
LOCK_DIR = Path(os.environ.get("ECSP_TEST_PORT_LOCK_DIR", "/tmp/ecsp-test-ports"))


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@contextlib.contextmanager
def reserved_ports(count: int, band: range = BAND) -> Iterator[list[int]]:
    """`count` distinct ports of `band`, each locked for this process until the block ends."""
    LOCK_DIR.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        ports: list[int] = []
        for port in band:
            if len(ports) == count:
                break
            handle = stack.enter_context((LOCK_DIR / f"{port}.lock").open("w"))
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # another test run holds it
            if _bindable(port):
                ports.append(port)
        if len(ports) < count:
            raise RuntimeError(f"fewer than {count} free ports in {band}")
        yield ports
