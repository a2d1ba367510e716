"""The exit codes shared by `publish`, `results` and `samples` (no broker needed), and how a
signal ends them (`worker.cli.stopping`)."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from aiokafka.errors import KafkaConnectionError

from worker.cli.kafka_command import KafkaCommandError, run_kafka_command
from worker.cli.stopping import HARD_EXIT_SECONDS, Stop
from worker.ops.settings import Settings


def _args(config: str | None = None, bootstrap: str | None = "10.0.0.1:9") -> argparse.Namespace:
    return argparse.Namespace(config=config, bootstrap_servers=bootstrap)


def test_the_command_gets_the_settings_with_the_bootstrap_option_and_its_code_is_returned() -> None:
    seen: list[Settings] = []

    async def command(settings: Settings, stop: Stop) -> int:
        seen.append(settings)
        return 1

    assert run_kafka_command("x", _args(), command) == 1
    assert [s.kafka_bootstrap_servers for s in seen] == ["10.0.0.1:9"]


@pytest.mark.parametrize(
    ("raised", "code", "message"),
    [
        (
            KafkaConnectionError("no broker"),
            3,
            "ecs-provisioner x: cannot reach Kafka at 10.0.0.1:9 (--bootstrap-servers): ",
        ),
        (KafkaCommandError("no topic t"), 3, "ecs-provisioner x: no topic t"),
    ],
)
def test_kafka_failures_map_to_the_documented_exit_codes(
    raised: BaseException, code: int, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    async def command(settings: Settings, stop: Stop) -> int:
        raise raised

    assert run_kafka_command("x", _args(), command) == code
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(message)


def test_invalid_configuration_is_exit_2_and_the_command_never_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "bad.env"
    config.write_text("ECSP_MAX_IN_FLIGHT=0\n")

    async def command(settings: Settings, stop: Stop) -> int:
        raise AssertionError("must not run")

    assert run_kafka_command("x", _args(str(config)), command) == 2
    assert "ECSP_MAX_IN_FLIGHT" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("signum", "ends_normally", "code"),
    [(signal.SIGINT, False, 130), (signal.SIGTERM, False, 143), (signal.SIGINT, True, 0)],
)
def test_a_signal_cancels_the_command_which_cleans_up_and_exits_with_its_code(
    signum: int, ends_normally: bool, code: int
) -> None:
    cleaned: list[bool] = []

    async def command(settings: Settings, stop: Stop) -> int:
        stop.ends_normally = ends_normally
        asyncio.get_running_loop().call_later(0.05, os.kill, os.getpid(), signum)
        try:
            await asyncio.sleep(60)
        finally:
            cleaned.append(True)
        return 99

    assert run_kafka_command("x", _args(), command) == code
    assert cleaned == [True]


#: A command that swallows the cancellation and never ends by itself.
STUBBORN = """
import asyncio, os, signal
from worker.cli.stopping import run_until_stopped

async def command(stop):
    asyncio.get_running_loop().call_later(0.05, os.kill, os.getpid(), signal.SIGINT)
    while True:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            pass

raise SystemExit(run_until_stopped(command))
"""


@pytest.mark.slow  # waits out the hard-exit delay
def test_a_clean_up_that_does_not_end_is_cut_short_after_the_hard_exit_delay() -> None:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", STUBBORN], capture_output=True, text=True, timeout=60, check=False
    )
    took = time.monotonic() - started
    assert done.returncode == 130, done.stderr
    assert "stopped before its clean-up finished" in done.stderr
    assert HARD_EXIT_SECONDS <= took < HARD_EXIT_SECONDS + 10
