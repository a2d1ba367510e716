"""aiokafka's transient errors during a rolling broker restart: one WARNING per node per state
change instead of hundreds of ERROR lines; what needs a human stays ERROR."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from tests.support.clock import FakeClock
from worker.ops.kafka_log import KafkaClientLogs, install


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def lines(self) -> list[tuple[str, str]]:
        return [(r.levelname, r.getMessage()) for r in self.records]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def captured(clock: FakeClock) -> Iterator[Capture]:
    capture = Capture()
    root = logging.getLogger("aiokafka")
    root.addHandler(capture)  # sees the package logger's records and its children's
    install(KafkaClientLogs(repeat_seconds=60, quiet_seconds=30, clock=clock))
    try:
        yield capture
    finally:
        root.removeHandler(capture)
        install()  # a fresh filter for the rest of the suite


def restart_broker(node: int, clock: FakeClock, seconds: int) -> None:
    """What aiokafka logs, roughly every 100 ms, while broker `node` is down."""
    client = logging.getLogger("aiokafka")  # as aiokafka/client.py names it
    fetcher = logging.getLogger("aiokafka.consumer.fetcher")
    coordinator = logging.getLogger("aiokafka.consumer.group_coordinator")
    for _ in range(seconds * 10):
        clock.now += 0.1
        client.error("Unable connect to node with id %s: %s", node, "[Errno 111] refused")
        fetcher.error("Failed fetch messages from %s: %s", node, "NodeNotReadyError")
        coordinator.error("Group Coordinator Request failed: %s", "[Error 15] Coordinator...")


def test_a_rolling_restart_of_two_brokers_logs_a_few_warnings_and_no_error(
    captured: Capture, clock: FakeClock
) -> None:
    restart_broker(1, clock, 20)  # 600 lines from aiokafka
    clock.now += 40  # node 1 back, quiet
    restart_broker(2, clock, 20)
    lines = captured.lines()
    assert [level for level, _ in lines if level == "ERROR"] == []
    assert len(lines) <= 8
    assert ("WARNING", "kafka node 1: unreachable [Unable connect to node with id 1: [Errno "
            "111] refused]") in lines  # fmt: skip
    assert any(m.startswith("kafka node 2: fetch failed [") for _, m in lines)
    assert any(
        m.startswith("kafka group coordinator: group coordinator unavailable") for _, m in lines
    )


def test_a_long_outage_is_repeated_once_a_minute_with_a_count(
    captured: Capture, clock: FakeClock
) -> None:
    restart_broker(3, clock, 125)
    node3 = [m for _, m in captured.lines() if m.startswith("kafka node 3: ")]
    assert len(node3) == 6  # unreachable + fetch failed, then both again at 60 s and 120 s
    assert any("still unreachable (" in m and "similar lines held back)" in m for m in node3)


def test_errors_that_need_a_human_keep_their_level(captured: Capture) -> None:
    logging.getLogger("aiokafka.cluster").error(
        "Topic %s is not authorized for this client", "ecs.provisioning.requests"
    )
    logging.getLogger("aiokafka.consumer.group_coordinator").error(
        "Attempt to join group failed due to fatal error: %s", "GroupAuthorizationFailed"
    )
    assert [level for level, _ in captured.lines()] == ["ERROR", "ERROR"]
