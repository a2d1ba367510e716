"""Every command exits as its table says: each row of `worker.cli.exit_codes.COMMANDS` is produced.

Each scenario drives one command into the situation a row describes (a bad option, an
unreadable file, a refused body, an unreachable or silent broker, a signal, a clean end) and
returns the exit codes it saw; the test compares them with the row. A row of a command that is
not registered yet must stay unregistered until its scenarios are written here. Kafka-less
rows use an unused port (refused) or a local socket that accepts and never answers (a broker
that hangs), so a signal arrives while the command waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from ecsp_contract.export import PACKAGE_DIR
from tests.cli.conftest import run_cli
from tests.support.kafka import create_topics, delete_topics, produce, unique_topic, wait_for
from tests.support.stack import example, stack, start_worker_process
from tools.docgen.cli_table import help_of
from tools.docgen.cli_table import main as cli_table_main
from worker.cli import main as cli_main
from worker.cli import run as run_cmd
from worker.cli import schemas_cmd
from worker.cli.exit_codes import COMMANDS, ExitCode
from worker.cli.usage import exit_code_lines

EXAMPLE = str(PACKAGE_DIR / "examples" / "05-dry-run.json")
POLICY = "deploy/k8s/components/guardrails/policy.yaml"
REFUSED = "127.0.0.1:1"  # nothing listens on port 1: connection refused at once
#: A worker environment with nothing from this test process's ECSP_* settings.
WORKER = {
    "ECSP_ECS_PROJECT_ID": "p",
    "ECSP_ECS_AK": "ak",
    "ECSP_ECS_SK": "sk",
    "ECSP_OPS_PORT": "0",
}

Scenario = Callable[[pytest.FixtureRequest], Awaitable[tuple[int, ...]]]


def _clean_env() -> dict[str, str]:
    """This environment without its ECSP_* settings (the test tooling's own names stay)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("ECSP_") or "_TEST_" in k}


async def _cli(*args: str, env: dict[str, str] | None = None, timeout: float = 90) -> int:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "worker",
        *args,
        env={**_clean_env(), **(env or {})},
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    async with asyncio.timeout(timeout):
        return await process.wait()


@contextlib.asynccontextmanager
async def _hanging_broker() -> AsyncIterator[tuple[str, asyncio.Event]]:
    """A socket that accepts Kafka clients and never answers; set once one connected."""
    connected = asyncio.Event()
    clients: list[asyncio.StreamWriter] = []

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        clients.append(writer)
        connected.set()
        await reader.read()

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"127.0.0.1:{port}", connected
    finally:
        for writer in clients:
            writer.close()
        server.close()


async def _interrupted(*args: str) -> tuple[int, ...]:
    """The exit codes of `args` (against a hanging broker) after SIGINT, then SIGTERM."""
    codes = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        async with _hanging_broker() as (address, connected):
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "worker",
                *args,
                "--bootstrap-servers",
                address,
                env=_clean_env(),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            )
            async with asyncio.timeout(30):
                await connected.wait()
            await asyncio.sleep(0.5)  # the client now waits for its first answer
            process.send_signal(signum)
            async with asyncio.timeout(10):
                codes.append(await process.wait())
    return tuple(codes)


def _in_process(argv: list[str]) -> int:
    try:
        return cli_main.main(argv)
    except SystemExit as exc:  # argparse's usage errors
        return int(exc.code or 0)


# --- run -----------------------------------------------------------------------------------------


async def run_stopped(request: pytest.FixtureRequest) -> tuple[int, ...]:
    tmp_path: Path = request.getfixturevalue("tmp_path")
    async with stack(request.getfixturevalue("kafka_bootstrap"), in_process_worker=False) as s:
        worker = start_worker_process(s.env, tmp_path / "worker.log")
        try:
            await wait_for(lambda: "worker started" in worker.log_text(), timeout=60)
        finally:
            code = worker.terminate()
    return (code,)


async def run_signalled_twice(request: pytest.FixtureRequest) -> tuple[int, ...]:
    """A second signal while a request in flight holds the drain: SIGINT, then SIGTERM."""
    return (
        await _drain_cut_short(request, signal.SIGINT),
        await _drain_cut_short(request, signal.SIGTERM),
    )


async def _drain_cut_short(request: pytest.FixtureRequest, second: int) -> int:
    tmp_path: Path = request.getfixturevalue("tmp_path")
    async with stack(
        request.getfixturevalue("kafka_bootstrap"),
        job_seconds=(60.0, 60.0),
        in_process_worker=False,
        ECSP_SHUTDOWN_GRACE_SECONDS="30",
    ) as s:
        worker = start_worker_process(s.env, tmp_path / f"worker-{second}.log")
        try:
            await s.publish([("in-flight", example("01-prepaid-keypair.json"))])
            await s.progress(1, timeout=60)  # submitted: its job runs for a minute
            worker.process.send_signal(signal.SIGTERM)
            await wait_for(lambda: "draining" in worker.log_text(), timeout=10)
            worker.process.send_signal(second)
            return await asyncio.to_thread(worker.process.wait, 10)
        finally:
            if worker.process.poll() is None:
                worker.kill()


async def run_crashed(request: pytest.FixtureRequest) -> tuple[int, ...]:
    """A bug that escapes the worker (in this process: its serve() raises)."""
    monkeypatch: pytest.MonkeyPatch = request.getfixturevalue("monkeypatch")
    _without_settings(monkeypatch)
    for name, value in WORKER.items():
        monkeypatch.setenv(name, value)

    async def crash(*_: object, **__: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr("worker.service.serve", crash)
    monkeypatch.setattr("worker.service.install_signal_handlers", lambda stop: None)
    monkeypatch.setattr(run_cmd, "configure_logging", lambda *_: None)
    monkeypatch.setattr(run_cmd, "tune_garbage_collector", lambda: None)
    return (await asyncio.to_thread(_in_process, ["run"]),)


async def run_misconfigured(request: pytest.FixtureRequest) -> tuple[int, ...]:
    del request
    return (await _cli("run", env={**WORKER, "ECSP_MAX_IN_FLIGHT": "0"}),)


async def run_without_kafka(request: pytest.FixtureRequest) -> tuple[int, ...]:
    del request
    return (await _cli("run", env={**WORKER, "ECSP_KAFKA_BOOTSTRAP_SERVERS": REFUSED}),)


# --- publish, results, samples ------------------------------------------------------------------


@contextlib.asynccontextmanager
async def _new_topics(request: pytest.FixtureRequest, *names: str) -> AsyncIterator[dict[str, str]]:
    """`ECSP_KAFKA_BOOTSTRAP_SERVERS` and `ECSP_TOPIC_<NAME>` of fresh topics, deleted after."""
    bootstrap: str = request.getfixturevalue("kafka_bootstrap")
    topics = {f"ECSP_TOPIC_{name.upper()}": unique_topic(name) for name in names}
    await create_topics(bootstrap, topics.values())
    try:
        yield {"ECSP_KAFKA_BOOTSTRAP_SERVERS": bootstrap, **topics}
    finally:
        await delete_topics(bootstrap, list(topics.values()))


async def publish_published(request: pytest.FixtureRequest) -> tuple[int, ...]:
    async with _new_topics(request, "requests") as env:
        return (await _cli("publish", EXAMPLE, "--key", "k", env=env),)


async def publish_refused(request: pytest.FixtureRequest) -> tuple[int, ...]:
    bad = request.getfixturevalue("tmp_path") / "bad.json"
    bad.write_bytes(b"\xef\xbb\xbf" + Path(EXAMPLE).read_bytes())  # the worker refuses a BOM
    return (await _cli("publish", str(bad), "--key", "k", "--bootstrap-servers", REFUSED),)


async def publish_usage(request: pytest.FixtureRequest) -> tuple[int, ...]:
    del request
    return (await _cli("publish", EXAMPLE),)  # no --key


async def publish_without_kafka(request: pytest.FixtureRequest) -> tuple[int, ...]:
    del request
    return (await _cli("publish", EXAMPLE, "--key", "k", "--bootstrap-servers", REFUSED),)


async def publish_interrupted(request: pytest.FixtureRequest) -> tuple[int, ...]:
    del request
    return await _interrupted("publish", EXAMPLE, "--key", "k")


async def results_read(request: pytest.FixtureRequest) -> tuple[int, ...]:
    async with _new_topics(request, "results", "failures") as env:
        return (await _cli("results", env=env),)


async def results_misconfigured(request: pytest.FixtureRequest) -> tuple[int, ...]:
    del request
    return (await _cli("results", env={"ECSP_MAX_IN_FLIGHT": "0"}),)


async def results_without_kafka(request: pytest.FixtureRequest) -> tuple[int, ...]:
    del request
    return (await _cli("results", "--bootstrap-servers", REFUSED),)


async def results_interrupted(request: pytest.FixtureRequest) -> tuple[int, ...]:
    del request
    return await _interrupted("results")


async def samples_finished(request: pytest.FixtureRequest) -> tuple[int, ...]:
    async with stack(request.getfixturevalue("kafka_bootstrap"), job_seconds=(0.2, 0.5)) as s:
        result = await run_cli(s.env, "samples", "--no-watch", "--timeout", "60")
    return (result.code,)


async def samples_usage(request: pytest.FixtureRequest) -> tuple[int, ...]:
    del request
    return (await _cli("samples", "--timeout", "soon"),)


async def samples_unfinished(request: pytest.FixtureRequest) -> tuple[int, ...]:
    bootstrap = request.getfixturevalue("kafka_bootstrap")
    async with stack(bootstrap, in_process_worker=False) as s:  # no worker answers
        result = await run_cli(s.env, "samples", "--no-watch", "--timeout", "1")
    return (result.code,)


async def samples_interrupted(request: pytest.FixtureRequest) -> tuple[int, ...]:
    del request
    return await _interrupted("samples", "--no-watch")


# --- publish --wait, status, doctor --------------------------------------------------------------


async def _waited(request: pytest.FixtureRequest, *args: str) -> tuple[int, ...]:
    """`publish EXAMPLE --key K --wait ARGS` against a stack with a worker."""
    async with stack(request.getfixturevalue("kafka_bootstrap"), job_seconds=(0.1, 0.3)) as s:
        result = await run_cli(s.env, "publish", EXAMPLE, "--key", "waited", "--wait", *args)
    return (result.code,)


async def wait_succeeded(request: pytest.FixtureRequest) -> tuple[int, ...]:
    return await _waited(request, "--timeout", "60")  # a dry run: validated


async def wait_failed(request: pytest.FixtureRequest) -> tuple[int, ...]:
    return await _waited(request, "--timeout", "60", "--project", "not-allowed")


async def wait_refused(request: pytest.FixtureRequest) -> tuple[int, ...]:
    bad = request.getfixturevalue("tmp_path") / "bad.json"
    bad.write_text(_body(count=101))
    return (
        await _cli("publish", str(bad), "--key", "k", "--wait", "--bootstrap-servers", REFUSED),
    )


async def wait_timed_out(request: pytest.FixtureRequest) -> tuple[int, ...]:
    bootstrap = request.getfixturevalue("kafka_bootstrap")
    async with stack(bootstrap, in_process_worker=False) as s:  # no worker answers
        result = await run_cli(s.env, "publish", EXAMPLE, "--key", "k", "--wait", "--timeout", "1")
    return (result.code,)


async def wait_interrupted(request: pytest.FixtureRequest) -> tuple[int, ...]:
    del request
    return await _interrupted("publish", EXAMPLE, "--key", "k", "--wait")


async def _status_of(request: pytest.FixtureRequest, key: str) -> tuple[int, ...]:
    """`status KEY` of a state topic that knows the key `known` (a terminal event)."""
    async with _new_topics(request, "state") as env:
        event = {"type": "ecs.provisioning.succeeded", "data": {"request_key": "known"}}
        await produce(
            env["ECSP_KAFKA_BOOTSTRAP_SERVERS"],
            env["ECSP_TOPIC_STATE"],
            [(b"known", json.dumps(event).encode(), ())],
        )
        return (await _cli("status", key, env=env),)


async def status_known(request: pytest.FixtureRequest) -> tuple[int, ...]:
    return await _status_of(request, "known")


async def status_unknown(request: pytest.FixtureRequest) -> tuple[int, ...]:
    return await _status_of(request, "never-published")


async def status_without_kafka(request: pytest.FixtureRequest) -> tuple[int, ...]:
    del request
    return (await _cli("status", "k", "--bootstrap-servers", REFUSED),)


async def doctor_passed(request: pytest.FixtureRequest) -> tuple[int, ...]:
    async with stack(request.getfixturevalue("kafka_bootstrap"), in_process_worker=False) as s:
        return ((await run_cli(s.env, "doctor")).code,)


async def doctor_failed(request: pytest.FixtureRequest) -> tuple[int, ...]:
    async with stack(request.getfixturevalue("kafka_bootstrap"), in_process_worker=False) as s:
        env = {**s.env, "ECSP_KAFKA_BOOTSTRAP_SERVERS": REFUSED}
        return ((await run_cli(env, "doctor")).code,)


# --- offline commands ---------------------------------------------------------------------------


async def simulator_stopped(request: pytest.FixtureRequest) -> tuple[int, ...]:
    del request
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "worker",
        "simulator",
        "--port",
        "0",
        "--credential",
        "ak:sk",
        env=_clean_env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert process.stdout is not None
    async with asyncio.timeout(30):
        while b"simulator listening" not in await process.stdout.readline():
            pass
    process.send_signal(signal.SIGTERM)
    async with asyncio.timeout(10):
        return (await process.wait(),)


async def simulator_usage(request: pytest.FixtureRequest) -> tuple[int, ...]:
    del request
    return (await _cli("simulator", "--port", "0"),)  # no --credential


def _without_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in set(os.environ) - set(_clean_env()):
        monkeypatch.delenv(name)


def _offline(*argv: str) -> Scenario:
    """The command run in this process, without this process's ECSP_* settings."""

    async def scenario(request: pytest.FixtureRequest) -> tuple[int, ...]:
        _without_settings(request.getfixturevalue("monkeypatch"))
        return (_in_process(list(argv)),)

    return scenario


def _written(name: str, text: str) -> Scenario:
    """`validate FILE` of a file holding `text`."""

    async def scenario(request: pytest.FixtureRequest) -> tuple[int, ...]:
        path = request.getfixturevalue("tmp_path") / name
        path.write_text(text)
        return (_in_process(["validate", str(path)]),)

    return scenario


async def policy_invalid(request: pytest.FixtureRequest) -> tuple[int, ...]:
    path = request.getfixturevalue("tmp_path") / "policy.yaml"
    path.write_text("default: {flavors: [\n")  # not YAML
    return (_in_process(["policy", "check", str(path)]),)


async def schemas_stale(request: pytest.FixtureRequest) -> tuple[int, ...]:
    request.getfixturevalue("monkeypatch").setattr(schemas_cmd, "check", lambda: ["asyncapi.yaml"])
    return (_in_process(["schemas", "check"]),)


def _body(**changes: object) -> str:
    body = example("05-dry-run.json")
    body["server"].update(changes)
    return json.dumps(body)


SCENARIOS: dict[tuple[str, str], Scenario] = {
    ("run", "0"): run_stopped,
    ("run", "1"): run_crashed,
    ("run", "2"): run_misconfigured,
    ("run", "3"): run_without_kafka,
    ("run", "130/143"): run_signalled_twice,
    ("publish", "0"): publish_published,
    ("publish", "1"): publish_refused,
    ("publish", "2"): publish_usage,
    ("publish", "3"): publish_without_kafka,
    ("publish", "130/143"): publish_interrupted,
    ("results", "0"): results_read,
    ("results", "2"): results_misconfigured,
    ("results", "3"): results_without_kafka,
    ("results", "130/143"): results_interrupted,
    ("samples", "0"): samples_finished,
    ("samples", "2"): samples_usage,
    ("samples", "3"): samples_unfinished,
    ("samples", "130/143"): samples_interrupted,
    ("publish --wait", "0"): wait_succeeded,
    ("publish --wait", "1"): wait_failed,
    ("publish --wait", "2"): wait_refused,
    ("publish --wait", "3"): wait_timed_out,
    ("publish --wait", "130/143"): wait_interrupted,
    ("status", "0"): status_known,
    ("status", "1"): status_unknown,
    ("status", "2"): _offline("status"),  # no KEY
    ("status", "3"): status_without_kafka,
    ("doctor", "0"): doctor_passed,
    ("doctor", "1"): doctor_failed,
    ("doctor", "2"): _offline("doctor", "--frobnicate"),
    ("simulator", "0"): simulator_stopped,
    ("simulator", "2"): simulator_usage,
    ("validate", "0"): _offline("validate", EXAMPLE),
    ("validate", "1"): _written("big.json", _body(count=101)),
    ("validate", "2"): _offline("validate", "--policy", "/nonexistent/policy.yaml", EXAMPLE),
    ("policy check", "0"): _offline("policy", "check", POLICY),
    ("policy check", "1"): policy_invalid,
    ("policy check", "2"): _offline("policy", "check", "/nonexistent/policy.yaml"),
    ("schemas", "0"): _offline("schemas", "check"),
    ("schemas", "1"): schemas_stale,
    ("schemas", "2"): _offline("schemas", "import"),
}

ROWS = {(command, row.label): row.codes for command, rows in COMMANDS.items() for row in rows}


def _registered(command: str) -> bool:
    return help_of(command) is not None


def test_every_row_of_a_registered_command_has_a_scenario_and_every_scenario_a_row() -> None:
    for command, label in ROWS:
        if _registered(command):
            assert (command, label) in SCENARIOS, f"no scenario for {command!r} exiting {label}"
        else:  # the agreed codes of a command still to come: its scenarios come with it
            assert not any(key[0] == command for key in SCENARIOS)
    assert set(SCENARIOS) <= set(ROWS), "a scenario for a code its command's table lacks"
    assert _registered("policy check")
    assert not _registered("publish --frobnicate")


#: Scenarios that start a stack or topics on the broker: marked `kafka`, left out of the
#: broker-free lanes (`make test-fast`, `make test-lowest`). The test checks the list.
BROKER_ROWS = {
    ("run", "0"),
    ("run", "130/143"),
    ("publish", "0"),
    ("results", "0"),
    ("samples", "0"),
    ("samples", "3"),
    ("publish --wait", "0"),
    ("publish --wait", "1"),
    ("publish --wait", "3"),
    ("status", "0"),
    ("status", "1"),
    ("doctor", "0"),
    ("doctor", "1"),
}


def _marks(row: tuple[str, str]) -> list[pytest.MarkDecorator]:
    """`kafka` for a scenario on the broker, `slow` for one that waits for a signal to land."""
    marks = [pytest.mark.kafka] if row in BROKER_ROWS else []
    return marks + ([pytest.mark.slow] if row[1] == "130/143" else [])


@pytest.mark.parametrize(
    "row",
    [pytest.param(row, marks=_marks(row), id=" exits ".join(row)) for row in sorted(SCENARIOS)],
)
async def test_the_command_exits_as_its_row_says(
    row: tuple[str, str], request: pytest.FixtureRequest
) -> None:
    observed = await SCENARIOS[row](request)
    assert observed == tuple(int(code) for code in ROWS[row])
    asked_for_the_broker = "kafka_bootstrap" in request.fixturenames
    assert asked_for_the_broker == (row in BROKER_ROWS), "BROKER_ROWS is out of date"


@pytest.mark.parametrize("command", [c for c in COMMANDS if _registered(c)])
def test_every_help_shows_examples_and_the_commands_exit_codes(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    words = command.split()
    assert _in_process([*words, "--help"]) == 0
    shown = " ".join(capsys.readouterr().out.split())
    assert "Examples: # " in shown
    assert "ecs-provisioner " in shown.split("Examples:", 1)[1]
    for line in exit_code_lines(command):
        assert " ".join(line.split()) in shown


def test_the_top_level_help_shows_the_scheme_and_the_readme_its_table() -> None:
    shown = cli_main.build_parser().format_help()
    for code in ("0", "1", "2", "3", "130/143"):
        assert f"\n  {code:<8} " in shown
    assert cli_table_main(["--check"]) == 0, "run: python -m tools.docgen.cli_table"


def test_the_interrupted_codes_are_128_plus_the_signal() -> None:
    assert ExitCode.SIGINT == 128 + signal.SIGINT == 130
    assert ExitCode.SIGTERM == 128 + signal.SIGTERM == 143
