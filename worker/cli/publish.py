"""`ecs-provisioner publish`: validate request bodies locally, then publish them to the topic.

One body with `--key`, or a JSON-lines file of `{"key": ..., "request": {...}}` objects with
`--jsonl`. `--fallback` (repeatable, in order) names an alternative placement for when the
body's is sold out, sent as the `ecs-fallbacks` header. Nothing is published when any request
(or fallback) is invalid. Prints partition and offset of each published request.
Exit codes: 0 published; 1 a request is invalid (nothing published); 2 unreadable input or
usage error; 3 Kafka error; 130/143 interrupted by SIGINT/SIGTERM (the lines printed so far
name the requests already published).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ecsp_contract.extensions import ExtraField
from ecsp_contract.idempotency import client_token
from ecsp_contract.placement import FALLBACKS_HEADER, InvalidFallbacks, parse_fallbacks
from ecsp_contract.verdict import InvalidBody, check_body
from worker.cli.kafka_command import add_kafka_options, cli_producer, run_kafka_command
from worker.cli.stopping import Stop
from worker.ops.config import Settings


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "publish",
        help="validate and publish provisioning requests",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("file", metavar="FILE|-", help="request body (JSON), or - for stdin")
    parser.add_argument("--key", help="the request key (idempotency: same key, same server)")
    parser.add_argument(
        "--jsonl", action="store_true", help='FILE holds lines of {"key": ..., "request": {...}}'
    )
    parser.add_argument("--project", help="send the ecs-project-id header")
    parser.add_argument(
        "--fallback",
        action="append",
        default=[],
        metavar="FLAVOR@ZONE|FLAVOR|@ZONE",
        help="a placement to try if the body's is sold out (repeatable, tried in order; at "
        "most 10; sent as the ecs-fallbacks header)",
    )
    parser.add_argument("--topic", help="request topic (default: ECSP_TOPIC_REQUESTS)")
    add_kafka_options(parser)
    parser.set_defaults(handler=handle)


class _InputError(Exception):
    """The input cannot be read as requests (exit 2)."""


def _read_requests(args: argparse.Namespace) -> list[tuple[str, Any]]:
    try:
        text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise _InputError(f"cannot read {args.file}: {exc}") from None
    if not args.jsonl:
        if not args.key:
            raise _InputError("--key is required when publishing one request")
        try:
            return [(args.key, json.loads(text))]
        except json.JSONDecodeError as exc:
            raise _InputError(f"{args.file}: not JSON: {exc}") from None
    requests: list[tuple[str, Any]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise _InputError(f"line {number}: not JSON: {exc}") from None
        if not isinstance(item, dict) or not isinstance(item.get("key"), str):
            raise _InputError(f'line {number}: expected {{"key": "...", "request": {{...}}}}')
        requests.append((item["key"], item.get("request")))
    return requests


def _problems(requests: list[tuple[str, Any]], extra_fields: tuple[ExtraField, ...]) -> list[str]:
    lines: list[str] = []
    for key, request in requests:
        try:
            check_body(request, extra_fields)
        except InvalidBody as exc:
            lines.extend(f"{key}: {p.path}: {p.message}" for p in exc.problems)
    return lines


def _fallbacks(values: list[str]) -> tuple[str | None, list[str]]:
    """The ecs-fallbacks header of the --fallback values (None: none), or the problems."""
    problems = []
    for value in values:
        try:
            if len(parse_fallbacks(value)) != 1:
                problems.append(f"--fallback {value!r}: names one alternative each")
        except InvalidFallbacks as exc:
            problems.append(f"--fallback {value!r}: {exc}")
    header = ",".join(values) or None
    if not problems:
        try:
            parse_fallbacks(header)
        except InvalidFallbacks as exc:
            problems.append(f"--fallback: {exc}")
    return header, problems


async def _publish(
    settings: Settings,
    topic: str,
    requests: list[tuple[str, Any]],
    project: str | None,
    fallbacks: str | None,
) -> None:
    producer = cli_producer(settings)
    headers = [("ecs-project-id", project.encode())] if project else []
    if fallbacks is not None:
        headers.append((FALLBACKS_HEADER, fallbacks.encode()))
    await producer.start()
    try:
        for key, request in requests:
            metadata = await producer.send_and_wait(
                topic, json.dumps(request).encode(), key=key.encode(), headers=headers
            )
            token = client_token(key, settings.token_namespace)
            print(
                f"published {key} to {topic} partition {metadata.partition} offset "
                f"{metadata.offset} (client token {token})"
            )
    finally:
        await producer.stop()


def handle(args: argparse.Namespace) -> int:
    try:
        requests = _read_requests(args)
    except _InputError as exc:
        print(f"ecs-provisioner publish: {exc}", file=sys.stderr)
        return 2

    async def validate_then_publish(settings: Settings, stop: Stop) -> int:
        del stop  # a signal interrupts publishing: the default exit code says so
        fallbacks, problems = _fallbacks(args.fallback)
        problems += _problems(requests, settings.extra_fields())
        if problems:
            print("\n".join(problems))
            print(f"not published: {len(problems)} problem(s)", file=sys.stderr)
            return 1
        topic = args.topic or settings.topic_requests
        await _publish(settings, topic, requests, args.project, fallbacks)
        return 0

    return run_kafka_command("publish", args, validate_then_publish)
