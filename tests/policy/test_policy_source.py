"""The policy in force: read at start, re-read on change, the last good one kept on a bad change."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from worker.ops.metrics import Metrics
from worker.policy.load import PolicyFileError
from worker.policy.source import PolicySource


def write(path: Path, text: str) -> None:
    staged = path.with_suffix(".staged")
    staged.write_text(text)
    os.replace(staged, path)


def reloads(metrics: Metrics, outcome: str) -> float:
    return metrics.registry.get_sample_value("ecsp_policy_reloads_total", {"outcome": outcome}) or 0


def test_an_invalid_file_at_start_is_an_error_naming_the_problem(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("default: {max_count: many}\n")
    with pytest.raises(PolicyFileError, match=r"default\.max_count"):
        PolicySource.open(path)
    with pytest.raises(PolicyFileError, match="cannot read it"):
        PolicySource.open(tmp_path / "missing.yaml")


def test_no_file_means_no_rules() -> None:
    source = PolicySource.open(None)
    assert source.current().rules_for("any") == source.current().default
    assert source.current().default.max_count is None


async def test_changes_apply_and_a_bad_change_keeps_the_last_good_policy(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("default: {max_count: 3}\n")
    metrics = Metrics()
    source = PolicySource.open(path, observer=metrics)
    assert source.current().default.max_count == 3
    assert await source.reload() is False  # unchanged

    write(path, "default: {max_count: 5}\n")
    assert await source.reload() is True
    assert source.current().default.max_count == 5

    write(path, "default: {max_count: [\n")
    assert await source.reload() is False
    assert await source.reload() is False  # the same bad content is reported once
    assert source.current().default.max_count == 5
    assert reloads(metrics, "invalid") == 1
    assert metrics.registry.get_sample_value("ecsp_policy_file_valid") == 0

    path.unlink()
    assert await source.reload() is False
    assert source.current().default.max_count == 5

    write(path, "default: {max_count: 7}\n")
    assert await source.reload() is True
    assert source.current().default.max_count == 7
    assert reloads(metrics, "loaded") == 3
    assert reloads(metrics, "invalid") == 2
    assert metrics.registry.get_sample_value("ecsp_policy_file_valid") == 1
