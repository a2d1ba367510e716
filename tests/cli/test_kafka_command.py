"""The exit codes shared by `publish`, `results` and `samples` (no broker needed)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from aiokafka.errors import KafkaConnectionError

from worker.cli.kafka_command import KafkaCommandError, run_kafka_command
from worker.ops.config import Settings


def _args(config: str | None = None, bootstrap: str | None = "10.0.0.1:9") -> argparse.Namespace:
    return argparse.Namespace(config=config, bootstrap_servers=bootstrap)


def test_the_command_gets_the_settings_with_the_bootstrap_option_and_its_code_is_returned() -> None:
    seen: list[Settings] = []

    async def command(settings: Settings) -> int:
        seen.append(settings)
        return 1

    assert run_kafka_command("x", _args(), command) == 1
    assert [s.kafka_bootstrap_servers for s in seen] == ["10.0.0.1:9"]


@pytest.mark.parametrize(
    ("raised", "code", "message"),
    [
        (KafkaConnectionError("no broker"), 3, "ecs-provisioner x: Kafka error: "),
        (KafkaCommandError("no topic t"), 3, "ecs-provisioner x: Kafka error: no topic t"),
        (KeyboardInterrupt(), 0, ""),
    ],
)
def test_kafka_failures_and_ctrl_c_map_to_the_documented_exit_codes(
    raised: BaseException, code: int, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    async def command(settings: Settings) -> int:
        raise raised

    assert run_kafka_command("x", _args(), command) == code
    assert message in capsys.readouterr().err


def test_invalid_configuration_is_exit_2_and_the_command_never_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "bad.env"
    config.write_text("ECSP_MAX_IN_FLIGHT=0\n")

    async def command(settings: Settings) -> int:
        raise AssertionError("must not run")

    assert run_kafka_command("x", _args(str(config)), command) == 2
    assert "ECSP_MAX_IN_FLIGHT" in capsys.readouterr().err
