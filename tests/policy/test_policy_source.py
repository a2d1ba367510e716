"""The policy in force: read at start, re-read on change, the last good one kept on a bad change."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from worker.ops.metrics import Metrics
from worker.policy.load import PolicyFileError
from worker.policy.source import PolicySource
from worker.tasks import cancel_and_wait


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


async def _until(condition: Callable[[], bool], within: float = 10.0) -> None:
    """Waits until `condition()` holds (checked every 10 ms); fails after `within` seconds."""
    for _ in range(int(within / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"not within {within} s")


async def test_the_watcher_survives_a_file_too_deep_to_read(
    tmp_path: Path, suite_log: Path
) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("default: {max_count: 3}\n")
    metrics = Metrics()
    source = PolicySource.open(path, observer=metrics)
    watcher = asyncio.create_task(source.watch(0.01))
    try:
        write(path, "default:\n  flavors: " + "[" * 3000 + "]" * 3000 + "\n")
        await _until(lambda: reloads(metrics, "invalid") == 1)
        assert metrics.registry.get_sample_value("ecsp_policy_file_valid") == 0
        assert source.current().default.max_count == 3

        write(path, "default: {max_count: 7}\n")
        await _until(lambda: source.current().default.max_count == 7)
        assert not watcher.done()
    finally:
        await cancel_and_wait(watcher)
    assert "nested too deeply" in suite_log.read_text()


async def test_the_watcher_survives_any_exception_and_says_so(
    tmp_path: Path, suite_log: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("default: {max_count: 3}\n")
    metrics = Metrics()
    source = PolicySource.open(path, observer=metrics)

    def explode(raw: bytes, **_: object) -> None:
        raise MemoryError

    monkeypatch.setattr("worker.policy.source.parse_policy", explode)
    write(path, "default: {max_count: 4}\n")
    watcher = asyncio.create_task(source.watch(0.01))
    try:
        await _until(lambda: reloads(metrics, "invalid") >= 1)
        monkeypatch.undo()
        await _until(lambda: source.current().default.max_count == 4)
        assert metrics.registry.get_sample_value("ecsp_policy_file_valid") == 1
    finally:
        await cancel_and_wait(watcher)
    lines = [line for line in suite_log.read_text().splitlines() if "policy reload failed" in line]
    assert any("MemoryError" in line for line in lines)


async def test_a_reload_naming_a_tenant_the_worker_does_not_serve_keeps_the_last_policy(
    tmp_path: Path,
) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("default: {max_count: 3}\ntenants: {team-a: {max_count: 1}}\n")
    metrics = Metrics()
    source = PolicySource.open(path, observer=metrics, tenants={"team-a", "team-b"})
    write(path, "default: {max_count: 3}\ntenants: {team-bb: {max_count: 9}}\n")
    assert await source.reload() is False
    assert reloads(metrics, "invalid") == 1
    assert source.current().rules_for("p", "team-a").max_count == 1
    with pytest.raises(PolicyFileError) as caught:
        PolicySource.open(path, tenants={"team-a", "team-b"})
    assert caught.value.problems == [
        "tenants.team-bb: no tenant of that name in ECSP_TENANTS_FILE; did you mean team-b?"
    ]
