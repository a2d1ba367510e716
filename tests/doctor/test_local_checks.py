"""The checks that need no network: configuration, policy file, secrets directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import secrets
from worker.doctor.checklist import Outcome, failed, line, passed, skipped, tally
from worker.doctor.kafka_metadata import operations_of
from worker.doctor.local import configuration, policy_file, secrets_directory
from worker.ops.settings import Settings


def test_a_configuration_run_would_refuse_fails_but_still_gives_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ECSP_ECS_PROJECT_ID", raising=False)
    config = tmp_path / "worker.env"
    config.write_text(f"ECSP_ECS_AK={secrets.TEST_AK}\nECSP_ECS_SK={secrets.TEST_SK}\n")
    check, settings = configuration(str(config))
    assert check.outcome is Outcome.FAILED
    assert "ECSP_ECS_PROJECT_ID: required" in check.detail
    assert settings is not None  # the Kafka and the rest are still checked
    assert secrets.TEST_SK not in check.detail + check.fix


def test_an_invalid_setting_leaves_no_settings(tmp_path: Path) -> None:
    config = tmp_path / "worker.env"
    config.write_text("ECSP_MAX_IN_FLIGHT=0\n")
    check, settings = configuration(str(config))
    assert check.outcome is Outcome.FAILED
    assert "ECSP_MAX_IN_FLIGHT" in check.detail
    assert settings is None


def test_policy_file(tmp_path: Path) -> None:
    assert policy_file(Settings()).outcome is Outcome.PASSED
    good = tmp_path / "good.yaml"
    good.write_text("default: {max_count: 5}\nprojects: {p1: {max_count: 1}}\n")
    check = policy_file(Settings(policy_file=good))
    assert (check.outcome, check.detail) == (
        Outcome.PASSED,
        f"{good}: valid, rules for 1 project(s) + default",
    )
    bad = tmp_path / "bad.yaml"
    bad.write_text("default: {max_cont: 5}\n")
    check = policy_file(Settings(policy_file=bad))
    assert check.outcome is Outcome.FAILED
    assert "default.max_cont" in check.detail
    assert f"ecs-provisioner policy check {bad}" in check.fix


def test_secrets_directory(tmp_path: Path) -> None:
    assert secrets_directory(Settings()).outcome is Outcome.PASSED
    (tmp_path / "ADMIN_PASS").write_text(secrets.ADMIN_PASS_SECRET)
    (tmp_path / ".hidden").write_text("x")
    check = secrets_directory(Settings(secret_dir=tmp_path))
    assert (check.outcome, check.detail) == (
        Outcome.PASSED,
        f"{tmp_path}: readable, 1 secret file(s)",
    )
    assert secrets.ADMIN_PASS_SECRET not in check.detail
    for path, problem in [
        (tmp_path / "nope", "does not exist"),
        (tmp_path / "ADMIN_PASS", "is not a directory"),
    ]:
        check = secrets_directory(Settings(secret_dir=path))
        assert (check.outcome, check.detail) == (Outcome.FAILED, f"{path}: {problem}")
        assert "ECSP_SECRET_DIR" in check.fix


def test_authorized_operations_bits() -> None:
    everything = 0b110111111000  # what a broker without an authorizer reports for a topic
    assert operations_of(everything) == frozenset({"Read", "Write", "Describe"})
    assert operations_of((1 << 3) | (1 << 8)) == frozenset({"Read", "Describe"})
    assert operations_of(-(2**31)) is None  # not computed by the broker


def test_the_checklist_lines_up_and_counts() -> None:
    checks = [
        passed("kafka", "up"),
        failed("topic state", "missing", "create it"),
        skipped("x", "y"),
    ]
    assert [line(c) for c in checks] == [
        "ok    kafka              up",
        "FAIL  topic state        missing\n                         fix: create it",
        "skip  x                  y",
    ]
    assert tally(checks) == "1 of 3 checks failed, 1 skipped"
    assert tally(checks[:1]) == "all 1 checks passed"
