"""Tag keys starting with `ecsp-` are the worker's own: `validate`, `publish`'s check, the
exported JSON Schema and the worker refuse them (`ECSP.ReservedTag`); the simulator, which
answers as the API does, accepts them (the real API would).

A publisher that wrote `ecsp-client-token=<another request's token>` once made the worker
answer that request, after its token window, with the publisher's servers (issue 25).
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import pytest

from ecsp_contract.reserved import is_reserved_tag_key
from ecsp_contract.verdict import InvalidBody, ReservedTags, check_body
from tests.schemas.conftest import schema_validator
from tests.simulator.simkit import START, config, new_token, simulator
from tests.support.bodies import server_body
from tests.support.clock import FakeClock
from tests.support.pipeline import message, pipeline_for, settings
from tests.support.scripted_api import ACCEPTED, ScriptedApi, job
from worker.cli.main import main
from worker.pipeline.secrets import SecretSource

TOKEN = "7495b1af-e371-54f6-8fc4-e04374171be8"
FORGED: list[tuple[str, dict[str, Any], str]] = [
    (
        "server tag",
        {
            "server_tags": [
                {"key": "team", "value": "a"},
                {"key": "ecsp-client-token", "value": TOKEN},
            ]
        },
        "server.server_tags[1].key",
    ),
    (
        "upper case",
        {"server_tags": [{"key": "ECSP-Deployment", "value": "x"}]},
        "server.server_tags[0].key",
    ),
    (
        "white space",
        {"server_tags": [{"key": " ecsp-request", "value": "x"}]},
        "server.server_tags[0].key",
    ),
    ("legacy tag", {"tags": ["team.a", f"ecsp-client-token.{TOKEN[:36]}"]}, "server.tags[1]"),
    ("legacy, any case", {"tags": ["Ecsp-x.y"]}, "server.tags[0]"),
]


def test_the_rule_is_the_prefix_in_any_case() -> None:
    assert is_reserved_tag_key("ecsp-anything")
    assert is_reserved_tag_key("ECSP-")
    assert not is_reserved_tag_key("ecsp")
    assert not is_reserved_tag_key("my-ecsp-tag")


@pytest.mark.parametrize(("name", "server", "path"), FORGED, ids=[f[0] for f in FORGED])
def test_the_verdict_refuses_reserved_keys_naming_the_tag(
    name: str, server: dict[str, Any], path: str
) -> None:
    with pytest.raises(ReservedTags) as refused:
        check_body(server_body(**server))
    assert [problem.path for problem in refused.value.problems] == [path]
    assert check_body(server_body(**server), worker_rules=False).wire["server"] == {
        **server_body()["server"],
        **server,
    }


def test_schema_problems_and_reserved_keys_are_listed_together() -> None:
    document = server_body(tags=["ecsp-x.y"], flavorRef="")
    with pytest.raises(InvalidBody) as refused:
        check_body(document)
    assert not isinstance(refused.value, ReservedTags)
    assert {p.path for p in refused.value.problems} == {"server.flavorRef", "server.tags[0]"}


@pytest.mark.parametrize(("name", "server", "path"), FORGED, ids=[f[0] for f in FORGED])
def test_validate_and_the_json_schema_refuse_them(
    name: str, server: dict[str, Any], path: str, tmp_path: Path
) -> None:
    file = tmp_path / "body.json"
    file.write_text(json.dumps(server_body(**server)))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["validate", str(file)]) == 1
    assert f"{path}: " in out.getvalue()
    assert list(schema_validator("ecs.provisioning.request").iter_errors(server_body(**server)))


@pytest.mark.parametrize(("name", "server", "path"), FORGED, ids=[f[0] for f in FORGED])
async def test_the_worker_refuses_them_before_any_call(
    name: str, server: dict[str, Any], path: str
) -> None:
    api = ScriptedApi(ACCEPTED, [job("SUCCESS")])
    s = settings()
    pipeline = pipeline_for(s, api, secrets=SecretSource(s.secret_env_prefix, None))
    event = await pipeline.process(message(json.dumps(server_body(**server)).encode()), None)
    data = event.data
    assert (data["stage"], data["error"]["code"]) == ("validate", "ECSP.ReservedTag")
    assert data["retryable"] is False
    assert [d["path"] for d in data["error"]["details"]] == [path]
    assert api.bodies == []


async def test_the_simulator_accepts_them_as_the_api_does() -> None:
    clock = FakeClock(START)
    async with simulator(config(clock)) as api:
        for _, server, _ in FORGED:
            reply = await api.create(server_body(**server), new_token())
            assert reply.status == 200, reply.json
