"""`validate` and `publish` give the worker's verdict on a value, byte for byte the same cases.

Each value goes through the real pipeline (`Pipeline.process` against an API that accepts every
create) and through both commands: a value the worker fails at `decode` or `validate` is refused
by both, with the worker's code for what it cannot decode; a value it accepts passes both. The
cases include the two where they once disagreed: a UTF-8 byte order mark and a lone surrogate
escape (`"\\ud800"`), both valid for `json.loads`.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys

import pytest

from ecsp_contract.limits import MAX_INT_DIGITS, MAX_JSON_DEPTH
from tests.support.pipeline import message, pipeline_for, settings
from tests.support.scripted_api import ACCEPTED, ScriptedApi, job
from tests.support.stack import example
from worker.cli import publish, validate
from worker.pipeline.secrets import SecretSource

REFERENCE = json.dumps(example("05-dry-run.json"))


def _with(text: str, **server: object) -> bytes:
    document = json.loads(text)
    document["server"].update(server)
    return json.dumps(document).encode()


VALUES = {
    "valid": REFERENCE.encode(),
    "byte order mark": b"\xef\xbb\xbf" + REFERENCE.encode(),
    "lone surrogate": REFERENCE.replace('"name": "server"', '"name": "s\\ud800"').encode(),
    "lone surrogate in a key": REFERENCE.replace('"server"', '"\\udc00"', 1).encode(),
    "not UTF-8": b'{"server": "\xff"}',
    "not JSON": b'{"server": {',
    "not an object": b"[]",
    "too deep": b'{"server": {"metadata": ' + b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH + b"}}",
    "huge integer": _with(REFERENCE, count=int("9" * (MAX_INT_DIGITS + 1))),
    "invalid body": _with(REFERENCE, count=101),
    "unknown field": _with(REFERENCE, image_ref="x"),
}


async def _worker_verdict(value: bytes) -> tuple[str | None, str | None]:
    """(stage, error code) of the worker's failed event for `value`; (None, None) if accepted."""
    s = settings()
    pipeline = pipeline_for(
        s, ScriptedApi(ACCEPTED, [job("SUCCESS")]), secrets=SecretSource(s.secret_env_prefix, None)
    )
    event = (await pipeline.process(message(value), None)).model_dump(mode="json")
    if event["type"] != "ecs.provisioning.failed":
        return None, None
    return event["data"]["stage"], event["data"]["error"]["code"]


def _validate(value: bytes, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(value)))
    parser = argparse.ArgumentParser()
    validate.add_parser(parser.add_subparsers())
    args = parser.parse_args(["validate", "-"])
    code: int = args.handler(args)
    return code


@pytest.mark.parametrize("case", VALUES)
async def test_validate_and_publish_refuse_exactly_what_the_worker_refuses(
    case: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    value = VALUES[case]
    stage, code = await _worker_verdict(value)
    assert (stage is None) == (case == "valid")  # every other case is one the worker refuses
    for name in [n for n in os.environ if n.startswith("ECSP_") and "_TEST_" not in n]:
        monkeypatch.delenv(name)

    exit_code = _validate(value, monkeypatch)
    out = capsys.readouterr().out
    problems = publish._problems([("k", value, "body.json")], settings())

    if stage is None:
        assert (exit_code, problems) == (0, []), out
        return
    assert stage in ("decode", "validate")
    assert exit_code == 1
    assert problems
    if stage == "decode":
        assert out == f"(stdin): {problems[0].removeprefix('body.json: ')}\n"
        assert out.endswith(f"({code})\n")
