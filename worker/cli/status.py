"""`ecs-provisioner status KEY`: a request's current state, from the compacted state topic.

Reads only the key's partition of ECSP_TOPIC_STATE (found with the producer's own partitioner),
backwards from its end, and prints one line: the key, what its latest event says (still in
progress, or the outcome with the servers or the stage, error code and message) and how long
ago; `--json` prints the event itself. `--watch` then prints each new state of the key as it
comes, until Ctrl-C or SIGTERM. A request has a state once the worker published its first event
for it (`submitted` with progress events on, else its outcome).
Exit codes: 0 known; 1 unknown (no state for the key); 2 usage or configuration error (also:
the state topic is off); 3 Kafka error (unreachable, no state topic); with --watch a signal
ends it with 0; 130/143 interrupted before the state was read.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from typing import Any, NoReturn

from aiokafka import AIOKafkaConsumer, TopicPartition

from worker.cli.exit_codes import ExitCode
from worker.cli.kafka_command import (
    add_kafka_options,
    cli_admin,
    cli_consumer,
    run_kafka_command,
)
from worker.cli.key_partition import events_key, key_partitions
from worker.cli.key_reader import key_records, latest_record
from worker.cli.outcome import age, parse_event, summary
from worker.cli.stopping import Stop
from worker.cli.tenant_view import add_tenant_option
from worker.cli.usage import HelpFormatter, epilog
from worker.ops.settings import Settings

#: A scan fetches this much of the partition per request (the default 1 MiB means more trips).
FETCH_BYTES = 8 * 1024 * 1024
#: How long the broker may hold a fetch at the partition's end (a re-seek waits for it).
FETCH_WAIT_MS = 100
EXAMPLES = (
    ("a request's latest state, in one line", "ecs-provisioner status ticket-4711"),
    ("its servers", "ecs-provisioner status ticket-4711 --json | jq -r '.data.server_ids[]'"),
    ("follow it until Ctrl-C", "ecs-provisioner status ticket-4711 --watch"),
    (
        "a request of team-a, from its state topic",
        "ecs-provisioner status ticket-4714 --tenant team-a",
    ),
)


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "status",
        help="show a request's current state (from the state topic)",
        description=__doc__,
        epilog=epilog("status", EXAMPLES),
        formatter_class=HelpFormatter,
    )
    parser.add_argument("key", metavar="KEY", help="the request key")
    parser.add_argument("--json", action="store_true", help="print the latest event itself")
    parser.add_argument(
        "--watch", action="store_true", help="then print each new state until Ctrl-C"
    )
    add_tenant_option(parser)
    add_kafka_options(parser)
    parser.set_defaults(handler=handle)


def _show(key: str, event: dict[str, Any], as_json: bool) -> None:
    text = json.dumps(event) if as_json else f"{key}: {summary(event)}; {age(event)}"
    print(text, flush=True)


async def _watch(
    consumer: AIOKafkaConsumer, tp: TopicPartition, start: int, key: str, as_json: bool
) -> NoReturn:
    """Prints every new state of `key` from offset `start` on, until cancelled."""
    consumer.seek(tp, start)
    while True:
        batch = await consumer.getmany(tp, timeout_ms=1000)
        for record in key_records(batch, events_key(key)):
            event = parse_event(record.value)
            if event is not None:
                _show(key, event, as_json)


async def _status(settings: Settings, stop: Stop, args: argparse.Namespace) -> int:
    topic = settings.topic_state
    key = events_key(args.key)
    admin = cli_admin(settings)
    consumer = cli_consumer(
        settings,
        isolation_level="read_committed",
        max_partition_fetch_bytes=FETCH_BYTES,
        fetch_max_wait_ms=FETCH_WAIT_MS,
    )
    async with contextlib.AsyncExitStack() as clients:
        clients.push_async_callback(admin.close)  # before start: a failed start is cleaned too
        clients.push_async_callback(consumer.stop)
        await admin.start()
        await consumer.start()
        [tp] = await key_partitions(admin, [topic], key)
        lookup = await latest_record(consumer, tp, key)
        event = None if lookup.record is None else parse_event(lookup.record.value)
        if event is not None:
            _show(args.key, event, args.json)
        else:
            print(
                f"{args.key}: unknown: no state in {topic} (a request has one once the worker "
                "published its first event for it)",
                file=sys.stderr,
                flush=True,
            )
        if not args.watch:
            return ExitCode.OK if event is not None else ExitCode.FAILED
        stop.ends_normally = True  # following ends only with a signal
        await _watch(consumer, tp, lookup.end, args.key, args.json)


def handle(args: argparse.Namespace) -> int:
    async def status(settings: Settings, stop: Stop) -> int:
        if not settings.topic_state:
            print(
                "ecs-provisioner status: the state topic is off (ECSP_TOPIC_STATE is empty); "
                "`ecs-provisioner results --key KEY` scans the result topics instead",
                file=sys.stderr,
            )
            return ExitCode.USAGE
        return await _status(settings, stop, args)

    return run_kafka_command("status", args, status)
