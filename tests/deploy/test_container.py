"""The Dockerfile, .dockerignore and deploy/compose.yaml are consistent with the worker.

No Docker engine is needed: the Dockerfile is checked as text (stages, user, entry point), the
compose file as parsed YAML (services, commands, environment against the worker's settings and
the simulator's flags). `docker compose config` additionally validates the compose file where
the Compose v2 plugin is installed; that one check is skipped, with a reason, elsewhere.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from tests.support.manifests import TOPIC_SETTINGS
from worker.ops.settings import FILE_BACKED_SECRETS, Settings

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "deploy" / "compose.yaml"
SCALED_OBJECT = REPO / "deploy" / "k8s" / "components" / "keda" / "scaledobject.yaml"


def dockerfile_stages() -> list[list[tuple[str, str]]]:
    """The Dockerfile as stages of (INSTRUCTION, arguments), continuation lines joined."""
    text = re.sub(r"\\\n", " ", (REPO / "Dockerfile").read_text())
    stages: list[list[tuple[str, str]]] = [[]]
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        instruction, _, arguments = line.partition(" ")
        if instruction.upper() == "FROM":
            stages.append([])
        stages[-1].append((instruction.upper(), arguments.strip()))
    return stages


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def option(args: list[str], flag: str) -> str:
    return args[args.index(flag) + 1]


# --- Dockerfile ----------------------------------------------------------------------------------


def test_image_is_multi_stage_on_one_slim_base() -> None:
    preamble, builder, final = dockerfile_stages()
    assert preamble == [("ARG", "PYTHON_IMAGE=python:3.11-slim-bookworm")]
    assert builder[0] == ("FROM", "${PYTHON_IMAGE} AS builder")
    assert final[0] == ("FROM", "${PYTHON_IMAGE}")  # same interpreter the venv was built with


def test_final_stage_gets_only_the_venv_and_no_build_tools() -> None:
    final = dockerfile_stages()[-1]
    instructions = [instruction for instruction, _ in final]
    assert "RUN" not in instructions, "no package manager or compiler runs in the final stage"
    copies = [arguments for instruction, arguments in final if instruction in {"COPY", "ADD"}]
    assert copies == ["--from=builder /opt/venv /opt/venv"]
    builder = dockerfile_stages()[1]
    build_steps = " ".join(arguments for instruction, arguments in builder if instruction == "RUN")
    assert not re.search(r"apt-get|gcc|build-essential", build_steps)


def test_image_runs_the_worker_as_a_numeric_non_root_user() -> None:
    final = dict(dockerfile_stages()[-1])
    user, _, group = final["USER"].partition(":")
    assert user.isdigit()
    assert int(user) > 0
    assert group.isdigit()
    assert final["ENTRYPOINT"] == '["ecs-provisioner"]'
    assert final["CMD"] == '["run"]'
    assert final["EXPOSE"] == str(Settings.model_fields["ops_port"].default)
    assert "PYTHONDONTWRITEBYTECODE=1" in final["ENV"]  # read-only root filesystem


def test_dockerignore_keeps_the_context_small_but_complete() -> None:
    ignored = {
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".git", ".venv", "deploy/local/.cache", "**/__pycache__", ".mypy_cache"} <= ignored
    builder = dockerfile_stages()[1]
    copied = [
        source
        for instruction, arguments in builder
        if instruction == "COPY"
        for source in arguments.split()[:-1]
    ]
    assert copied
    for source in copied:
        assert (REPO / source).exists(), source
        assert not any(source == pattern or source.startswith(f"{pattern}/") for pattern in ignored)


# --- compose -------------------------------------------------------------------------------------


def test_compose_runs_kafka_simulator_and_worker() -> None:
    services = compose()["services"]
    assert set(services) == {"kafka", "kafka-init", "simulator", "worker"}
    assert re.fullmatch(r"apache/kafka:4\.1\.\d+", services["kafka"]["image"])
    assert services["kafka-init"]["image"] == services["kafka"]["image"]
    assert services["worker"]["command"] == ["run"]
    assert services["simulator"]["command"][0] == "simulator"
    assert services["worker"]["image"] == services["simulator"]["image"]
    assert services["worker"]["build"]["dockerfile"] == "Dockerfile"
    assert (COMPOSE.parent / services["worker"]["build"]["context"] / "Dockerfile").is_file()


def test_compose_worker_settings_are_known_and_consistent() -> None:
    services = compose()["services"]
    env = {key: str(value) for key, value in services["worker"]["environment"].items()}
    known = {f"ECSP_{field.upper()}" for field in Settings.model_fields}
    known |= {f"ECSP_{name.upper()}_FILE" for name in FILE_BACKED_SECRETS}
    assert not set(env) - known, sorted(set(env) - known)

    simulator_args = services["simulator"]["command"]
    endpoint = urlsplit(env["ECSP_ECS_ENDPOINT"])
    assert endpoint.hostname == "simulator"
    assert str(endpoint.port) == option(simulator_args, "--port")
    assert option(simulator_args, "--host") == "0.0.0.0"
    simulator_env = services["simulator"].get("environment", {})
    credentials = set(simulator_env.get("ECSP_SIMULATOR_CREDENTIALS", "").split(","))
    credentials |= {
        simulator_args[i + 1] for i, a in enumerate(simulator_args) if a == "--credential"
    }
    assert f"{env['ECSP_ECS_AK']}:{env['ECSP_ECS_SK']}" in credentials
    assert "--admin-routes" in simulator_args  # its health check reads /_sim/stats
    assert env["ECSP_ECS_PROJECT_ID"]

    advertised = services["kafka"]["environment"]["KAFKA_ADVERTISED_LISTENERS"].split(",")
    internal = {listener.split("://", 1)[1] for listener in advertised}
    assert env["ECSP_KAFKA_BOOTSTRAP_SERVERS"] in internal


def test_compose_creates_the_worker_topics_with_the_recommended_partitions() -> None:
    script = " ".join(compose()["services"]["kafka-init"]["command"])
    created = dict(spec.split(":") for spec in re.findall(r"ecs\.provisioning\.\w+:\d+", script))
    topics = {Settings.model_fields[name].default for name in TOPIC_SETTINGS}
    assert set(created) == topics
    state = Settings.model_fields["topic_state"].default
    assert "--config cleanup.policy=compact" in script.split(f"spec={state}:", 1)[1]
    scaled_object = yaml.safe_load(SCALED_OBJECT.read_text())
    # one worker per partition at most: the k8s autoscaler's ceiling is this partition count
    assert (
        int(created[Settings.model_fields["topic_requests"].default])
        == (scaled_object["spec"]["maxReplicaCount"])
    )


def test_compose_containers_are_hardened_and_drain_on_stop() -> None:
    services = compose()["services"]
    grace = Settings.model_fields["shutdown_grace_seconds"].default
    for name in ("simulator", "worker"):
        service = services[name]
        assert service["read_only"] is True
        assert service["cap_drop"] == ["ALL"]
        assert int(service["user"].split(":")[0]) > 0
        assert "/tmp" in service["tmpfs"]
    stop = services["worker"]["stop_grace_period"]
    assert int(stop.removesuffix("s")) >= grace + 5
    probe = " ".join(services["worker"]["healthcheck"]["test"])
    assert f":{Settings.model_fields['ops_port'].default}/readyz" in probe


def test_compose_file_passes_docker_compose_config() -> None:
    docker = shutil.which("docker")
    version = (
        subprocess.run(
            [docker, "compose", "version", "--short"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if docker
        else None
    )
    if version is None or version.returncode != 0:
        pytest.skip("the Docker Compose v2 plugin is not installed; compose.yaml checked as YAML")
    result = subprocess.run(
        [str(docker), "compose", "-f", str(COMPOSE), "config", "--quiet"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, shlex.join(result.args) + "\n" + result.stderr
