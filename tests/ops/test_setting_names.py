"""An `ECSP_*` name that is no setting stops the worker at start, naming the closest setting.

Also: what is not a typo (secret references under the configured prefix, the test tooling's own
variables, names the allow-list setting lists) passes, and every `ECSP_*` name the repository's
code, scripts and manifests set or read passes the rule, so none of them stops a worker.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from worker.ops.setting_names import unknown_names
from worker.ops.settings import ConfigError, load_settings, settings_env_names

ROOT = Path(__file__).resolve().parents[2]
#: `ECSP_*` tokens in the code that are not variables: a secret prefix a test refuses.
NOT_VARIABLES = {"ECSP_E"}
#: Files that quote misspelt names on purpose (this one, and the rule's own docstring).
QUOTING_TYPOS = {f"tests/ops/{Path(__file__).name}", "worker/ops/setting_names.py"}


def run_worker(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`ecs-provisioner run ARGS` with a complete configuration and a broker that does not exist:
    it either stops at its configuration (2) or gets as far as Kafka (3)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ECSP_")}
    base = {
        "ECSP_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1",
        "ECSP_ECS_PROJECT_ID": "p",
        "ECSP_ECS_AK": "ak",
        "ECSP_ECS_SK": "sk",
        "ECSP_OPS_PORT": "0",
    }
    return subprocess.run(
        [sys.executable, "-m", "worker", "run", *args],
        env={**clean, **base, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_an_unknown_ecsp_variable_stops_run_with_exit_2_naming_the_closest_setting() -> None:
    result = run_worker({"ECSP_KAFKA_BOOTSTRAP_SERVER": "kafka:9093", "ECSP_POLICY_FIEL": "p.yaml"})
    assert result.returncode == 2
    assert result.stderr == (
        "ecs-provisioner: invalid configuration: ECSP_KAFKA_BOOTSTRAP_SERVER is no setting; "
        "did you mean ECSP_KAFKA_BOOTSTRAP_SERVERS?; ECSP_POLICY_FIEL is no setting; did you "
        "mean ECSP_POLICY_FILE? (a variable meant for something else can be named in "
        "ECSP_ALLOWED_UNKNOWN_VARIABLES)\n"
    )


def test_an_unknown_key_of_the_config_file_stops_run_too(tmp_path: Path) -> None:
    config = tmp_path / "worker.env"
    config.write_text("ECSP_LOG_LEVL=DEBUG\nLOG_FORMAT=json\n")
    result = run_worker({}, "--config", str(config))
    assert result.returncode == 2
    assert f"ECSP_LOG_LEVL (in {config}) is no setting; did you mean ECSP_LOG_LEVEL?" in (
        result.stderr
    )
    assert f"LOG_FORMAT (in {config}) is no setting; did you mean ECSP_LOG_FORMAT?" in (
        result.stderr
    )


def test_secrets_tooling_and_allowed_names_do_not_stop_run() -> None:
    result = run_worker(
        {
            "ECSP_SECRET_ADMIN_PASS": "a secret reference under the default prefix",
            "ECSP_TEST_EVENT_LOG": "/tmp/events.jsonl",
            "ECSP_BENCH_KAFKA_BOOTSTRAP": "127.0.0.1:9092",
            "ECSP_DEPLOY_REVISION": "42",
            "ECSP_MYTOOL_COLOUR": "blue",
            "ECSP_ALLOWED_UNKNOWN_VARIABLES": "ECSP_DEPLOY_REVISION, ECSP_MYTOOL_*",
        }
    )
    assert result.returncode == 3, result.stderr  # past the configuration, at Kafka


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in [n for n in os.environ if n.startswith("ECSP_")]:
        monkeypatch.delenv(name)
    return monkeypatch


def test_secret_references_count_under_the_configured_prefix_only(
    clean_env: pytest.MonkeyPatch,
) -> None:
    clean_env.setenv("ECSP_SECRET_ENV_PREFIX", "ECSP_TEAM_A_")
    clean_env.setenv("ECSP_TEAM_A_ADMIN_PASS", "x")
    load_settings()
    clean_env.setenv("ECSP_SECRET_ADMIN_PASS", "x")
    with pytest.raises(ConfigError, match="ECSP_SECRET_ADMIN_PASS is no setting"):
        load_settings()


def test_every_ecsp_name_the_repository_sets_or_reads_passes() -> None:
    files = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    names: dict[str, str] = {}
    for name in files:
        if name.endswith((".md", ".json")) or name in QUOTING_TYPOS:
            continue  # prose and measurements; deliberate typos
        text = (ROOT / name).read_text(errors="replace")
        for token in re.findall(r"\bECSP_[A-Z0-9_]*[A-Z0-9]\b", text):
            names.setdefault(token, name)
    assert len(names) > 60
    unknown = unknown_names(
        set(names) - NOT_VARIABLES,
        (),
        known=settings_env_names(),
        secret_prefix="ECSP_SECRET_",
        allowed=(),
    )
    assert unknown == []
