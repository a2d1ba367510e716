"""`ecs-provisioner publish`: validate request bodies locally, then publish them to the topic.

One body with `--key`, or a JSON-lines file of `{"key": ..., "request": {...}}` objects with
`--jsonl`. `--fallback` (repeatable, in order) names an alternative placement for when the
body's is sold out, sent as the `ecs-fallbacks` header. Nothing is published when any request
(or fallback) is invalid. Prints partition and offset of each published request.
Exit codes: 0 published; 1 a request is invalid (nothing published); 2 unreadable input or
usage error; 3 Kafka error; 130/143 interrupted by SIGINT/SIGTERM (the lines printed so far
name the requests already published).

With `--wait` (one request), it then waits for the request's outcome and prints one line (the
servers, or the stage, error code and message; `--json`: the event), with a progress line while
it waits when stdout is a terminal. Exit codes: 0 succeeded or validated; 1 failed; 2 usage
error or invalid input (nothing published); 3 no outcome within --timeout, or Kafka unreachable;
130/143 interrupted (the request goes on).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from aiokafka import AIOKafkaProducer

from ecsp_contract.extensions import ExtraField
from ecsp_contract.idempotency import client_token
from ecsp_contract.placement import FALLBACKS_HEADER, InvalidFallbacks, parse_fallbacks
from ecsp_contract.verdict import InvalidBody, check_body
from worker.cli import wait
from worker.cli.kafka_command import (
    add_kafka_options,
    cli_admin,
    cli_consumer,
    cli_producer,
    run_kafka_command,
)
from worker.cli.key_partition import events_key
from worker.cli.stopping import Stop
from worker.cli.wait import Origin
from worker.ops.config import Settings

#: How long `--wait` waits for the outcome unless --timeout says otherwise.
DEFAULT_TIMEOUT = 900.0
EXAMPLES = """examples:
  ecs-provisioner publish body.json --key ticket-4711
  ecs-provisioner publish body.json --key ticket-4711 --wait --timeout 600   # a CI step
  ecs-provisioner publish body.json --key ticket-4711 --wait --json | jq .data.server_ids
  ecs-provisioner publish requests.jsonl --jsonl
"""


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "publish",
        help="validate and publish provisioning requests (--wait: and wait for the outcome)",
        description=__doc__,
        epilog=EXAMPLES,
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
    parser.add_argument(
        "--wait", action="store_true", help="wait for the request's outcome; exit with it"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help=f"with --wait: give up after this long, exit 3 (default {DEFAULT_TIMEOUT:g})",
    )
    parser.add_argument("--json", action="store_true", help="with --wait: print the event")
    add_kafka_options(parser)
    parser.set_defaults(handler=handle)


class _InputError(Exception):
    """The input cannot be read as requests (exit 2)."""


def _check_options(args: argparse.Namespace) -> None:
    if args.wait and args.jsonl:
        raise _InputError("--wait waits for one request: give FILE and --key, not --jsonl")
    if not args.wait and (args.timeout is not None or args.json):
        raise _InputError("--timeout and --json go with --wait")
    if args.timeout is not None and not args.timeout > 0:
        raise _InputError("--timeout must be a number of seconds above 0")


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


def _headers(project: str | None, fallbacks: str | None) -> list[tuple[str, bytes]]:
    """The request records' headers: the project and the fallbacks, when given."""
    headers = [("ecs-project-id", project.encode())] if project else []
    if fallbacks is not None:
        headers.append((FALLBACKS_HEADER, fallbacks.encode()))
    return headers


async def _send(
    producer: AIOKafkaProducer,
    settings: Settings,
    topic: str,
    request: tuple[str, Any],
    headers: list[tuple[str, bytes]],
    *,
    to: TextIO,
) -> Origin:
    """Publishes one request; prints where it went on `to`."""
    key, body = request
    metadata = await producer.send_and_wait(
        topic, json.dumps(body).encode(), key=key.encode(), headers=headers
    )
    token = client_token(key, settings.token_namespace)
    print(
        f"published {key} to {topic} partition {metadata.partition} offset "
        f"{metadata.offset} (client token {token})",
        file=to,
    )
    return Origin(topic, metadata.partition, metadata.offset)


async def _publish(
    settings: Settings,
    topic: str,
    requests: list[tuple[str, Any]],
    headers: list[tuple[str, bytes]],
) -> None:
    producer = cli_producer(settings)
    await producer.start()
    try:
        for request in requests:
            await _send(producer, settings, topic, request, headers, to=sys.stdout)
    finally:
        await producer.stop()


async def _publish_and_wait(
    settings: Settings,
    topic: str,
    request: tuple[str, Any],
    headers: list[tuple[str, bytes]],
    args: argparse.Namespace,
) -> int:
    """Watches the answer topics from their current ends, publishes, waits for the answer."""
    key = request[0]
    answers_key = events_key(key)
    admin, consumer, producer = (
        cli_admin(settings),
        cli_consumer(settings, isolation_level="read_committed", fetch_max_wait_ms=wait.TICK_MS),
        cli_producer(settings),
    )
    async with contextlib.AsyncExitStack() as clients:
        # stop/close registered before start: a start that fails half-way is cleaned too
        clients.push_async_callback(admin.close)
        clients.push_async_callback(consumer.stop)
        clients.push_async_callback(producer.stop)
        for client in (admin, consumer, producer):
            await client.start()
        await wait.watch(admin, consumer, settings, answers_key)
        origin = await _send(producer, settings, topic, request, headers, to=sys.stderr)
        return await wait.answer(
            consumer,
            key,
            answers_key,
            origin,
            within=args.timeout or DEFAULT_TIMEOUT,
            as_json=args.json,
        )


def handle(args: argparse.Namespace) -> int:
    try:
        _check_options(args)
        requests = _read_requests(args)
    except _InputError as exc:
        print(f"ecs-provisioner publish: {exc}", file=sys.stderr)
        return 2

    async def validate_then_publish(settings: Settings, stop: Stop) -> int:
        del stop  # a signal interrupts publishing and waiting: the default exit code says so
        fallbacks, problems = _fallbacks(args.fallback)
        problems += _problems(requests, settings.extra_fields())
        if problems:
            print("\n".join(problems))
            print(f"not published: {len(problems)} problem(s)", file=sys.stderr)
            return 2 if args.wait else 1  # with --wait, 1 means the request failed
        topic = args.topic or settings.topic_requests
        headers = _headers(args.project, fallbacks)
        if args.wait:
            return await _publish_and_wait(settings, topic, requests[0], headers, args)
        await _publish(settings, topic, requests, headers)
        return 0

    return run_kafka_command("publish", args, validate_then_publish)
