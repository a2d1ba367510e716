"""`ecs-provisioner results`: read the result and failure topics as a table or raw CloudEvents.

Without `--follow` it prints what the topics hold now and exits; with `--follow` it keeps
printing new events until Ctrl-C. `--progress` adds the progress topic (submitted,
awaiting_payment). Columns: key, type, servers, job, reason, age. Exit codes:
`worker.cli.exit_codes` (`results`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import time
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from worker.cli.exit_codes import ExitCode
from worker.cli.kafka_command import add_kafka_options, cli_consumer, run_kafka_command
from worker.cli.stopping import Stop
from worker.cli.tenant_view import add_tenant_option
from worker.cli.usage import HelpFormatter, epilog
from worker.ops.settings import Settings

COLUMNS = ("KEY", "TYPE", "SERVERS", "JOB", "REASON", "AGE")
WIDTHS = (24, 17, 38, 32, 48, 6)
EXAMPLES = (
    ("what the result and failure topics hold now, as a table", "ecs-provisioner results"),
    (
        "keep printing one request's events, progress included, until Ctrl-C",
        "ecs-provisioner results --follow --progress --key ticket-4711",
    ),
    ("raw CloudEvents, one per line, for jq", "ecs-provisioner results --json | jq .data.stage"),
)


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "results",
        help="show results and failures",
        description="Read the result and failure topics as a table (key, type, servers, job, "
        "reason, age) or as raw CloudEvents. Without --follow it prints what the topics hold "
        "now and exits; with --follow it keeps printing new events until Ctrl-C. --progress "
        "adds the progress topic (submitted, awaiting_payment).",
        epilog=epilog("results", EXAMPLES),
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--follow", "-f", action="store_true", help="keep printing new events")
    parser.add_argument("--key", help="only events of this request key")
    parser.add_argument("--json", action="store_true", help="print raw CloudEvents, one per line")
    parser.add_argument("--progress", action="store_true", help="include progress events")
    add_tenant_option(parser)
    add_kafka_options(parser)
    parser.set_defaults(handler=handle)


def format_row(event: dict[str, Any], now: float) -> str:
    """One table row for an event."""
    data = event.get("data") or {}
    kind = str(event.get("type", "?")).removeprefix("ecs.provisioning.")
    servers = ",".join(data.get("server_ids") or []) or "-"
    reason = "-"
    if kind == "failed":
        error = data.get("error") or {}
        reason = f"{data.get('stage')}: {error.get('code')}: {error.get('message')}"
    age = "-"
    with contextlib.suppress(ValueError, TypeError, KeyError):
        age = _short_age(now - datetime.fromisoformat(str(event["time"])).timestamp())
    cells = (
        data.get("request_key") or "(no key)",
        kind,
        servers,
        data.get("job_id") or "-",
        reason,
        age,
    )
    return "  ".join(_fit(str(c), w) for c, w in zip(cells, WIDTHS, strict=True))


def _fit(text: str, width: int) -> str:
    return text.ljust(width) if len(text) <= width else text[: width - 1] + "…"


def _short_age(seconds: float) -> str:
    if seconds < 120:
        return f"{max(0, int(seconds))}s"
    if seconds < 7200:
        return f"{int(seconds // 60)}m"
    return f"{int(seconds // 3600)}h"


async def _read(settings: Settings, args: argparse.Namespace) -> None:
    topics = [settings.topic_results, settings.topic_failures]
    if args.progress and settings.topic_progress:
        topics.append(settings.topic_progress)
    # read_committed: under ECSP_DELIVERY=exactly_once, no event of an aborted transaction
    consumer = cli_consumer(
        settings, *topics, auto_offset_reset="earliest", isolation_level="read_committed"
    )
    try:
        await consumer.start()
        partitions = sorted(consumer.assignment())  # no group: every partition, from the start
        end = await consumer.end_offsets(partitions)
        if not args.json:
            print("  ".join(_fit(c, w) for c, w in zip(COLUMNS, WIDTHS, strict=True)))
        while True:
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for record in records:
                    _show(record.value, args)
            if not args.follow and await _caught_up(consumer, end):
                return
    finally:
        await consumer.stop()


async def _caught_up(consumer: AIOKafkaConsumer, end: dict[TopicPartition, int]) -> bool:
    for tp, offset in end.items():
        if await consumer.position(tp) < offset:
            return False
    return True


def _show(value: bytes | None, args: argparse.Namespace) -> None:
    try:
        event = json.loads(value or b"")
    except json.JSONDecodeError:
        return
    if args.key is not None and (event.get("data") or {}).get("request_key") != args.key:
        return
    print(json.dumps(event) if args.json else format_row(event, time.time()), flush=True)


def handle(args: argparse.Namespace) -> int:
    async def read(settings: Settings, stop: Stop) -> int:
        stop.ends_normally = args.follow  # following ends only with a signal
        await _read(settings, args)
        return ExitCode.OK

    return run_kafka_command("results", args, read)
