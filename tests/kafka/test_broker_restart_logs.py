"""A broker restart under a running worker, as the on-call engineer reads the log: aiokafka's
connection errors while the broker is away are transient and retried, so they come out as a
few WARNING lines (one per node and state) and not one ERROR; the worker carries on afterwards.

Uses a broker of its own (deploy/local/kafka.sh on reserved ports) that it stops and starts.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from tests.support import secrets
from tests.support.kafka import consume, produce, wait_for
from tests.support.kafka_script import kafka_sh
from tests.support.ports import reserved_ports
from tests.support.stack import example, start_worker_process, worker_env
from worker.simulator.knobs import SimulatorConfig
from worker.simulator.serving import running_simulator

REQUEST = json.dumps(example("05-dry-run.json")).encode()


def log_lines(path: Path) -> list[dict[str, object]]:
    lines = []
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            lines.append(json.loads(line))
    return lines


def assignments(path: Path) -> int:
    return sum(1 for line in log_lines(path) if line.get("event") == "partitions assigned")


async def test_a_broker_restart_logs_warnings_not_errors(tmp_path: Path) -> None:
    with reserved_ports(2) as (port, controller):
        broker = {
            "KAFKA_PORT": str(port),
            "KAFKA_CONTROLLER_PORT": str(controller),
            "KAFKA_RUN_DIR": str(tmp_path / "broker"),
        }
        started = kafka_sh("start", broker)
        assert started.returncode == 0, started.stdout + started.stderr
        try:
            await restart_under_a_worker(f"127.0.0.1:{port}", broker, tmp_path / "worker.log")
        finally:
            kafka_sh("stop", broker)
    aiokafka = [
        line for line in log_lines(tmp_path / "worker.log")
        if str(line.get("logger", "")).startswith("aiokafka")
    ]  # fmt: skip
    errors = [line["event"] for line in aiokafka if line["level"] == "error"]
    warnings = [line["event"] for line in aiokafka if line["level"] == "warning"]
    assert errors == []
    assert warnings  # the outage was noticed...
    assert len(warnings) <= 12, "\n".join(map(str, warnings))  # ...in a few lines


async def restart_under_a_worker(bootstrap: str, broker: dict[str, str], log: Path) -> None:
    suffix = uuid.uuid4().hex[:8]
    topics = {n: f"restart.{n}.{suffix}" for n in ("requests", "results", "failures", "progress")}
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(t, 1, 1) for t in topics.values()])
    finally:
        await admin.close()
    sim = SimulatorConfig(credentials={secrets.TEST_AK: secrets.TEST_SK})
    async with running_simulator(sim) as base_url:
        worker = start_worker_process(
            worker_env(bootstrap, base_url, topics, f"restart-{suffix}"), log
        )
        try:
            await wait_for(lambda: assignments(log) >= 1, 60)
            stopped = await asyncio.to_thread(kafka_sh, "stop", broker)
            assert stopped.returncode == 0, stopped.stderr
            await asyncio.sleep(10)  # the broker stays away: the worker keeps retrying
            restarted = await asyncio.to_thread(kafka_sh, "start", broker)
            assert restarted.returncode == 0, restarted.stdout + restarted.stderr
            # it carries on: a request published now is answered
            await produce(bootstrap, topics["requests"], [(b"after", REQUEST, [])])
            (answer,) = await consume(bootstrap, [topics["results"]], count=1, timeout=120)
            assert answer.key == b"after"
            assert worker.process.poll() is None  # it never gave up
        finally:
            assert worker.terminate(timeout=60) == 0
