"""`ecs-provisioner simulator`: flags, the listening line, clean exit on SIGTERM/SIGINT; the
`/_sim/` paths only with `--admin-routes`; credentials from a file or the environment (not only
the command line, which `ps` shows)."""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from tests.simulator.simkit import AK, SK, Api, new_token
from tests.support.bodies import server_body
from worker.cli import simulator as cli
from worker.simulator.knobs import SimulatorConfig
from worker.simulator.serving import running_simulator

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
    config = cli.config_from_args(args, {})
    assert config.credentials == {"AK1": "SK:with:colons", "AK2": "SK2"}
    assert config.iam_users == {"bob": "pw"}
    assert config.job_seconds == (0.0, 0.0)
    assert config.seed == 5
    assert config.token_ttl_seconds == 60
    faults = config.faults
    assert (faults.error_rate, faults.throttle_rate, faults.drop_rate) == (0.1, 0.2, 0.3)
    assert faults.latency_ms == (1.0, 4.0)
    assert faults.job_failure_rate == 0.4
    assert cli.config_from_args(_parse("--credential", "a:b"), {}).job_seconds == (2.0, 6.0)


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


async def _start(*argv: str, env: dict[str, str] | None = None) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-c", HARNESS, "simulator", *argv,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env=None if env is None else {**os.environ, **env},
    )  # fmt: skip


def test_admin_routes_are_off_unless_asked_for() -> None:
    assert cli.config_from_args(_parse("--credential", "a:b"), {}).admin_routes is False
    assert cli.config_from_args(_parse("--credential", "a:b", "--admin-routes"), {}).admin_routes


@pytest.mark.parametrize("admin_routes", [False, True])
async def test_the_sim_paths_answer_only_with_admin_routes(admin_routes: bool) -> None:
    config = SimulatorConfig(credentials={AK: SK}, admin_routes=admin_routes)
    async with running_simulator(config) as base_url, aiohttp.ClientSession() as session:
        api = Api(session, base_url, clock=time.time)
        assert (await api.create(server_body(), new_token())).status == 200  # the API, always
        for method, path in [
            ("GET", "/_sim/stats"),
            ("POST", "/_sim/faults"),
            ("PUT", "/_sim/credentials"),
            ("POST", "/_sim/temporary-credentials"),
            ("POST", "/_sim/orders/o-1/pay"),
        ]:
            async with session.request(method, base_url + path, json={}) as response:
                body = await response.json()
            unrouted = body.get("error_code") == "APIG.0101"  # the gateway's "no such path"
            assert unrouted is not admin_routes, (method, path)


def test_credentials_come_from_a_file_the_environment_and_the_flags(tmp_path: Path) -> None:
    file = tmp_path / "credentials"
    file.write_text("# the demo pair\nFILEAK:file-secret\n\nSHARED:from-file\n")
    args = _parse("--credentials-file", str(file), "--credential", "SHARED:from-flag")
    config = cli.config_from_args(args, {cli.CREDENTIALS_ENV: "ENVAK:env-secret, ENV2:s2"})
    assert config.credentials == {
        "FILEAK": "file-secret",
        "ENVAK": "env-secret",
        "ENV2": "s2",
        "SHARED": "from-flag",
    }


def test_a_malformed_credential_entry_is_named_without_its_value(tmp_path: Path) -> None:
    file = tmp_path / "credentials"
    file.write_text("GOOD:pair\nno-colon-secret-9f3\n")
    with pytest.raises(ValueError, match="entry 2") as raised:
        cli.config_from_args(_parse("--credentials-file", str(file)), {})
    assert "secret-9f3" not in str(raised.value)


async def test_credentials_from_the_environment_stay_off_the_command_line() -> None:
    argv = ("--port", "0", "--job-seconds", "0:0")
    process = await _start(*argv, env={cli.CREDENTIALS_ENV: f"{AK}:{SK}"})
    try:
        assert process.stdout is not None
        line = ANSI.sub("", (await asyncio.wait_for(process.stdout.readline(), 20)).decode())
        match = re.search(r"url=(http://\S+)", line)
        assert match is not None
        assert "access_keys=1" in line
        assert SK not in line
        async with aiohttp.ClientSession() as session:
            api = Api(session, match.group(1), clock=time.time)
            assert (await api.create(server_body(), new_token())).status == 200
        cmdline = await asyncio.to_thread(Path(f"/proc/{process.pid}/cmdline").read_bytes)
        assert SK.encode() not in cmdline
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 20) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


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
