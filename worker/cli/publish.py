"""`ecs-provisioner publish`: check request bodies as the worker will, then publish them.

One body with `--key` (its bytes are published as read), or a JSON-lines file of
`{"key": ..., "request": {...}}` objects with `--jsonl` (each request published as compact JSON).
`--fallback` (repeatable, in order) names an alternative placement for when the body's is sold
out, sent as the `ecs-fallbacks` header. Each value gets the worker's verdict first
(`worker.cli.request_check`); nothing is published when any request (or fallback) would be
refused. Prints partition and offset of each published request; when
SIGINT/SIGTERM interrupt, the lines printed so far name the requests already published.

With `--wait` (one request), it then waits for the request's outcome (`worker.cli.wait`) and
prints one line (the servers, or the stage, error code and message; `--json`: the event), with a
progress line while it waits when stdout is a terminal. Exit codes: `worker.cli.exit_codes`
(`publish`, `publish --wait`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path
from typing import TextIO

from aiokafka import AIOKafkaProducer

from ecsp_contract.extensions import ExtraField
from ecsp_contract.idempotency import client_token
from ecsp_contract.placement import FALLBACKS_HEADER, InvalidFallbacks, parse_fallbacks
from worker.cli import wait
from worker.cli.exit_codes import ExitCode
from worker.cli.kafka_command import (
    add_kafka_options,
    cli_admin,
    cli_consumer,
    cli_producer,
    run_kafka_command,
)
from worker.cli.key_partition import events_key
from worker.cli.request_check import Refused, check_value
from worker.cli.stopping import Stop
from worker.cli.tenant_view import add_tenant_option
from worker.cli.usage import HelpFormatter, epilog, exit_code_lines
from worker.cli.wait import Origin
from worker.ops.settings import Settings

#: How long `--wait` waits for the outcome unless --timeout says otherwise.
DEFAULT_TIMEOUT = 900.0

EXAMPLE = "schemas/ecsp_contract/examples/06-postpaid-within-policy.json"
EXAMPLES = (
    (
        "publish one request; the key is its identity",
        f"ecs-provisioner publish {EXAMPLE} --key ticket-4711",
    ),
    (
        "into another project (one of the worker's ECSP_ECS_PROJECT_ALLOWLIST)",
        f"ecs-provisioner publish {EXAMPLE} --key ticket-4712 "
        "--project 0605767ea3000f5b2fe8c0051de0b9ba",
    ),
    (
        "with two placements to try if the body's flavor or zone is sold out",
        f"ecs-provisioner publish {EXAMPLE} --key ticket-4713 --fallback @ap-southeast-1b "
        "--fallback c7.large.2@ap-southeast-1c",
    ),
    (
        "from a CI step: wait for the outcome and exit with it",
        f"ecs-provisioner publish {EXAMPLE} --key ci-1234 --wait --timeout 1200 --json",
    ),
    (
        "as team-a, on its own topics (the worker's tenants file names it)",
        f"ecs-provisioner publish {EXAMPLE} --key ticket-4714 --tenant team-a --wait",
    ),
    (
        'many requests: a {"key": ..., "request": {...}} object per line',
        "ecs-provisioner publish batch.jsonl --jsonl",
    ),
)


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "publish",
        help="check and publish provisioning requests",
        description="Check request bodies as the worker will, then publish them to the request "
        "topic. One body with --key is published as read; --jsonl publishes a file of "
        '{"key": ..., "request": {...}} lines. Nothing is published when any request would be '
        "refused. Prints the partition, offset and client token of each published request.",
        epilog=epilog("publish", EXAMPLES)
        + "\n\nWith --wait:\n"
        + "\n".join(exit_code_lines("publish --wait")),
        formatter_class=HelpFormatter,
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
    add_tenant_option(parser)
    add_kafka_options(parser)
    parser.set_defaults(handler=handle)


class _InputError(Exception):
    """The input cannot be read as requests (exit 2)."""


#: One request to publish: (key, value, where it came from for messages about its bytes).
Request = tuple[str, bytes, str]


def _check_options(args: argparse.Namespace) -> None:
    if args.wait and args.jsonl:
        raise _InputError("--wait waits for one request: give FILE and --key, not --jsonl")
    if not args.wait and (args.timeout is not None or args.json):
        raise _InputError("--timeout and --json go with --wait")
    if args.timeout is not None and not args.timeout > 0:
        raise _InputError("--timeout must be a number of seconds above 0")


def _read_requests(args: argparse.Namespace) -> list[Request]:
    source = "(stdin)" if args.file == "-" else args.file
    try:
        raw = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
    except OSError as exc:
        raise _InputError(f"cannot read {args.file}: {exc.strerror}") from None
    if not args.jsonl:
        if not args.key:
            raise _InputError("--key is required when publishing one request")
        return [(args.key, raw, source)]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _InputError(f"{source}: not UTF-8 (byte {exc.start})") from None
    requests: list[Request] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{source} line {number}"
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise _InputError(f"{where}: not JSON: {exc.msg} at column {exc.colno}") from None
        if not isinstance(item, dict) or not isinstance(item.get("key"), str):
            raise _InputError(f'{where}: expected {{"key": "...", "request": {{...}}}}')
        requests.append((item["key"], json.dumps(item.get("request")).encode(), where))
    return requests


def _problems(requests: list[Request], settings: Settings) -> list[str]:
    extra_fields: tuple[ExtraField, ...] = settings.extra_fields()
    lines: list[str] = []
    for key, value, source in requests:
        try:
            check_value(value, extra_fields=extra_fields, max_bytes=settings.max_request_bytes)
        except Refused as refused:
            label = source if refused.undecodable else key
            lines.extend(f"{label}: {line}" for line in refused.lines)
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
    request: Request,
    headers: list[tuple[str, bytes]],
    *,
    to: TextIO,
) -> Origin:
    """Publishes one request (its bytes as checked); prints where it went on `to`."""
    key, value, _ = request
    metadata = await producer.send_and_wait(topic, value, key=key.encode(), headers=headers)
    # the settings' namespace is the shared topic's; a tenant's topic has its own (the worker's
    # tenants file), which a publisher's settings do not know
    token = (
        f"client token {client_token(key, settings.token_namespace)}"
        if topic == settings.topic_requests
        else "client token in the topic's tenant namespace"
    )
    print(
        f"published {key} to {topic} partition {metadata.partition} offset "
        f"{metadata.offset} ({token})",
        file=to,
    )
    return Origin(topic, metadata.partition, metadata.offset)


async def _publish(
    settings: Settings, topic: str, requests: list[Request], headers: list[tuple[str, bytes]]
) -> None:
    producer = cli_producer(settings)
    try:
        await producer.start()
        for request in requests:
            await _send(producer, settings, topic, request, headers, to=sys.stdout)
    finally:
        await producer.stop()  # also after a failed start: nothing is left unclosed


async def _publish_and_wait(
    settings: Settings,
    topic: str,
    request: Request,
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
        return ExitCode.USAGE

    async def check_then_publish(settings: Settings, stop: Stop) -> int:
        del stop  # a signal interrupts publishing: the default exit code says so
        fallbacks, problems = _fallbacks(args.fallback)
        problems += _problems(requests, settings)
        if problems:
            print("\n".join(problems))
            print(f"not published: {len(problems)} problem(s)", file=sys.stderr)
            # with --wait, 1 means the request failed: nothing published is invalid input
            return ExitCode.USAGE if args.wait else ExitCode.FAILED
        topic = args.topic or settings.topic_requests
        headers = _headers(args.project, fallbacks)
        if args.wait:
            return await _publish_and_wait(settings, topic, requests[0], headers, args)
        await _publish(settings, topic, requests, headers)
        return ExitCode.OK

    return run_kafka_command("publish", args, check_then_publish)
