"""deploy/local/kafka.sh on a broker of its own: idempotent start, clean stop, clear errors.

Uses ports of its own (and its own run dir), so the suite's broker is never touched.
"""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import psutil

SCRIPT = Path(__file__).parents[2] / "deploy" / "local" / "kafka.sh"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def kafka_sh(command: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPT), command],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_start_twice_is_harmless_and_stop_leaves_nothing(tmp_path: Path) -> None:
    port, controller = free_port(), free_port()
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


def test_missing_java_is_one_clear_line_and_exit_3(tmp_path: Path) -> None:
    env = {
        "JAVA_HOME": str(tmp_path / "no-jdk"),
        "KAFKA_PORT": str(free_port()),
        "KAFKA_RUN_DIR": str(tmp_path / "run"),
    }
    result = kafka_sh("start", env)
    assert result.returncode == 3
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "java" in lines[0]
    assert "17" in lines[0]


def test_unknown_command_prints_usage_and_exits_2() -> None:
    result = kafka_sh("explode", {})
    assert result.returncode == 2
    assert "usage" in (result.stdout + result.stderr).lower()
