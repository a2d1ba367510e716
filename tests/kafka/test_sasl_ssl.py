"""Kafka security for real: a broker of its own (deploy/local/kafka.sh with a SASL_SSL listener,
SCRAM-SHA-512 user made at format time, certificate from a throwaway CA) on reserved ports.

Over that listener: the worker processes a request end to end, `publish` and `results` work, and
KEDA's lag query sees the backlog. A wrong password or an untrusted CA stops `run` at once with
one clear line (exit 1), not a hang.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from tests.cli.conftest import run_cli
from tests.support import secrets
from tests.support.kafka import wait_for
from tests.support.kafka_script import kafka_sh
from tests.support.keda import keda_lag
from tests.support.ports import reserved_ports
from tests.support.stack import EXAMPLES, PROJECT, in_process, settings_from, worker_env
from worker.consumer.kafka import security_options
from worker.simulator.knobs import SimulatorConfig
from worker.simulator.serving import running_simulator

USER, PASSWORD = "ecsp-test", "Scram-Test-Passw0rd"


@dataclass(frozen=True)
class SecureBroker:
    bootstrap: str  # the SASL_SSL listener
    ca_file: Path

    def env(self, password: str = PASSWORD, ca_file: Path | None = None) -> dict[str, str]:
        return {
            "ECSP_KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "ECSP_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "ECSP_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
            "ECSP_KAFKA_SASL_USERNAME": USER,
            "ECSP_KAFKA_SASL_PASSWORD": password,
            "ECSP_KAFKA_CA_FILE": str(ca_file or self.ca_file),
        }


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureBroker]:
    run_dir = tmp_path_factory.mktemp("sasl-broker")
    with reserved_ports(3) as (plain, controller, sasl_ssl):
        env = {
            "KAFKA_PORT": str(plain),
            "KAFKA_CONTROLLER_PORT": str(controller),
            "KAFKA_SASL_SSL_PORT": str(sasl_ssl),
            "KAFKA_SASL_USER": USER,
            "KAFKA_SASL_PASSWORD": PASSWORD,
            "KAFKA_RUN_DIR": str(run_dir),
        }
        started = kafka_sh("start", env)
        try:
            assert started.returncode == 0, started.stdout + started.stderr
            assert f"SASL_SSL on 127.0.0.1:{sasl_ssl}" in started.stdout
            yield SecureBroker(f"127.0.0.1:{sasl_ssl}", run_dir / "tls" / "ca.pem")
        finally:
            stopped = kafka_sh("stop", env)
            assert stopped.returncode == 0, stopped.stdout + stopped.stderr


async def test_worker_publish_results_and_keda_lag_over_sasl_ssl(
    broker: SecureBroker, tmp_path: Path
) -> None:
    suffix = uuid.uuid4().hex[:8]
    topics = {n: f"sasl.{n}.{suffix}" for n in ("requests", "results", "failures", "progress")}
    group = f"sasl-group-{suffix}"
    security = security_options(settings_from(broker.env()))
    admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap, **security)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(t, 1, 1) for t in topics.values()])
    finally:
        await admin.close()
    sim = SimulatorConfig(credentials={secrets.TEST_AK: secrets.TEST_SK}, job_seconds=(0.2, 0.4))
    async with running_simulator(sim) as base_url:
        env = worker_env(broker.bootstrap, base_url, topics, group, **broker.env())
        example = str(EXAMPLES / "01-prepaid-keypair.json")
        async with in_process(settings_from(env)):
            published = await run_cli(env, "publish", example, "--key", "secure-1")
            assert published.code == 0, published.err

            events: list[dict[str, object]] = []

            async def result_shown() -> bool:
                shown = await run_cli(env, "results", "--key", "secure-1", "--json")
                assert shown.code == 0, shown.err
                events[:] = [json.loads(line) for line in shown.out.splitlines() if line]
                return bool(events)

            async def nothing_waiting() -> bool:  # once the worker's commit lands
                return await keda_lag(broker.bootstrap, security, group, topics["requests"]) == 0

            await wait_for(result_shown, 60, interval=0.5)
            await wait_for(nothing_waiting, 30, interval=0.5)
        # the worker is stopped: a backlog builds up, and the scaler's query sees it
        for i in range(3):
            assert (await run_cli(env, "publish", example, "--key", f"backlog-{i}")).code == 0
        backlog = await keda_lag(broker.bootstrap, security, group, topics["requests"])

    assert [e["type"] for e in events] == ["ecs.provisioning.succeeded"]
    assert backlog == 3


def run_worker(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "worker", "run"],
        env={
            **os.environ,
            **env,
            "ECSP_ECS_PROJECT_ID": PROJECT,
            "ECSP_ECS_AK": secrets.TEST_AK,
            "ECSP_ECS_SK": secrets.TEST_SK,
            "ECSP_OPS_PORT": "0",
            "ECSP_LOG_FORMAT": "json",
        },
        capture_output=True,
        text=True,
        timeout=60,  # "not a hang": it must give up on its own well before
        check=False,
    )


def plain_lines(stderr: str) -> list[str]:
    """stderr lines that are not JSON log lines: what the operator reads."""
    return [line for line in stderr.splitlines() if line.strip() and not line.startswith("{")]


def test_a_wrong_password_stops_the_worker_at_start_with_one_clear_line(
    broker: SecureBroker,
) -> None:
    result = run_worker(broker.env(password="not-the-password"))
    assert result.returncode == 3
    (line,) = plain_lines(result.stderr)
    assert line.startswith(
        f"ecs-provisioner: cannot reach Kafka at {broker.bootstrap} "
        "(ECSP_KAFKA_BOOTSTRAP_SERVERS): "
    )
    assert "SASL authentication failed" in line
    assert "ECSP_KAFKA_SASL_PASSWORD" in line
    assert "not-the-password" not in result.stderr + result.stdout


def test_an_untrusted_ca_stops_the_worker_at_start_with_one_clear_line(
    broker: SecureBroker, tmp_path: Path
) -> None:
    other_ca = tmp_path / "other-ca.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
         str(tmp_path / "other.key"), "-out", str(other_ca), "-days", "1", "-subj", "/CN=other"],
        capture_output=True, check=True, timeout=60,
    )  # fmt: skip
    result = run_worker(broker.env(ca_file=other_ca))
    assert result.returncode == 3
    (line,) = plain_lines(result.stderr)
    assert "TLS certificate not trusted" in line
    assert "ECSP_KAFKA_CA_FILE" in line
