"""Running deploy/local/kafka.sh from tests, on a broker of the test's own (never the suite's)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).parents[2] / "deploy" / "local" / "kafka.sh"


def kafka_sh(
    command: str, env: dict[str, str], timeout: float = 240
) -> subprocess.CompletedProcess[str]:
    """`kafka.sh COMMAND` with `env` added to this environment; its output captured."""
    return subprocess.run(
        ["bash", str(SCRIPT), command],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
