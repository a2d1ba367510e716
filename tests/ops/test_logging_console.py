"""Console log lines cannot be forged: a key or value from a record (a Kafka key holding a line
break, an ESC sequence) is written with its control characters escaped, on one line, in our
own lines and in other libraries' records alike. JSON lines escape them by construction."""

from __future__ import annotations

import subprocess
import sys

PROBE = r"""
import logging, structlog
from worker.ops.logging import configure_logging
configure_logging("INFO", "console")
forged = "\n2026-01-01T00:00:00Z [error    ] forged line"
structlog.get_logger("probe").info(
    "probe-line" + forged,
    request_key="k" + forged + "\x1b[2J",
    **{"bad" + forged + "key": 1, "title": "\x1b]0;owned\x07", "separator": "a\u2028b"},
)
logging.getLogger("foreign").warning("stdlib" + forged + "\x1b[2J")
"""


def test_a_line_break_or_escape_sequence_in_a_value_cannot_forge_a_console_line() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    lines = result.stderr.splitlines()
    assert len(lines) == 2, lines  # one per log call: nothing forged
    assert "probe-line" in lines[0]
    assert "stdlib" in lines[1]
    for raw in ("\x1b[2J", "\x1b]0;", "\x07", "\u2028"):
        assert raw not in result.stderr
    assert "forged line" in lines[0]  # still there to read, escaped
