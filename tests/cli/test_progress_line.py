"""The progress line: one line rewritten in place on a terminal, nothing in a log."""

from __future__ import annotations

import io

from tests.support.clock import FakeClock
from worker.cli.progress_line import REDRAW_SECONDS, ProgressLine


def test_on_a_terminal_the_line_is_rewritten_at_most_every_redraw_interval() -> None:
    out, clock = io.StringIO(), FakeClock(100.0)
    line = ProgressLine(out, enabled=True, clock=clock)
    line.update("k: waiting")
    clock.now += REDRAW_SECONDS / 2
    line.tick()  # too soon: nothing
    clock.now += REDRAW_SECONDS
    line.tick()
    clock.now += 1.0
    line.update("k: submitted")  # a new text is drawn at once
    line.clear()
    frames = out.getvalue().split("\r\x1b[K")
    assert frames == ["", "/ k: waiting (0s)", "- k: waiting (0s)", "\\ k: submitted (1s)", ""]
    assert "\n" not in out.getvalue()


def test_anything_but_a_terminal_gets_nothing() -> None:
    out = io.StringIO()  # isatty() is False, as for a CI log or a pipe
    line = ProgressLine(out)
    line.update("k: waiting")
    line.tick()
    line.clear()
    assert out.getvalue() == ""
