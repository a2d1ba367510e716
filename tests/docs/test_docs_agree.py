"""The documentation agrees with the code where issue 30 found it did not.

- the headers the worker reads (found in its code and by recording a run) are the ones
  docs/contract.md, docs/requests.md, the README and the AsyncAPI document list;
- every `Ecs.*`, `APIG.*` and `ECSP.*` code the pages name is in `ecsp_contract.failures`, and the
  documentation names each code of it (`Ecs.0123` included);
- the `ecs-project-id` header fails a request naming a project not allowed, and says so;
- what happens after the 8-hour token window is told the same way wherever it is told;
- a setting's value quoted beside its name is its default, or the manifests' where they say so;
- the simulator's flags in docs/contract.md and its README are exactly its command line's.
"""

from __future__ import annotations

import argparse
import ast
import re
from pathlib import Path

import pytest
import yaml
from opentelemetry.trace import NoOpTracer

from ecsp_contract.failures import API_ERROR_CODES, WorkerErrorCode
from tests.docs.markdown import PAGES, ROOT, prose
from tests.support.pipeline import PROJECT, body, message, pipeline_for, settings
from tests.support.scripted_api import ACCEPTED, ScriptedApi, job
from worker.cli import simulator
from worker.consumer.kafka_spans import KafkaTracing
from worker.ops.settings import Settings
from worker.pipeline.port import InboundMessage
from worker.pipeline.secrets import SecretSource

ASYNCAPI = ROOT / "schemas" / "ecsp_contract" / "asyncapi.yaml"
#: Every page that documents the project (the tests' own result records aside).
DOC_PAGES = sorted(
    {*PAGES, *ROOT.glob("deploy/**/README.md"), *ROOT.glob("*/README.md"),
     ROOT / "worker" / "simulator" / "README.md"}
)  # fmt: skip
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


# --- headers -------------------------------------------------------------------------------------


def headers_named_in_code() -> set[str]:
    """Names passed to `InboundMessage.header(...)` anywhere in the worker, as literals or as
    module-level string constants (the worker's or the contract's)."""
    constants: dict[str, str] = {}
    calls: list[ast.expr] = []
    contract = list((ROOT / "schemas" / "ecsp_contract").glob("*.py"))
    for path in [*(ROOT / "worker").rglob("*.py"), *contract]:
        if "simulator" in path.parts:
            continue
        tree = ast.parse(_text(path))
        for node in tree.body:
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
                for target in node.targets:
                    if isinstance(target, ast.Name) and isinstance(node.value.value, str):
                        constants[target.id] = node.value.value
        if path in contract:
            continue  # the contract names headers; the worker's calls read them
        calls += [
            node.args[0]
            for node in ast.walk(tree)
            if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "header"
            and node.args
        ]
    names = set()
    for arg in calls:
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            names.add(arg.value)
        elif isinstance(arg, ast.Name) and arg.id in constants:
            names.add(constants[arg.id])
    return names


async def headers_read_by_a_run(monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """The header names the worker asks a record for while it processes a valid request that
    carries every header, under a consumer span (the tracing path reads trace context too)."""
    asked: set[str] = set()
    header = InboundMessage.header

    def recording(self: InboundMessage, name: str) -> str | None:
        asked.add(name.lower())
        return header(self, name)

    monkeypatch.setattr(InboundMessage, "header", recording)
    headers = (
        ("ecs-project-id", PROJECT.encode()),
        ("traceparent", TRACEPARENT.encode()),
        ("tracestate", b"vendor=1"),
        ("ecs-on-partial-failure", b"keep"),
        ("ecs-fallbacks", b"@ap-southeast-1b"),
        ("x-unrelated", b"1"),
    )
    record = message(body("06-postpaid-within-policy.json"), headers=headers)
    s = settings()
    pipeline = pipeline_for(
        s, ScriptedApi(ACCEPTED, [job("SUCCESS")]), secrets=SecretSource(s.secret_env_prefix, None)
    )
    with KafkaTracing(NoOpTracer(), group_id="g").request(record):
        event = await pipeline.process(record, None)
    assert event.type.value == "ecs.provisioning.succeeded"
    return asked


def asyncapi_request_headers() -> set[str]:
    document = yaml.safe_load(_text(ASYNCAPI))
    properties = document["components"]["schemas"]["requestHeaders"]["properties"]
    return {
        name
        for name, schema in properties.items()
        if not schema["description"].startswith("Ignored by the worker")
    }


async def test_the_docs_and_asyncapi_list_every_header_the_worker_reads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    in_code = headers_named_in_code()
    at_run_time = await headers_read_by_a_run(monkeypatch)
    assert in_code == at_run_time  # each names every header: no path hides one
    assert in_code >= {"ecs-project-id", "traceparent", "tracestate", "ecs-on-partial-failure"}
    assert asyncapi_request_headers() == in_code
    contract_rows = set(
        re.findall(r"^\| header `([a-z-]+)`", _text(ROOT / "docs/contract.md"), re.M)
    )
    assert contract_rows == in_code
    for page in ("README.md", "docs/requests.md"):
        table = "\n".join(
            line for line in _text(ROOT / page).splitlines() if line.startswith("| header")
        )
        assert {name for name in in_code if f"`{name}`" in table} == in_code, page


# --- codes ---------------------------------------------------------------------------------------

CODE = re.compile(r"\b(?:Ecs\.\d{4}|APIG\.\d{4}|ECSP\.[A-Z][A-Za-z0-9]+)\b")


def test_every_code_the_docs_name_is_in_the_code_table_and_the_reverse() -> None:
    table = {code.value for code in WorkerErrorCode} | set(API_ERROR_CODES)
    named = {page: set(CODE.findall(_text(page))) for page in DOC_PAGES}
    unknown = {str(p.relative_to(ROOT)): sorted(c - table) for p, c in named.items() if c - table}
    assert unknown == {}
    everything_named = set().union(*named.values())
    assert sorted(table - everything_named) == []
    assert "Ecs.0123" in API_ERROR_CODES
    assert "Ecs.0123" in _text(ROOT / "docs" / "failures.md")


# --- ecs-project-id -----------------------------------------------------------------------------


async def test_ecs_project_id_fails_a_project_not_allowed_and_the_docs_say_so() -> None:
    s = settings()
    pipeline = pipeline_for(
        s, ScriptedApi(ACCEPTED, [job("SUCCESS")]), secrets=SecretSource(s.secret_env_prefix, None)
    )
    record = message(body("05-dry-run.json"), headers=(("ecs-project-id", b"not-allowed"),))
    data = (await pipeline.process(record, None)).model_dump(mode="json")["data"]
    assert (data["stage"], data["error"]["code"]) == ("validate", "ECSP.ProjectNotAllowed")

    for page in ("README.md", "docs/requests.md", "docs/contract.md"):
        (row,) = [line for line in _text(ROOT / page).splitlines() if "`ecs-project-id` |" in line]
        assert "ECSP.ProjectNotAllowed" in row, page
        assert "else the default project" not in row, page
    document = yaml.safe_load(_text(ASYNCAPI))
    header = document["components"]["schemas"]["requestHeaders"]["properties"]["ecs-project-id"]
    assert "ECSP.ProjectNotAllowed" in header["description"]


# --- after the token window ---------------------------------------------------------------------


def paragraphs(text: str) -> list[str]:
    """Paragraphs and list items of a page's prose."""
    return [
        part for block in prose(text).split("\n\n") for part in re.split(r"\n(?=\s*[-*] )", block)
    ]


#: What the worker does after the window: reconciles by the token tag (or says what it found).
TAG_LOOKUP = re.compile(r"reconciled|by (their |its )?(client-)?(token )?tag")
WINDOW = re.compile(r"8[- ]hours?\b|8 h\b|token window")


def told_without_the_tag_lookup(text: str) -> list[str]:
    """Paragraphs that say `Ecs.0124` follows the token window but not that servers are looked
    up by tag first (the README once said "after it, the same key gets Ecs.0124")."""
    return [
        paragraph
        for paragraph in paragraphs(text)
        if "Ecs.0124" in paragraph and WINDOW.search(paragraph) and not TAG_LOOKUP.search(paragraph)
    ]


def test_after_the_token_window_is_told_with_the_tag_lookup_wherever_ecs_0124_is() -> None:
    told = [p for page in DOC_PAGES for p in paragraphs(_text(page)) if "Ecs.0124" in p]
    assert len(told) >= 5
    wrong = {
        str(page.relative_to(ROOT)): told_without_the_tag_lookup(_text(page)) for page in DOC_PAGES
    }
    assert {page: paragraphs for page, paragraphs in wrong.items() if paragraphs} == {}
    old_limits = (
        "- **The 8-hour token window.** Huawei remembers an `X-Client-Token` for 8 hours. After "
        "it, the same key gets `Ecs.0124` (`token_expired`): check for the old servers."
    )
    assert told_without_the_tag_lookup(old_limits) == [old_limits]


# --- values quoted beside a setting -------------------------------------------------------------

QUOTED = re.compile(
    r"`ECSP_([A-Z0-9_]+)`[,:]? \(?(?:default )?(\d[\d,]*(?:\.\d+)?) ?(s|h|MiB)?\b([^);\n]*)"
)
UNITS = {"s": 1.0, "h": 3600.0, "MiB": 1048576.0, "": 1.0}


def base_config() -> dict[str, str]:
    lines = _text(ROOT / "deploy/k8s/base/config.env").splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line)


def test_a_value_quoted_beside_a_setting_is_its_default_or_the_manifests() -> None:
    base = base_config()
    quoted = 0
    wrong = []
    for page in DOC_PAGES:
        for name, number, unit, context in QUOTED.findall(_text(page)):
            field = Settings.model_fields.get(name.lower())
            if field is None or not isinstance(field.default, int | float):
                continue
            quoted += 1
            value = float(number.replace(",", "")) * UNITS[unit]
            in_manifests = re.search(r"\b(in the base|manifests|base's)\b", context)
            expected = float(base[f"ECSP_{name}"]) if in_manifests else float(field.default)
            if value != expected:
                wrong.append(f"{page.relative_to(ROOT)}: ECSP_{name} {number} {unit}{context}")
    assert quoted >= 10
    assert wrong == []


def test_the_quoted_value_check_catches_a_manifest_value_told_as_the_default() -> None:
    (match,) = QUOTED.findall("its session (`ECSP_KAFKA_SESSION_TIMEOUT_SECONDS`, 30 s) expires")
    assert match[1:3] == ("30", "s")
    assert float(match[1]) != Settings.model_fields["kafka_session_timeout_seconds"].default
    assert base_config()["ECSP_KAFKA_SESSION_TIMEOUT_SECONDS"] == "30"


# --- the simulator's flags ----------------------------------------------------------------------


def simulator_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ecs-provisioner")
    simulator.add_parser(parser.add_subparsers())
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    sub: argparse.ArgumentParser = action.choices["simulator"]
    return sub


def visible_flags(parser: argparse.ArgumentParser) -> set[str]:
    return {
        flag
        for action in parser._actions
        if action.help != argparse.SUPPRESS and not isinstance(action, argparse._HelpAction)
        for flag in action.option_strings
    }


def first_block_after(text: str, heading: str) -> str:
    section = text[text.index(heading) :] if heading else text
    return section.split("```")[1]


@pytest.mark.parametrize(
    ("page", "heading"),
    [("docs/contract.md", "## Simulator interface"), ("worker/simulator/README.md", "")],
)
def test_the_simulators_flags_in_the_docs_are_its_command_lines(page: str, heading: str) -> None:
    block = first_block_after(_text(ROOT / page), heading)
    assert set(re.findall(r"--[a-z][a-z-]+", block)) == visible_flags(simulator_parser())


def test_the_simulators_help_shows_no_internal_names() -> None:
    parser = simulator_parser()
    assert all(
        action.metavar is not None
        for action in parser._actions
        if action.option_strings and action.nargs != 0 and action.help != argparse.SUPPRESS
    )
    assert "TOKEN_TTL" not in parser.format_help()
