"""`deploy/local/run.sh` (`make run`) end to end, on the suite's broker and its own free ports.

While it is up, `doctor` with the settings file it wrote passes every check; when the worker
does not come up, the failure names that `doctor` command. Ctrl-C is simulated the way a
terminal sends it: SIGINT to the script's whole process group.
The script must reach the batch summary, then stop the worker and simulator it started, leave
the broker it did not start running, and free its ports, within seconds (its own clean-up plus
the worker's drain). It is run twice: as from a terminal, and with SIGINT inherited as ignored,
as every background job of a non-interactive shell (CI among them) starts (issue 29: bash
cannot trap a signal ignored at its start, so Ctrl-C then did nothing until a SIGTERM came).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.cli.conftest import run_cli
from tests.support.kafka import broker_reachable, delete_topics
from tests.support.ports import reserved_ports
from tests.support.signals import IGNORING_SIGINT

RUN_SH = Path(__file__).parents[2] / "deploy" / "local" / "run.sh"
SUMMARY = "Sample batch: 5 succeeded, 1 validated, 1 failed"
#: From Ctrl-C to the script's end: ~5 s of its own plus the worker's drain (5 s in run.sh).
STOPS_WITHIN_SECONDS = 20.0


def listening(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        return True
    return False


def processes_mentioning(*needles: bytes) -> list[str]:
    """Pids whose command line or environment contains one of `needles`."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or proc.name == str(os.getpid()):
            continue
        for name in ("cmdline", "environ"):
            with contextlib.suppress(OSError):
                if any(n in (proc / name).read_bytes() for n in needles):
                    found.append(proc.name)
                    break
    return found


async def stop_group(process: asyncio.subprocess.Process) -> None:
    """Last resort after a failed test: SIGTERM (the script cleans up), then SIGKILL."""
    if process.returncode is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        async with asyncio.timeout(60):
            await process.wait()
    except TimeoutError:
        os.killpg(process.pid, signal.SIGKILL)
        await process.wait()


@pytest.mark.parametrize("sigint", ["default", "inherited_ignored"])
async def test_run_sh_reaches_the_summary_and_ctrl_c_leaves_nothing_behind(
    kafka_bootstrap: str, tmp_path: Path, sigint: str
) -> None:
    launcher = () if sigint == "default" else (sys.executable, "-c", IGNORING_SIGINT)
    with reserved_ports(2) as (sim_port, ops_port):
        await run_then_ctrl_c(kafka_bootstrap, sim_port, ops_port, tmp_path, launcher)


async def run_then_ctrl_c(
    kafka_bootstrap: str, sim_port: int, ops_port: int, tmp_path: Path, launcher: tuple[str, ...]
) -> None:
    host, _, kafka_port = kafka_bootstrap.split(",", maxsplit=1)[0].rpartition(":")
    assert host == "127.0.0.1", "run.sh runs its stack on 127.0.0.1"
    suffix = uuid.uuid4().hex[:10]
    topics = {
        f"ECSP_TOPIC_{n.upper()}": f"test.runsh.{n}.{suffix}"
        for n in ("requests", "results", "failures", "progress", "state")
    }
    env = {
        **os.environ,
        **topics,
        "ECSP_GROUP_ID": f"test-runsh-{suffix}",
        "KAFKA_PORT": kafka_port,
        "SIM_PORT": str(sim_port),
        "OPS_PORT": str(ops_port),
        "JOB_SECONDS": "0.5:1.5",
        "DEMO_RUN_DIR": str(tmp_path),
    }
    process = await asyncio.create_subprocess_exec(
        *launcher,
        str(RUN_SH),
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
    )
    assert process.stdout is not None
    output: list[str] = []
    try:
        async with asyncio.timeout(60):
            while not output or not output[-1].startswith("Following new events"):
                line = await process.stdout.readline()
                assert line, "run.sh ended early:\n" + "".join(output)
                output.append(line.decode())
        during = (listening(sim_port), listening(ops_port))
        doctor = await run_cli(env, "doctor", "--config", str(tmp_path / "worker.env"))
        os.killpg(process.pid, signal.SIGINT)
        sent = time.monotonic()
        async with asyncio.timeout(60):
            output.append((await process.stdout.read()).decode())
            code = await process.wait()
        took = time.monotonic() - sent
    finally:
        await stop_group(process)
        await delete_topics(kafka_bootstrap, list(topics.values()))
    text = "".join(output)
    assert SUMMARY in text.splitlines(), text + (tmp_path / "worker.log").read_text()
    assert during == (True, True)
    assert doctor.code == 0, doctor.out  # the stack `make run` brings up passes every check
    assert code == 0, text
    assert took < STOPS_WITHIN_SECONDS, text
    assert f"using the Kafka broker already listening on 127.0.0.1:{kafka_port}" in text
    assert f"ports {sim_port} {ops_port} are free" in text
    assert not listening(sim_port)
    assert not listening(ops_port)
    assert broker_reachable(kafka_bootstrap)  # not ours: left running
    assert processes_mentioning(f"ECSP_GROUP_ID=test-runsh-{suffix}".encode()) == []


async def test_run_sh_names_the_doctor_when_the_worker_does_not_come_up(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    kafka_port = kafka_bootstrap.split(",", maxsplit=1)[0].rpartition(":")[2]
    suffix = uuid.uuid4().hex[:10]
    topics = {
        f"ECSP_TOPIC_{n.upper()}": f"test.runsh.{n}.{suffix}"
        for n in ("requests", "results", "failures", "progress", "state")
    }
    env = {
        **os.environ,
        **topics,
        "ECSP_POLICY_FILE": str(tmp_path / "no-such-policy.yaml"),  # the worker refuses to start
        "KAFKA_PORT": kafka_port,
        "DEMO_RUN_DIR": str(tmp_path),
    }
    try:
        with reserved_ports(2) as (sim_port, ops_port):
            env |= {"SIM_PORT": str(sim_port), "OPS_PORT": str(ops_port)}
            process = await asyncio.create_subprocess_exec(
                str(RUN_SH),
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )
            try:
                async with asyncio.timeout(90):
                    out, _ = await process.communicate()
            finally:
                await stop_group(process)
        config = tmp_path / "worker.env"
        doctor = await run_cli(env, "doctor", "--config", str(config))
    finally:
        await delete_topics(kafka_bootstrap, list(topics.values()))
    text = out.decode()
    assert process.returncode == 1, text
    assert "run.sh: the worker exited" in text
    assert f"ecs-provisioner doctor --config {config}" in text
    assert doctor.code == 1
    assert f"FAIL  policy file        {tmp_path / 'no-such-policy.yaml'}: cannot read it" in (
        doctor.out
    )
