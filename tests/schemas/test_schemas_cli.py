"""`ecs-provisioner validate` and `ecs-provisioner schemas` through their own parsers."""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from ecsp_contract.export import PACKAGE_DIR
from worker.cli import schemas_cmd, validate

EXAMPLES = PACKAGE_DIR / "examples"


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="ecs-provisioner")
    subparsers = parser.add_subparsers(dest="command", required=True)
    validate.add_parser(subparsers)
    schemas_cmd.add_parser(subparsers)
    args = parser.parse_args(argv)
    code: int = args.handler(args)
    return code


def test_valid_file_prints_one_summary_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("validate", str(EXAMPLES / "05-dry-run.json")) == 0

    out = capsys.readouterr().out
    assert out.count("\n") == 1
    assert out.startswith("valid: 1 x s2.large.2")
    assert "dry run" in out


def test_secret_reference_is_reported_not_resolved(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("validate", str(EXAMPLES / "02-prepaid-password.json")) == 0

    assert "secret reference $ADMIN_PASS (resolved by the worker)" in capsys.readouterr().out


def test_invalid_body_prints_one_line_per_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body = json.loads((EXAMPLES / "01-prepaid-keypair.json").read_text())
    body["server"]["name"] = "bad name"
    body["server"]["adminPass"] = "weakpassword"
    body["server"]["nics"][0]["subnt_id"] = "x"
    path = tmp_path / "body.json"
    path.write_text(json.dumps(body))

    assert run("validate", str(path)) == 1

    lines = capsys.readouterr().out.splitlines()
    assert sorted(line.split(":")[0] for line in lines) == [
        "server.adminPass",
        "server.name",
        "server.nics[0].subnt_id",
    ]
    assert all("weakpassword" not in line for line in lines)


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"{", "ECSP.NotJson"),
        (b"", "ECSP.NotJson"),
        (b"\xff\xfe\x00{", "ECSP.NotUtf8"),
        (b"server: x", "ECSP.NotJson"),
        (b"[1]", "ECSP.NotObject"),
    ],
)
def test_input_the_worker_cannot_decode_is_invalid_with_its_code(
    data: bytes, code: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))

    assert run("validate", "-") == 1
    (line,) = capsys.readouterr().out.splitlines()
    assert line.startswith("(stdin): message value ")
    assert line.endswith(f"({code})")


def test_not_json_names_the_file_and_the_place_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "body.json"
    path.write_text('{"server": {\n  "name": "x",\n}}')

    assert run("validate", str(path)) == 1
    assert capsys.readouterr().out == (
        f"{path}: message value is not JSON: Expecting property name enclosed in double quotes "
        "at line 3 column 1 (ECSP.NotJson)\n"
    )


def test_unreadable_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("validate", str(tmp_path / "missing.json")) == 2
    assert "cannot read" in capsys.readouterr().err


def test_schemas_check_passes_on_the_checked_in_files(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("schemas", "check") == 0
    assert "up to date" in capsys.readouterr().out


def test_schemas_check_names_stale_files(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stale: Any = lambda: ["json/ecs.provisioning.failed.schema.json"]  # noqa: E731
    monkeypatch.setattr(schemas_cmd, "check", stale)

    assert run("schemas", "check") == 1
    assert (
        "schemas/ecsp_contract/json/ecs.provisioning.failed.schema.json" in capsys.readouterr().err
    )


def test_schemas_export_writes_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from ecsp_contract import export as export_module

    monkeypatch.setattr(schemas_cmd, "export", lambda: export_module.export(tmp_path))

    assert run("schemas", "export") == 0
    assert (tmp_path / "asyncapi.yaml").is_file()
    assert export_module.check(tmp_path) == []
    assert "wrote" in capsys.readouterr().out
