"""`$NAME` references cannot reach the worker's own settings: a prefix that could is refused at
start (exit 2), and names that would resolve to a setting are unknown whatever the prefix."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.support import secrets
from worker.ops.settings import ConfigError, load_settings, settings_env_names
from worker.pipeline.secrets import SecretSource


@pytest.fixture(autouse=True)
def run_ready_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("ECSP_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("ECSP_ECS_PROJECT_ID", "p0")
    monkeypatch.setenv("ECSP_ECS_AK", secrets.TEST_AK)
    monkeypatch.setenv("ECSP_ECS_SK", secrets.TEST_SK)


@pytest.mark.parametrize("prefix", ["", "ECSP_", "ECSP_E", "E", "ECSP_IAM_"])
def test_a_prefix_reaching_the_workers_settings_is_refused(
    monkeypatch: pytest.MonkeyPatch, prefix: str
) -> None:
    monkeypatch.setenv("ECSP_SECRET_ENV_PREFIX", prefix)
    with pytest.raises(ConfigError, match="ECSP_SECRET_ENV_PREFIX"):
        load_settings(for_run=True)


@pytest.mark.parametrize("prefix", ["ECSP_SECRET_", "APP_SECRET_", "ECSP_PW_"])
def test_a_prefix_of_its_own_is_accepted(monkeypatch: pytest.MonkeyPatch, prefix: str) -> None:
    monkeypatch.setenv("ECSP_SECRET_ENV_PREFIX", prefix)
    assert load_settings(for_run=True).secret_env_prefix == prefix


def test_run_exits_2_on_a_prefix_that_reaches_the_credentials() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "worker", "run"],
        env={**os.environ, "ECSP_SECRET_ENV_PREFIX": "ECSP_", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "ECSP_SECRET_ENV_PREFIX" in result.stderr
    assert secrets.TEST_SK not in result.stderr


async def test_names_that_are_settings_never_resolve(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECSP_SECRET_DIR", "/run/secrets")
    monkeypatch.setenv("ECSP_SECRET_ADMIN", "Fine!Passw0rd")
    source = SecretSource("ECSP_SECRET_", None, settings_env_names())
    assert await source.lookup("DIR") is None
    assert await source.lookup("ENV_PREFIX") is None
    assert await source.lookup("ADMIN") == "Fine!Passw0rd"
    # even a source built without the guard's prefix check cannot reach the credentials
    assert await SecretSource("ECSP_", None, settings_env_names()).lookup("ECS_SK") is None
