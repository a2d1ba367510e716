"""Golden files pin the X-Client-Token and the exact create bytes per request key, for every
release's body, because a body the API first saw must be sent again byte for byte.

- `*.untagged.json`: written by the release before tags (commit ae34875);
- `*.tagged.json`: the release before the request tag (deployment and token tags only);
- `*.request-tagged.json`: this release (plus `ecsp-request=keep.<digest>`; the same body with
  `delete.` is the other partial-failure choice).

A request first submitted by an earlier release is answered `Ecs.0122` to every later body;
the worker then sends the earlier bodies in turn, and the one the API knows gets the first
answer back (never a second create). A change to any of these files breaks idempotency across
an upgrade.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.pipeline import message, pipeline_for, settings
from tests.support.scripted_api import ACCEPTED, ScriptedApi, job
from worker.ecs.client import encode_body
from worker.ecs.errors import EcsApiError
from worker.ecs.models import CreateResult
from worker.pipeline.secrets import SecretSource
from worker.pipeline.tagging import REQUEST_TAG_KEY, TOKEN_TAG_KEY
from worker.tenancy.model import TenantsDocument

GOLDEN = Path(__file__).parent / "golden"
EXAMPLES = Path(__file__).parents[2] / "schemas" / "ecsp_contract" / "examples"
NAMES = sorted(p.name.removesuffix(".token") for p in GOLDEN.glob("*.token"))
Known = Callable[[dict[str, Any]], bool]


def _keys(body: dict[str, Any]) -> set[str]:
    return {tag["key"] for tag in body["server"].get("server_tags") or []}


def untagged(body: dict[str, Any]) -> bool:
    return TOKEN_TAG_KEY not in _keys(body)


def before_request_tag(body: dict[str, Any]) -> bool:
    return TOKEN_TAG_KEY in _keys(body) and REQUEST_TAG_KEY not in _keys(body)


class KnowsOneBody(ScriptedApi):
    """Answers Ecs.0122 to every body but the one `known` picks, as the API does for a token
    first used with that body."""

    def __init__(self, known: Known) -> None:
        super().__init__(ACCEPTED, [job("SUCCESS")])
        self.known = known

    async def create_servers(
        self, body: dict[str, Any], client_token: str, project_id: str
    ) -> CreateResult:
        result = await super().create_servers(body, client_token, project_id)
        if not self.known(body):
            raise EcsApiError("Ecs.0122", "token used with other parameters", http_status=400)
        return result


def test_there_are_golden_files() -> None:
    assert len(NAMES) >= 4


def golden(name: str, kind: str) -> bytes:
    return (GOLDEN / f"{name}.{kind}.json").read_bytes()


async def run(name: str, api: ScriptedApi, tenants: TenantsDocument | None = None) -> Any:
    s = settings()
    secrets = SecretSource(s.secret_env_prefix, None)
    pipeline = pipeline_for(s, api, secrets=secrets, tenants=tenants)
    value = (EXAMPLES / f"{name}.json").read_bytes()
    record = message(value, key=f"golden-{name}".encode(), topic=s.topic_requests)
    event = await pipeline.process(record, None)
    token = (GOLDEN / f"{name}.token").read_text().strip()
    assert set(api.tokens) == {token}
    return event.model_dump(mode="json")["data"]


@pytest.mark.parametrize("name", NAMES)
async def test_this_release_sends_its_golden_body_once(name: str) -> None:
    api = ScriptedApi(ACCEPTED, [job("SUCCESS")])
    data = await run(name, api)
    assert data["tagging"] == "tagged"
    assert [encode_body(body) for body in api.bodies] == [golden(name, "request-tagged")]


@pytest.mark.parametrize("name", NAMES)
async def test_tenants_change_nothing_of_the_shared_topics_token_and_bytes(name: str) -> None:
    tenants = TenantsDocument.model_validate(
        {"tenants": {"team-a": {"project_id": "a-1"}, "team-b": {"project_id": "b-1"}}}
    )
    api = ScriptedApi(ACCEPTED, [job("SUCCESS")])
    await run(name, api, tenants)
    assert [encode_body(body) for body in api.bodies] == [golden(name, "request-tagged")]


@pytest.mark.parametrize("name", NAMES)
async def test_a_token_known_untagged_gets_every_release_s_body_in_turn(name: str) -> None:
    api = KnowsOneBody(untagged)
    data = await run(name, api)
    assert data["tagging"] == "first_submitted_untagged"
    current = golden(name, "request-tagged")
    assert [encode_body(body) for body in api.bodies] == [
        current,
        current.replace(b'"value":"keep.', b'"value":"delete.'),
        golden(name, "tagged"),
        golden(name, "untagged"),
    ]


@pytest.mark.parametrize("name", NAMES)
async def test_a_token_known_with_the_body_before_the_request_tag_gets_it_back(name: str) -> None:
    api = KnowsOneBody(before_request_tag)
    data = await run(name, api)
    assert data["tagging"] == "first_submitted_before_request_tag"
    assert encode_body(api.bodies[-1]) == golden(name, "tagged")
    assert len(api.bodies) == 3
