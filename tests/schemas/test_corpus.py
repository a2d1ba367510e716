"""One verdict everywhere: every corpus body through the validator, the JSON Schema and the
simulator over HTTP (signed by the official SDK's client), with zero disagreements with the
sources. The worker's view of a sample is in tests/e2e/test_corpus_worker.py.

- validator: `ecs-provisioner validate FILE` (exit 0 accept, 1 reject naming the path);
- JSON Schema: the exported `ecs.provisioning.request.schema.json` with the jsonschema library
  (formats asserted); a rule marked "looser" is one JSON Schema cannot state, where the schema
  must accept (never stricter than the contract);
- simulator: `EcsClient` of `huaweicloudsdkecs`, unmodified, builds, signs and sends the request
  (its `_create_servers_http_info` with the corpus body as the body, so fields and values the SDK
  models do not know are sent too); 202 (dry run) is accept, 400 naming the path is reject.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkecs.v2 import CreateServersRequest, CreateServersRequestBody, EcsClient

from tests.schemas.conftest import schema_validator
from tests.schemas.corpus import CASES, Case
from tests.simulator.simkit import AK, PROJECT, SK
from worker.cli.main import main
from worker.simulator.knobs import SimulatorConfig
from worker.simulator.serving import running_simulator


def test_the_corpus_has_at_least_50_bodies_each_with_a_source() -> None:
    assert len(CASES) >= 50
    assert len({case.name for case in CASES}) == len(CASES)
    assert all(case.source for case in CASES)
    assert all((case.verdict == "reject") == (case.path is not None) for case in CASES)
    verdicts = [case.verdict for case in CASES]
    assert verdicts.count("accept") >= 25
    assert verdicts.count("reject") >= 25


def _validator_verdict(case: Case, tmp_path: Path) -> tuple[str, str]:
    path = tmp_path / f"case-{CASES.index(case)}.json"
    path.write_text(json.dumps(case.body()), encoding="utf-8")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["validate", str(path)])
    return {0: "accept", 1: "reject"}.get(code, f"exit {code}"), out.getvalue()


def test_validator_agrees_with_every_source(tmp_path: Path) -> None:
    disagreements = []
    for case in CASES:
        verdict, output = _validator_verdict(case, tmp_path)
        named = case.path is None or f"{case.path}: " in output
        if verdict != case.verdict or not named:
            disagreements.append(f"{case.name}: validator {verdict} ({output.strip()[:200]})")
    assert disagreements == []


def test_json_schema_agrees_with_every_source() -> None:
    validator = schema_validator("ecs.provisioning.request")
    disagreements = []
    for case in CASES:
        accepted = not list(validator.iter_errors(case.body()))
        expected = case.verdict == "accept" or case.schema == "looser"
        if accepted != expected:
            disagreements.append(f"{case.name}: schema {'accepts' if accepted else 'rejects'}")
    assert disagreements == []


@contextlib.asynccontextmanager
async def _sdk_client() -> AsyncIterator[Any]:
    config = SimulatorConfig(credentials={AK: SK}, job_seconds=(0.0, 0.0), seed=3)
    async with running_simulator(config) as base_url:
        yield (
            EcsClient.new_builder()
            .with_credentials(BasicCredentials(AK, SK, PROJECT))
            .with_endpoint(base_url)
            .build()
        )


def _sdk_create(client: Any, body: dict[str, Any]) -> tuple[str, str]:
    """Send `body` as a dry run through the SDK's own request building, signing and transport."""
    request = CreateServersRequest(body=CreateServersRequestBody(server=None))
    http_info = client._create_servers_http_info(request)
    http_info["body"] = {**body, "dry_run": True}
    try:
        response = client._call_api(**http_info)
    except ClientRequestException as exc:
        return ("reject" if exc.status_code == 400 else f"HTTP {exc.status_code}"), exc.error_msg
    return ("accept" if response.status_code == 202 else f"HTTP {response.status_code}"), ""


async def test_simulator_over_sdk_signed_http_agrees_with_every_source() -> None:
    disagreements = []
    async with _sdk_client() as client:
        for case in CASES:
            verdict, message = await asyncio.to_thread(_sdk_create, client, case.body())
            named = case.path is None or f"{case.path}: " in message
            if verdict != case.verdict or not named:
                disagreements.append(f"{case.name}: simulator {verdict} ({message[:200]})")
    assert disagreements == []
