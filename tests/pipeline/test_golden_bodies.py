"""Golden files pin the X-Client-Token and the exact create bytes per request key.

`*.untagged.json` were written by the release before tags (commit ae34875): the body a request
first submitted by that release carries, which the worker sends again when the API answers
`Ecs.0122` to the tagged body. `*.tagged.json` pin the tagged body, so a redelivery (or the next
release) sends the same bytes. A change to either breaks idempotency across an upgrade.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.pipeline import message, pipeline_for, settings
from tests.support.scripted_api import ACCEPTED, ScriptedApi, job
from worker.ecs.client import encode_body
from worker.ecs.errors import EcsApiError
from worker.ecs.models import CreateResult
from worker.pipeline.secrets import SecretSource
from worker.pipeline.tagging import TOKEN_TAG_KEY

GOLDEN = Path(__file__).parent / "golden"
EXAMPLES = Path(__file__).parents[2] / "schemas" / "ecsp_contract" / "examples"
NAMES = sorted(p.name.removesuffix(".token") for p in GOLDEN.glob("*.token"))


class ConflictOnTaggedBody(ScriptedApi):
    """Answers Ecs.0122 to a tagged body, as the API does for a token first used untagged."""

    async def create_servers(
        self, body: dict[str, Any], client_token: str, project_id: str
    ) -> CreateResult:
        result = await super().create_servers(body, client_token, project_id)
        tags = body["server"].get("server_tags") or []
        if any(tag["key"] == TOKEN_TAG_KEY for tag in tags):
            raise EcsApiError("Ecs.0122", "token used with other parameters", http_status=400)
        return result


def test_there_are_golden_files() -> None:
    assert len(NAMES) >= 4


@pytest.mark.parametrize("name", NAMES)
async def test_token_tagged_and_untagged_bytes_match_the_golden_files(name: str) -> None:
    api = ConflictOnTaggedBody(ACCEPTED, [job("SUCCESS")])
    s = settings()
    pipeline = pipeline_for(s, api, secrets=SecretSource(s.secret_env_prefix, None))
    value = (EXAMPLES / f"{name}.json").read_bytes()
    event = await pipeline.process(message(value, key=f"golden-{name}".encode()), None)

    assert event.model_dump(mode="json")["data"]["tagging"] == "first_submitted_untagged"
    token = (GOLDEN / f"{name}.token").read_text().strip()
    assert api.tokens == [token, token]
    tagged, untagged = (encode_body(body) for body in api.bodies)
    assert untagged == (GOLDEN / f"{name}.untagged.json").read_bytes()
    assert tagged == (GOLDEN / f"{name}.tagged.json").read_bytes()
