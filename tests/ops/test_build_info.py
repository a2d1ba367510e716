"""What an operator can ask a running install: its version (command line and metric), its
license, and metrics that exist before the first event (so the first failure moves a rate)."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

from ecsp_contract.events import EventType
from ecsp_contract.failures import FailureStage
from worker.ops.metrics import API_OUTCOMES, PRECREATED_ENDPOINTS, Metrics
from worker.ops.version import package_version

REPO = Path(__file__).parents[2]


def test_version_flag_prints_the_package_version() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "worker", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"ecs-provisioner {project['version']}"
    assert package_version() == project["version"]


def test_build_info_metric_names_the_version() -> None:
    metrics = Metrics()
    labels = {"version": package_version(), "python": sys.version.split()[0]}
    assert metrics.registry.get_sample_value("ecsp_build_info", labels) == 1


def test_labelled_counters_exist_at_zero_before_anything_happens() -> None:
    metrics = Metrics()
    value = metrics.registry.get_sample_value
    for stage in FailureStage:
        assert value("ecsp_failures_total", {"stage": stage.value}) == 0
    for event_type in EventType:
        assert value("ecsp_events_published_total", {"type": event_type.value}) == 0
    for endpoint in PRECREATED_ENDPOINTS:
        assert value("ecsp_api_retries_total", {"endpoint": endpoint}) == 0
        for outcome in API_OUTCOMES:
            assert value("ecsp_api_calls_total", {"endpoint": endpoint, "outcome": outcome}) == 0


def test_license_file_is_the_one_pyproject_declares() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["license"] == "Apache-2.0"
    assert project["license-files"] == ["LICENSE"]
    text = (REPO / "LICENSE").read_text()
    assert "Apache License" in text.splitlines()[1]
    assert "Version 2.0, January 2004" in text
    assert "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION" in text


def test_the_command_line_does_not_load_the_simulator_or_aiohttps_server() -> None:
    """Every command builds the whole parser; the simulator's app (aiohttp's server side, with
    the newest API the project needs) must load only when `simulator` runs."""
    code = (
        "import sys; from worker.cli.main import build_parser; build_parser(); "
        "print(' '.join(sorted(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    loaded = set(result.stdout.split())
    assert "worker.cli.simulator" in loaded
    assert not loaded & {"worker.simulator.app", "worker.simulator.state", "aiohttp.web"}
