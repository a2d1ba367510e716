"""deploy/local/kafka.sh on a broker of its own: idempotent start, clean stop, clear errors.

Uses ports of its own (reserved, see tests.support.ports) and its own run dir, so the suite's
broker is never touched and a concurrent run of this test elsewhere on the box picks other ports.
"""

from __future__ import annotations

import socket
from pathlib import Path

import psutil
import pytest

from tests.support.kafka_script import kafka_sh
from tests.support.ports import reserved_ports


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_start_twice_is_harmless_and_stop_leaves_nothing(tmp_path: Path) -> None:
    with reserved_ports(2) as (port, controller):
        start_twice_then_stop(port, controller, tmp_path)


def start_twice_then_stop(port: int, controller: int, tmp_path: Path) -> None:
    env = {
        "KAFKA_PORT": str(port),
        "KAFKA_CONTROLLER_PORT": str(controller),
        "KAFKA_RUN_DIR": str(tmp_path / "run"),
    }
    try:
        first = kafka_sh("start", env)
        assert first.returncode == 0, first.stdout + first.stderr
        pid = int((tmp_path / "run" / "kafka.pid").read_text())
        assert psutil.pid_exists(pid)

        second = kafka_sh("start", env)
        assert second.returncode == 0, second.stdout + second.stderr
        assert int((tmp_path / "run" / "kafka.pid").read_text()) == pid  # same broker
        assert kafka_sh("status", env).returncode == 0
    finally:
        stopped = kafka_sh("stop", env)
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert not port_open(port)
    assert not port_open(controller)
    status = kafka_sh("status", env)
    assert status.returncode == 1
    assert "not running" in status.stdout + status.stderr
    assert kafka_sh("stop", env).returncode == 0  # stopping again is harmless


@pytest.mark.parametrize("port", [9092, 23999, 60000, 65535])
def test_missing_java_is_one_clear_line_and_exit_3(port: int, tmp_path: Path) -> None:
    """Whatever the client port (in use, or too high to derive the controller port by +10000)."""
    env = {
        "JAVA_HOME": str(tmp_path / "no-jdk"),
        "KAFKA_PORT": str(port),
        "KAFKA_RUN_DIR": str(tmp_path / "run"),
    }
    result = kafka_sh("start", env)
    assert result.returncode == 3
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "java" in lines[0]
    assert "17" in lines[0]


@pytest.mark.parametrize(("port", "controller"), [(9092, 19092), (55536, 45536), (65535, 55535)])
def test_default_controller_port_is_a_valid_port(port: int, controller: int) -> None:
    result = kafka_sh("status", {"KAFKA_PORT": str(port), "KAFKA_RUN_DIR": "/nonexistent"})
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"not running (127.0.0.1:{port}, controller {controller})" in result.stdout


def test_unknown_command_prints_usage_and_exits_2() -> None:
    result = kafka_sh("explode", {})
    assert result.returncode == 2
    assert "usage" in (result.stdout + result.stderr).lower()
