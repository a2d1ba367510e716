"""Fixtures of the CLI suite: run `ecs-provisioner` as the subprocess an operator would."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import pytest


@dataclass(frozen=True)
class CliResult:
    code: int
    out: str
    err: str


#: `await cli(env, "publish", FILE, "--key", K)` -> CliResult; env holds ECSP_* settings.
Cli = Callable[..., Coroutine[Any, Any, CliResult]]


async def run_cli(env: dict[str, str], *args: str, timeout: float = 90.0) -> CliResult:
    """`python -m worker ARGS` with `env` added to this environment; killed after `timeout`."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "worker",
        *args,
        env={**os.environ, **env},
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(timeout):
            out, err = await process.communicate()
    except TimeoutError:
        process.kill()
        out, err = await process.communicate()
        pytest.fail(f"ecs-provisioner {' '.join(args)} ran over {timeout}s:\n{out.decode()}")
    assert process.returncode is not None
    return CliResult(process.returncode, out.decode(), err.decode())


@pytest.fixture
def cli() -> Cli:
    return run_cli
