"""Configuration: ECSP_* variables, *_FILE secrets, errors naming the setting, generated tables."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tools.docgen.config_table import main as config_table_main
from tools.docgen.failure_table import main as failure_table_main
from worker.ops.settings import ConfigError, Settings, load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("ECSP_"):
            monkeypatch.delenv(name)


def test_environment_variables_are_read_with_types(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECSP_MAX_IN_FLIGHT", "10000")
    monkeypatch.setenv("ECSP_ECS_PROJECT_ALLOWLIST", "p1, p2,,p3")
    monkeypatch.setenv("ECSP_ECS_PROJECT_ID", "p0")
    monkeypatch.setenv("ECSP_LOG_LEVEL", "debug")
    settings = load_settings()
    assert settings.max_in_flight == 10000
    assert settings.ecs_project_allowlist == ["p1", "p2", "p3"]
    assert settings.allowed_projects() == {"p0", "p1", "p2", "p3"}
    assert settings.log_level == "DEBUG"
    assert settings.ecs_base_url == "https://ecs.ap-southeast-1.myhuaweicloud.com"
    assert settings.iam_url == "https://iam.ap-southeast-1.myhuaweicloud.com/v3/auth/tokens"


def test_secrets_come_from_files_and_are_never_printed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "sk").write_text("file-secret-key\n")
    monkeypatch.setenv("ECSP_ECS_SK_FILE", str(tmp_path / "sk"))
    monkeypatch.setenv("ECSP_ECS_AK", "ak")
    monkeypatch.setenv("ECSP_ECS_PROJECT_ID", "p0")
    settings = load_settings(for_run=True)
    assert settings.ecs_sk is not None
    assert settings.ecs_sk.get_secret_value() == "file-secret-key"
    assert "file-secret-key" not in repr(settings)
    assert "file-secret-key" not in str(settings.model_dump())


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"ECSP_MAX_IN_FLIGHT": "lots"}, "ECSP_MAX_IN_FLIGHT"),
        ({"ECSP_KAFKA_SECURITY_PROTOCOL": "TLS"}, "ECSP_KAFKA_SECURITY_PROTOCOL"),
        ({"ECSP_AUTH_MODE": "magic"}, "ECSP_AUTH_MODE"),
        ({"ECSP_TOKEN_NAMESPACE": "not-a-uuid"}, "ECSP_TOKEN_NAMESPACE"),
        ({"ECSP_KAFKA_SECURITY_PROTOCOL": "SASL_SSL"}, "ECSP_KAFKA_SASL_USERNAME"),
        ({"ECSP_ECS_SK_FILE": "/nonexistent/sk"}, "ECSP_ECS_SK_FILE"),
        ({"ECSP_ALLOWED_EXTRA_FIELDS": "server.name"}, "ECSP_ALLOWED_EXTRA_FIELDS"),
        ({"ECSP_ALLOWED_EXTRA_FIELDS": "server.colour.x"}, "ECSP_ALLOWED_EXTRA_FIELDS"),
        ({"ECSP_ECS_REGION": "attacker.example/#"}, "ECSP_ECS_REGION"),
        ({"ECSP_ECS_REGION": "AP-SOUTHEAST-1"}, "ECSP_ECS_REGION"),
        ({"ECSP_ECS_ENDPOINT": "http://ecs.example.com"}, "ECSP_ECS_ENDPOINT.*plain http"),
        ({"ECSP_ECS_ENDPOINT": "ftp://127.0.0.1"}, "ECSP_ECS_ENDPOINT.*http"),
        ({"ECSP_IAM_ENDPOINT": "http://10.0.0.7/v3/auth/tokens"}, "ECSP_IAM_ENDPOINT"),
        ({"ECSP_ECS_METADATA_ENDPOINT": "http://metadata.example"}, "ECSP_ECS_METADATA_ENDPOINT"),
    ],
)
def test_invalid_settings_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], named: str
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError, match=named):
        load_settings()


def test_invalid_settings_are_worded_by_the_project_not_pydantic(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ECSP_MAX_IN_FLIGHT", "0")
    monkeypatch.setenv("ECSP_LOG_FORMAT", "yaml")
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert str(info.value) == (
        "ECSP_MAX_IN_FLIGHT: must be at least 1; "
        "ECSP_LOG_FORMAT: must be 'auto', 'json' or 'console'"
    )


@pytest.mark.parametrize(
    "settings",
    [
        {"ecs_endpoint": "https://ecs.example.com"},
        {"ecs_endpoint": "http://127.0.0.1:8700", "iam_endpoint": "http://[::1]:8700"},
        {"ecs_endpoint": "http://localhost:8700"},
        {"ecs_metadata_endpoint": "http://169.254.169.254"},  # the metadata service is http
        {"ecs_endpoint": "http://ecs-simulator:8700", "allow_insecure_endpoints": True},
        {"ecs_region": "cn-north-4"},
    ],
)
def test_https_loopback_or_an_explicit_insecure_setting_is_accepted(
    settings: dict[str, Any],
) -> None:
    Settings(**settings)


def test_run_requires_project_and_credentials() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(for_run=True)
    assert "ECSP_ECS_PROJECT_ID" in str(info.value)
    assert "ECSP_ECS_AK" in str(info.value)


def test_run_command_exits_2_naming_the_bad_setting() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "worker", "run"],
        env={"ECSP_MAX_IN_FLIGHT": "0", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "ECSP_MAX_IN_FLIGHT" in result.stderr


def test_readme_configuration_table_matches_the_settings_model() -> None:
    assert config_table_main(["--check"]) == 0, "run: python -m tools.docgen.config_table"


def test_readme_failure_tables_match_the_contract() -> None:
    assert failure_table_main(["--check"]) == 0, "run: python -m tools.docgen.failure_table"


def test_file_secrets_named_in_the_config_file_are_read(tmp_path: Path) -> None:
    (tmp_path / "ak").write_text("file-access-key\n")
    (tmp_path / "sk").write_text("file-secret-key\n")
    dotenv = tmp_path / "worker.env"
    dotenv.write_text(
        f"ECSP_ECS_PROJECT_ID=p0\nECSP_ECS_AK_FILE={tmp_path / 'ak'}\n"
        f"ECSP_ECS_SK_FILE={tmp_path / 'sk'}\n"
    )
    settings = load_settings(str(dotenv), for_run=True)
    assert settings.ecs_ak is not None
    assert settings.ecs_sk is not None
    assert settings.ecs_ak.get_secret_value() == "file-access-key"
    assert settings.ecs_sk.get_secret_value() == "file-secret-key"
    assert settings.ecs_sk_file == tmp_path / "sk"


async def test_the_worker_signs_with_the_files_it_was_given(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import aiohttp

    from worker.assembly import credential_source
    from worker.ecs.credentials import Credential, FileCredentials, MetadataCredentials
    from worker.ops.metrics import Metrics

    (tmp_path / "sk").write_text("file-secret-key\n")
    monkeypatch.setenv("ECSP_ECS_AK", "literal-ak")
    monkeypatch.setenv("ECSP_ECS_SK_FILE", str(tmp_path / "sk"))
    async with aiohttp.ClientSession() as session:
        from_files = credential_source(load_settings(), session, Metrics())
        assert isinstance(from_files, FileCredentials)
        assert await from_files.current() == Credential("literal-ak", "file-secret-key")
        monkeypatch.setenv("ECSP_ECS_SK", "literal-sk")  # a value given directly wins
        assert credential_source(load_settings(), session, Metrics()) == Credential(
            "literal-ak", "literal-sk"
        )
        monkeypatch.setenv("ECSP_AUTH_MODE", "metadata")
        monkeypatch.setenv("ECSP_ECS_PROJECT_ID", "p0")
        metadata = credential_source(load_settings(for_run=True), session, Metrics())
        assert isinstance(metadata, MetadataCredentials)
