"""Starting the worker against an unreachable broker, with an invalid policy or tenants file, with
OTEL_* asking for an exporter it lacks, or with a region or endpoint that would send credentials
elsewhere fails fast, clearly, and cleanly."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def run_worker_against_no_broker(**extra: str) -> subprocess.CompletedProcess[str]:
    """`ecs-provisioner run` with a complete configuration whose broker does not exist."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("ECSP_")},
        "ECSP_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1",
        "ECSP_ECS_PROJECT_ID": "p",
        "ECSP_ECS_AK": "ak",
        "ECSP_ECS_SK": "sk-value-never-printed",
        "ECSP_OPS_PORT": "0",
        "ECSP_LOG_FORMAT": "json",
        **extra,
    }
    return subprocess.run(
        [sys.executable, "-m", "worker", "run"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_unreachable_broker_exits_3_naming_address_and_setting_and_nothing_unclosed() -> None:
    result = run_worker_against_no_broker()
    assert result.returncode == 3
    assert (
        "ecs-provisioner: cannot reach Kafka at 127.0.0.1:1 (ECSP_KAFKA_BOOTSTRAP_SERVERS)"
        in result.stderr
    )
    assert "Unclosed" not in result.stderr  # every client was closed on the way out
    assert "sk-value-never-printed" not in result.stderr + result.stdout


def test_the_worker_refuses_to_start_with_an_invalid_policy_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("default: {max_count: 0}\n")
    result = run_worker_against_no_broker(ECSP_POLICY_FILE=str(bad))
    assert result.returncode == 2
    assert "ECSP_POLICY_FILE" in result.stderr
    assert "default.max_count" in result.stderr


def test_the_worker_refuses_to_start_with_a_typo_in_the_tenants_file(tmp_path: Path) -> None:
    bad = tmp_path / "tenants.yaml"
    bad.write_text(
        "tenants:\n  team-a: {project_id: a, projcts: [a-2]}\n  team-b: {project_id: p}\n"
    )
    result = run_worker_against_no_broker(ECSP_TENANTS_FILE=str(bad))
    assert result.returncode == 2
    assert "ECSP_TENANTS_FILE: invalid tenants file" in result.stderr
    assert "tenants.team-a.projcts: unknown key; did you mean projects?" in result.stderr


def test_the_worker_refuses_to_start_when_otel_asks_for_an_exporter_it_lacks() -> None:
    result = run_worker_against_no_broker(
        OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:1", OTEL_EXPORTER_OTLP_PROTOCOL="grpc"
    )
    assert result.returncode == 2
    assert "OTEL_EXPORTER_OTLP_PROTOCOL='grpc'" in result.stderr
    assert "invalid configuration" in result.stderr


def test_a_region_that_is_not_a_region_name_exits_2_before_any_connection() -> None:
    result = run_worker_against_no_broker(ECSP_ECS_REGION="attacker.example/#")
    assert result.returncode == 2
    assert "ECSP_ECS_REGION" in result.stderr
    assert "Unable to bootstrap" not in result.stderr  # not even the broker was contacted


def test_a_plain_http_endpoint_exits_2_unless_the_operator_allows_it() -> None:
    result = run_worker_against_no_broker(ECSP_ECS_ENDPOINT="http://ecs.example.com")
    assert result.returncode == 2
    assert "ECSP_ECS_ENDPOINT" in result.stderr
    assert "Unable to bootstrap" not in result.stderr
    allowed = run_worker_against_no_broker(
        ECSP_ECS_ENDPOINT="http://ecs.example.com", ECSP_ALLOW_INSECURE_ENDPOINTS="true"
    )
    assert allowed.returncode == 3  # past the configuration: the missing broker stops it
