"""One line per event, and the exit code a wait ends with, from real example events."""

from __future__ import annotations

from datetime import datetime

import pytest

from ecsp_contract.event_examples import example_event
from ecsp_contract.events import EventType
from worker.cli.outcome import age, is_terminal, parse_event, summary, wait_exit_code


def example(event_type: EventType) -> dict[str, object]:
    event = parse_event(example_event(event_type).model_dump_json().encode())
    assert event is not None
    return event


def test_each_event_type_in_one_line_with_what_a_reader_needs() -> None:
    succeeded = example(EventType.SUCCEEDED)
    data = succeeded["data"]
    assert isinstance(data, dict)
    assert summary(succeeded) == (
        f"succeeded: servers {', '.join(data['server_ids'])} (job {data['job_id']})"
    )
    failed = example(EventType.FAILED)
    line = summary(failed)
    assert line.startswith("failed at ")
    assert str(failed["data"]["error"]["code"]) in line  # type: ignore[index]
    assert "\n" not in line
    assert summary(example(EventType.SUBMITTED)).endswith("(in progress)")
    assert summary(example(EventType.AWAITING_PAYMENT)).startswith("awaiting payment: order ")
    assert summary(example(EventType.VALIDATED)).startswith("validated")


@pytest.mark.parametrize(
    ("event_type", "terminal", "code"),
    [
        (EventType.SUCCEEDED, True, 0),
        (EventType.VALIDATED, True, 0),
        (EventType.FAILED, True, 1),
        (EventType.SUBMITTED, False, None),
        (EventType.AWAITING_PAYMENT, False, None),
    ],
)
def test_terminal_events_and_their_exit_codes(
    event_type: EventType, terminal: bool, code: int | None
) -> None:
    event = example(event_type)
    assert is_terminal(event) is terminal
    if terminal:
        assert wait_exit_code(event) == code


@pytest.mark.parametrize("value", [None, b"", b"[]", b"{not json", b'{"type": "x"}', b"\xff"])
def test_what_is_not_an_event_is_none(value: bytes | None) -> None:
    assert parse_event(value) is None


def test_age() -> None:
    published = datetime.fromisoformat("2026-01-01T00:00:00+00:00").timestamp()
    event = {"time": "2026-01-01T00:00:00Z", "data": {}}
    assert age(event, now=published + 42) == "42s ago"
    assert age(event, now=published + 3 * 60) == "3m ago"
    assert age(event, now=published + 5 * 3600) == "5h ago"
    assert age(event, now=published + 3 * 86400) == "3d ago"
    assert age({"data": {}}, now=published) == "at an unknown time"
