"""Starting the worker against an unreachable broker fails fast, clearly, and cleanly."""

from __future__ import annotations

import os
import subprocess
import sys


def test_unreachable_broker_exits_1_with_a_clear_message_and_nothing_unclosed() -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("ECSP_")},
        "ECSP_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1",
        "ECSP_ECS_PROJECT_ID": "p",
        "ECSP_ECS_AK": "ak",
        "ECSP_ECS_SK": "sk-value-never-printed",
        "ECSP_OPS_PORT": "0",
        "ECSP_LOG_FORMAT": "json",
    }
    result = subprocess.run(
        [sys.executable, "-m", "worker", "run"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    assert "Unable to bootstrap" in result.stderr
    assert "Unclosed" not in result.stderr  # every client was closed on the way out
    assert "sk-value-never-printed" not in result.stderr + result.stdout
