"""The AsyncAPI document is usable by tools: the official parser (`@asyncapi/parser`, run with
node) parses it without errors or warnings and reads its servers, Kafka bindings, trace headers
and examples; every example is valid against the exported schemas.

The parser is installed from the npm registry into a gitignored cache directory on first use
(`deploy/local/.cache/npm/`), pinned to one version, and reused afterwards.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator, ValidationError

from ecsp_contract.channels import CHANNELS, DEFAULT_GROUP_ID, Channel
from ecsp_contract.events import EventType
from ecsp_contract.export import ASYNCAPI_NAME, PACKAGE_DIR, REQUEST_NAME
from tests.schemas.conftest import load_examples, schema_validator

PARSER_PACKAGE = "@asyncapi/parser@3.6.3"
REPO = Path(__file__).resolve().parents[2]
CACHE = REPO / "deploy" / "local" / ".cache" / "npm" / PARSER_PACKAGE.replace("/", "+")
PARSE_SCRIPT = Path(__file__).parent / "asyncapi_parser" / "parse.js"
NODE_MISSING = (
    "node and npm are required to check the AsyncAPI document with @asyncapi/parser: install "
    "Node.js 18+ (e.g. `apt-get install -y nodejs npm`)."
)


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(NODE_MISSING)
    return path


def _installed() -> bool:
    return (CACHE / "node_modules" / "@asyncapi" / "parser" / "package.json").is_file()


@pytest.fixture(scope="session")
def parser_modules() -> Path:
    """node_modules holding the pinned parser, installed once (locked against parallel runs)."""
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    with (CACHE.parent / "install.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _installed():
            staging = Path(tempfile.mkdtemp(dir=CACHE.parent))
            try:
                subprocess.run(
                    [_tool("npm"), "install", "--no-audit", "--no-fund", "--no-save",
                     "--prefix", str(staging), PARSER_PACKAGE],
                    check=True, capture_output=True, timeout=600,
                )  # fmt: skip
                if CACHE.exists():
                    shutil.rmtree(CACHE)
                staging.rename(CACHE)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    shutil.rmtree(staging)
    return CACHE / "node_modules"


def parse(document: Path, modules: Path) -> dict[str, Any]:
    result = subprocess.run(
        [_tool("node"), str(PARSE_SCRIPT), str(document)],
        env={**os.environ, "NODE_PATH": str(modules)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    parsed: dict[str, Any] = json.loads(result.stdout)
    return parsed


def test_the_official_parser_reads_servers_bindings_headers_and_examples(
    parser_modules: Path,
) -> None:
    out = parse(PACKAGE_DIR / ASYNCAPI_NAME, parser_modules)
    # Severity 0 is an error, 1 a warning; 2 (information) only suggests AsyncAPI 3.1.
    problems = [d for d in out["diagnostics"] if d["severity"] <= 1]
    assert out["parsed"], problems
    assert problems == []
    assert {s["id"]: s["protocol"] for s in out["servers"]} == {
        "production": "kafka-secure",
        "local": "kafka",
    }
    for channel, spec in CHANNELS.items():
        binding = out["channels"][channel.value]["kafka"]
        expected: dict[str, Any] = {"topic": spec.default_topic, "partitions": spec.partitions}
        if spec.compacted:
            expected["topicConfiguration"] = {"cleanup.policy": ["compact"]}
        assert binding == expected
    group = out["operations"][f"receive-{Channel.REQUESTS.value}"]["kafka"]["groupId"]
    assert group["const"] == DEFAULT_GROUP_ID
    messages = out["messages"]
    assert len(messages[REQUEST_NAME]["examples"]) == len(load_examples()) == 6
    for name, message in messages.items():
        assert {"traceparent", "tracestate"} <= set(message["headers"]), name
        assert message["key"]["type"] in ("string", ["string", "null"])
        assert message["examples"], name


def test_the_parser_rejects_a_broken_binding(parser_modules: Path, tmp_path: Path) -> None:
    """Negative control: the parser check really reports errors in what tools rely on."""
    for path in PACKAGE_DIR.joinpath("json").glob("*.json"):
        (tmp_path / "json").mkdir(exist_ok=True)
        shutil.copy(path, tmp_path / "json" / path.name)
    document = yaml.safe_load((PACKAGE_DIR / ASYNCAPI_NAME).read_text(encoding="utf-8"))
    document["operations"]["receive-requests"]["bindings"]["kafka"]["groupId"] = 5
    broken = tmp_path / ASYNCAPI_NAME
    broken.write_text(yaml.safe_dump(document), encoding="utf-8")
    out = parse(broken, parser_modules)
    assert not out["parsed"]
    assert any(d["severity"] == 0 for d in out["diagnostics"])


def _asyncapi() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(
        (PACKAGE_DIR / ASYNCAPI_NAME).read_text(encoding="utf-8")
    )
    return document


def test_every_example_is_valid_against_the_exported_schemas() -> None:
    """The parser does not check examples against payload schemas: this does."""
    document = _asyncapi()
    messages = document["components"]["messages"]
    schemas = document["components"]["schemas"]
    request_headers = Draft202012Validator(schemas["requestHeaders"])
    event_headers = Draft202012Validator(schemas["eventHeaders"])
    for example in messages[REQUEST_NAME]["examples"]:
        schema_validator(REQUEST_NAME).validate(example["payload"])
        request_headers.validate(example["headers"])
    for event_type in EventType:
        [example] = messages[event_type.value]["examples"]
        event = example["payload"]
        schema_validator("cloudevent").validate(event)
        schema_validator(event_type.value).validate(event["data"])
        assert event["type"] == event_type.value
        event_headers.validate(example["headers"])
        assert example["headers"]["traceparent"] == event["traceparent"]
        assert example["headers"]["tracestate"] == event["tracestate"]
    with pytest.raises(ValidationError, match="does not match"):
        event_headers.validate({"traceparent": "not trace context"})
