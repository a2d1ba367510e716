"""Operating the worker: health/readiness/metrics endpoints, backpressure, IAM token mode."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest

from tests.support import secrets
from tests.support.kafka import wait_for
from tests.support.metrics import sample
from tests.support.ports import reserved_ports
from tests.support.stack import example, in_process, settings_from, stack


async def test_health_readiness_and_metrics_endpoints(kafka_bootstrap: str) -> None:
    with reserved_ports(1) as (port,):
        await check_endpoints(kafka_bootstrap, port)


async def check_endpoints(kafka_bootstrap: str, port: int) -> None:
    async with stack(kafka_bootstrap, in_process_worker=False) as s:
        settings = settings_from({**s.env, "ECSP_OPS_PORT": str(port)})
        async with in_process(settings) as metrics:
            base = f"http://127.0.0.1:{port}"
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http:

                async def ready() -> bool:
                    try:
                        async with http.get(f"{base}/readyz") as response:
                            return response.status == 200
                    except aiohttp.ClientConnectionError:  # not listening yet
                        return False

                await wait_for(ready, timeout=30)
                async with http.get(f"{base}/healthz") as response:
                    assert response.status == 200
                await s.publish([("observed", example("01-prepaid-keypair.json"))])
                await s.outcomes(1)
                await wait_for(
                    lambda: (
                        sample(
                            metrics,
                            "ecsp_committed_offset",
                            topic=settings.topic_requests,
                            partition="0",
                        )
                        == 1
                    )
                )
                async with http.get(f"{base}/metrics") as response:
                    text = await response.text()

    for name in (
        "ecsp_messages_consumed_total",
        'ecsp_events_published_total{type="ecs.provisioning.succeeded"} 1.0',
        'ecsp_api_calls_total{endpoint="create",outcome="ok"} 1.0',
        "ecsp_api_latency_seconds_bucket",
        "ecsp_job_duration_seconds_bucket",
        "ecsp_requests_in_flight 0.0",
        "ecsp_partitions_assigned 1.0",
        "ecsp_consumer_lag",
        "process_resident_memory_bytes",
    ):
        assert name in text, name
    for secret in (*secrets.ALL, secrets.TEST_AK):
        assert secret not in text


async def test_backpressure_pauses_and_never_holds_more_than_the_limit(
    kafka_bootstrap: str,
) -> None:
    async with stack(
        kafka_bootstrap, job_seconds=(0.6, 0.6), in_process_worker=False, ECSP_MAX_IN_FLIGHT="3"
    ) as s:
        requests = []
        for i in range(12):
            body = example("01-prepaid-keypair.json")
            body["server"]["name"] = f"bp-{i}"
            requests.append((f"bp-{i}", body))
        await s.publish(requests)
        async with in_process(s.settings) as metrics:
            peak_held = peak_paused = 0.0
            collector = asyncio.create_task(s.outcomes(12, timeout=60))
            while not collector.done():
                peak_held = max(peak_held, sample(metrics, "ecsp_requests_in_flight"))
                peak_paused = max(peak_paused, sample(metrics, "ecsp_partitions_paused"))
                await asyncio.sleep(0.02)
            records = collector.result()

    assert len(records) == 12
    assert peak_held == 3  # reached the limit, never above it
    assert peak_paused == 1  # the partition was paused while the worker was full


async def test_iam_token_mode_never_logs_the_token(
    kafka_bootstrap: str, suite_log: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from worker.ecs.auth import TokenAuth
    from worker.simulator.knobs import SimulatorConfig
    from worker.simulator.serving import running_simulator

    issued: list[str] = []
    fetch_token = TokenAuth.token

    async def recording_token(self: TokenAuth, project_id: str) -> str:
        value = await fetch_token(self, project_id)
        issued.append(value)
        return value

    monkeypatch.setattr(TokenAuth, "token", recording_token)

    async with stack(kafka_bootstrap, in_process_worker=False) as s:
        config = SimulatorConfig(iam_users={"robot": secrets.TEST_SK}, job_seconds=(0.2, 0.2))
        async with running_simulator(config) as iam_and_ecs:
            env = {
                **s.env,
                "ECSP_ECS_ENDPOINT": iam_and_ecs,
                "ECSP_AUTH_MODE": "token",
                "ECSP_IAM_ENDPOINT": iam_and_ecs,
                "ECSP_IAM_DOMAIN": "acme",
                "ECSP_IAM_USERNAME": "robot",
                "ECSP_IAM_PASSWORD": secrets.TEST_SK,
            }
            async with in_process(settings_from(env)) as metrics:
                await s.publish([("token-mode", example("01-prepaid-keypair.json"))])
                (record,) = await s.outcomes(1)

    assert record.json()["type"] == "ecs.provisioning.succeeded"
    assert sample(metrics, "ecsp_api_calls_total", endpoint="iam", outcome="ok") == 1
    assert issued
    captured = suite_log.read_text() + (record.value or b"").decode()
    for token in set(issued):
        assert token not in captured
