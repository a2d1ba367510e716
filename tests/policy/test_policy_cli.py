"""The command line: `policy check` and `validate --policy` (`run` with a bad file: tests/ops)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.bodies import server_body
from worker.cli.main import main

POLICY = "default: {flavors: {allow: [s6.*]}, max_count: 3}\nprojects: {big: {max_count: 10}}\n"


@pytest.fixture
def policy(tmp_path: Path) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY)
    return path


def body_file(tmp_path: Path, **server: object) -> str:
    path = tmp_path / "body.json"
    path.write_text(json.dumps(server_body(**server)))  # type: ignore[arg-type]
    return str(path)


def test_policy_check_accepts_a_valid_file(
    policy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["policy", "check", str(policy)]) == 0
    assert capsys.readouterr().out == (
        "valid: default rules: flavors, max_count; 1 project override(s)\n"
    )


def test_policy_check_lists_every_problem_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("default: {max_count: 0, flavor: {}}\n")
    assert main(["policy", "check", str(path)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert sorted(line.split(":")[0] for line in lines) == ["default.flavor", "default.max_count"]


DEPTH = 3000
HOSTILE_FILES = {
    "deep list": "default:\n  flavors: " + "[" * DEPTH + "]" * DEPTH + "\n",
    "deep map": "default: " + "{a: " * DEPTH + "1" + "}" * DEPTH + "\n",
    "impossible date": "default: {max_count: 2001-02-30}\n",
}


@pytest.mark.parametrize("text", HOSTILE_FILES.values(), ids=HOSTILE_FILES.keys())
def test_policy_check_of_a_hostile_file_says_why_without_a_traceback(
    text: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "hostile.yaml"
    path.write_text(text)
    assert main(["policy", "check", str(path)]) == 1
    out = capsys.readouterr()
    assert "Traceback" not in out.out + out.err
    assert any(why in out.out for why in ("nested too deeply", "cannot be read: ValueError"))


def test_policy_check_of_an_unreadable_file_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["policy", "check", str(tmp_path / "nope.yaml")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_validate_with_a_policy_lists_the_broken_rules(
    tmp_path: Path, policy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body = body_file(tmp_path, flavorRef="c7.large.2", count=5)
    assert main(["validate", "--policy", str(policy), body]) == 1
    assert capsys.readouterr().out.splitlines() == [
        "server.flavorRef: c7.large.2 is not allowed (allowed: s6.*) (rule flavors)",
        "server.count: count 5 is more than the 3 servers allowed per request (rule max_count)",
    ]


def test_validate_with_a_policy_uses_the_project_overrides(
    tmp_path: Path, policy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body = body_file(tmp_path, count=5)
    assert main(["validate", "--policy", str(policy), "--project", "big", body]) == 0
    assert capsys.readouterr().out.endswith(", allowed by the policy\n")


def test_validate_with_an_invalid_policy_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("default: [\n")
    assert main(["validate", "--policy", str(bad), body_file(tmp_path)]) == 2
    assert "not YAML" in capsys.readouterr().err
