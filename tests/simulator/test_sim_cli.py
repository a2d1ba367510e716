"""`ecs-provisioner simulator`: flags, the listening line, clean exit on SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import asyncio
import re
import signal
import sys
import time

import aiohttp
import pytest

from tests.simulator.simkit import AK, SK, Api, new_token
from tests.support.bodies import server_body
from worker.cli import simulator as cli

# Runs only this sub-command, so the test does not depend on the other sub-commands' modules.
HARNESS = """
import argparse, sys
from worker.cli import simulator
parser = argparse.ArgumentParser()
simulator.add_parser(parser.add_subparsers())
args = parser.parse_args(sys.argv[1:])
sys.exit(args.handler(args))
"""
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cli.add_parser(parser.add_subparsers())
    return parser.parse_args(["simulator", *argv])


def test_flags_become_the_config() -> None:
    args = _parse(
        "--credential", "AK1:SK:with:colons", "--credential", "AK2:SK2",
        "--iam-user", "bob:pw", "--job-seconds", "0:0", "--seed", "5",
        "--error-rate", "0.1", "--throttle-rate", "0.2", "--drop-rate", "0.3",
        "--latency-ms", "1:4", "--job-failure-rate", "0.4", "--token-ttl-seconds", "60",
    )  # fmt: skip
    assert (args.host, args.port) == ("127.0.0.1", 8700)
    config = cli.config_from_args(args)
    assert config.credentials == {"AK1": "SK:with:colons", "AK2": "SK2"}
    assert config.iam_users == {"bob": "pw"}
    assert config.job_seconds == (0.0, 0.0)
    assert config.seed == 5
    assert config.token_ttl_seconds == 60
    faults = config.faults
    assert (faults.error_rate, faults.throttle_rate, faults.drop_rate) == (0.1, 0.2, 0.3)
    assert faults.latency_ms == (1.0, 4.0)
    assert faults.job_failure_rate == 0.4
    assert cli.config_from_args(_parse("--credential", "a:b")).job_seconds == (2.0, 6.0)


def test_sold_out_flags_become_the_faults() -> None:
    args = _parse(
        "--sold-out", "c7@az2", "--sold-out", "*@az3", "--sold-out-job-rate", "0.2",
        "--quota-exceeded", "c9@*",
    )  # fmt: skip
    faults = cli.config_from_args(args).faults
    assert faults.sold_out == ("c7@az2", "*@az3")
    assert faults.quota_exceeded == ("c9@*",)
    assert faults.sold_out_job_rate == 0.2
    defaults = cli.config_from_args(_parse()).faults
    assert (defaults.sold_out, defaults.sold_out_job_rate) == ((), 0.5)


@pytest.mark.parametrize(
    "argv",
    [
        ["--credential", "no-colon"],
        ["--job-seconds", "5:1"],
        ["--error-rate", "1.5"],
        ["--latency-ms", "x:y"],
        ["--sold-out", "c7"],
        ["--sold-out", "c7@"],
        ["--sold-out-job-rate", "1.5"],
        ["--quota-exceeded", "@az1"],
    ],
)
def test_bad_flags_are_usage_errors(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        _parse(*argv)
    assert exited.value.code == 2


async def _start(*argv: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-c", HARNESS, "simulator", *argv,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
async def test_serves_until_signalled_then_exits_0(signum: signal.Signals) -> None:
    process = await _start("--port", "0", "--credential", f"{AK}:{SK}", "--job-seconds", "0:0")
    try:
        assert process.stdout is not None
        line = ANSI.sub("", (await asyncio.wait_for(process.stdout.readline(), 20)).decode())
        assert "simulator listening" in line
        assert SK not in line
        match = re.search(r"url=(http://\S+)", line)
        assert match is not None
        async with aiohttp.ClientSession() as session:
            api = Api(session, match.group(1), clock=time.time)
            created = await api.create(server_body(), new_token())
            assert created.status == 200
            job = await api.job(created.json["job_id"])
            assert job.json["status"] == "SUCCESS"
        process.send_signal(signum)
        assert await asyncio.wait_for(process.wait(), 20) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_without_credentials_exits_2() -> None:
    process = await _start("--port", "0")
    _, stderr = await asyncio.wait_for(process.communicate(), 20)
    assert process.returncode == 2
    assert b"--credential" in stderr
