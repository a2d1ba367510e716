"""`ecs-provisioner samples`: the demo batch of `make run`.

Publishes every example request (`schemas/ecsp_contract/examples/*.json`: the API reference's
five and one that the shipped guardrails policy allows; keys `sample-<run-id>-01` …) plus one
invalid request (the last: a non-UUID vpcid and an unknown field, published raw so the worker's
failure event shows), then follows the progress, results and failures topics from the offsets
they had before publishing, only for this run's keys. Each request gets a line: submitted (on
Kafka) -> running Ns (the worker's `submitted` event) -> succeeded / validated / failed with the
reason. On a terminal the lines update in place; otherwise each change is appended. When every
request has a terminal event it prints `Sample batch: N succeeded, N validated, N failed` and
how to publish another request from a second terminal; with --watch (the default) it then
prints every new event until Ctrl-C. Settings (bootstrap servers, topics, security) come from
the ECSP_* environment like `publish`. Exit codes: `worker.cli.exit_codes` (`samples`); a batch
not finished within --timeout is 3, as a Kafka error or a missing topic is.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

import ecsp_contract
from ecsp_contract.channels import CHANNELS
from worker.cli.exit_codes import ExitCode
from worker.cli.kafka_command import (
    KafkaCommandError,
    add_kafka_options,
    cli_consumer,
    cli_producer,
    run_kafka_command,
)
from worker.cli.stopping import Stop
from worker.cli.usage import HelpFormatter, epilog
from worker.ops.settings import Settings

TERMINAL = ("succeeded", "validated", "failed")
SETUP_TIMEOUT = 30.0
_RANK = {"submitted": 0, "running": 1, "awaiting payment": 1}
EXAMPLES = (
    ("the demo batch against the local stack (make run runs this)", "ecs-provisioner samples"),
    (
        "in CI: wait at most 60 s for the batch, then exit",
        "ecs-provisioner samples --no-watch --timeout 60",
    ),
)


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "samples",
        help="publish the example requests (and one invalid one) and show their results",
        description="Publish every example request (schemas/ecsp_contract/examples) and one "
        "invalid request, then show each one's progress until all have a terminal event and "
        "print the batch's summary; with --watch (the default), keep printing new events "
        "until Ctrl-C. Settings come from the ECSP_* environment, like publish.",
        epilog=epilog("samples", EXAMPLES),
        formatter_class=HelpFormatter,
    )
    parser.add_argument(
        "--watch",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="after the batch, keep printing new events until Ctrl-C (default: on)",
    )
    parser.add_argument(
        "--run-id", help="part of every key: sample-<run-id>-NN (default: a timestamp)"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=120.0,
        help="seconds to wait for the batch to finish (%(default)s)",
    )
    add_kafka_options(parser)
    parser.set_defaults(handler=handle)


@dataclass
class Sample:
    """One request of the batch and what is known of it so far."""

    key: str
    label: str
    body: bytes
    state: str = "submitted"
    detail: str = ""
    running_since: float | None = None

    def apply(self, kind: str, detail: str) -> bool:
        """Takes an event's state unless it would move backwards; True when it changed."""
        if self.state in TERMINAL or (kind not in TERMINAL and kind not in _RANK):
            return False
        if kind not in TERMINAL and _RANK[kind] < _RANK[self.state]:
            return False
        if kind == "running" and self.running_since is None:
            self.running_since = time.monotonic()
        self.state, self.detail = kind, detail
        return True

    def status(self) -> str:
        state = self.state
        if state == "running" and self.running_since is not None:
            state = f"running {int(time.monotonic() - self.running_since)}s"
        return f"{state}: {self.detail}" if self.detail else state


def examples_dir() -> Path:
    """`schemas/ecsp_contract/examples`: the contract's package data."""
    return Path(next(iter(ecsp_contract.__path__))) / "examples"


def invalid_request() -> dict[str, Any]:
    """Example 1 with a vpcid that is no UUID and a field the API does not know."""
    body: dict[str, Any] = json.loads(
        (examples_dir() / "01-prepaid-keypair.json").read_text("utf-8")
    )
    body["server"]["vpcid"] = "not-a-uuid"
    body["server"]["colour"] = "blue"
    return body


def build_batch(run_id: str) -> list[Sample]:
    """Every example (in file order) and the invalid request, keyed by run id."""
    batch = [
        Sample(f"sample-{run_id}-{n:02d}", path.stem, path.read_bytes())
        for n, path in enumerate(sorted(examples_dir().glob("*.json")), start=1)
    ]
    batch.append(
        Sample(
            f"sample-{run_id}-{len(batch) + 1:02d}",
            "invalid (bad vpcid, unknown field)",
            json.dumps(invalid_request()).encode(),
        )
    )
    return batch


def describe(event: dict[str, Any]) -> tuple[str, str]:
    """(state, detail) of an event: running / awaiting payment / succeeded / validated / failed."""
    data = event.get("data") or {}
    kind = str(event.get("type", "?")).removeprefix("ecs.provisioning.")
    if kind == "submitted":
        return "running", f"job {data.get('job_id') or '-'}"
    if kind == "awaiting_payment":
        return "awaiting payment", f"order {data.get('order_id') or '-'}"
    if kind == "succeeded":
        servers = ", ".join(data.get("server_ids") or []) or "-"
        return kind, f"server {servers} (job {data.get('job_id') or '-'})"
    if kind == "validated":
        return kind, "dry run passed the API's check, nothing created"
    if kind == "failed":
        error = data.get("error") or {}
        return kind, f"{data.get('stage')}: {error.get('code')}: {error.get('message')}"
    return kind, ""


def summary(batch: list[Sample]) -> str:
    counts = {state: sum(s.state == state for s in batch) for state in TERMINAL}
    return (
        f"Sample batch: {counts['succeeded']} succeeded, {counts['validated']} validated, "
        f"{counts['failed']} failed"
    )


def _totals(batch: list[Sample]) -> str:
    states = ("submitted", "running", "awaiting payment", *TERMINAL)
    parts = [f"{sum(s.state == st for s in batch)} {st}" for st in states]
    return f"{len(batch)} requests: " + ", ".join(parts)


@dataclass
class Board:
    """Shows the batch: redrawn in place on a terminal, appended lines otherwise."""

    batch: list[Sample]
    out: TextIO
    live: bool
    drawn: int = 0

    def line(self, sample: Sample) -> str:
        return f"{sample.key:<28} {sample.label:<36} {sample.status()}"

    def changed(self, sample: Sample) -> None:
        if not self.live:
            print(self.line(sample), file=self.out, flush=True)

    def redraw(self) -> None:
        if not self.live:
            return
        width = max(20, shutil.get_terminal_size().columns - 1)
        lines = [self.line(s) for s in self.batch] + [_totals(self.batch)]
        up = f"\x1b[{self.drawn}F" if self.drawn else ""
        text = "".join(f"\x1b[2K{line[:width]}\n" for line in lines)
        self.out.write(up + text)
        self.out.flush()
        self.drawn = len(lines)


def hints(settings: Settings) -> str:
    """How to publish another request and read results from a second terminal."""
    bootstrap = settings.kafka_bootstrap_servers
    flag = (
        ""
        if bootstrap == Settings.model_fields["kafka_bootstrap_servers"].default
        else (f" --bootstrap-servers {bootstrap}")
    )
    env = "".join(
        f"ECSP_{name.upper()}={getattr(settings, name)} "
        for name in ("topic_requests", "topic_results", "topic_failures")
        if getattr(settings, name) != Settings.model_fields[name].default
    )
    broker = bootstrap.split(",")[0]
    lines = [
        "Publish another request from a second terminal (in this directory):",
        f"  {env}.venv/bin/ecs-provisioner publish "
        f"schemas/ecsp_contract/examples/01-prepaid-keypair.json --key my-first-server{flag}",
        f"  {env}.venv/bin/ecs-provisioner results --follow{flag}",
    ]
    if settings.kafka_security_protocol == "PLAINTEXT":
        lines += [
            "or with kcat, a Kafka client this project did not write:",
            f"  kcat -P -b {broker} -t {settings.topic_requests} -k my-kcat-server "
            "schemas/ecsp_contract/examples/05-dry-run.json",
            f"  kcat -C -b {broker} -t {settings.topic_results} -o beginning -f '%k %s\\n'",
        ]
    return "\n".join(lines)


def _topics(settings: Settings) -> list[str]:
    """Every topic the worker routes events to (the progress topic only when it is on; not the
    state topic, whose events are copies)."""
    topics = [
        settings.topic(channel)
        for channel, spec in CHANNELS.items()
        if not spec.inbound and not spec.compacted
    ]
    return [t for t in topics if t]


async def _assign_at_end(
    consumer: AIOKafkaConsumer, producer: AIOKafkaProducer, topics: list[str]
) -> None:
    """Assigns every partition of `topics` to `consumer`, positioned at the current end."""
    missing = set(topics) - await consumer.topics()
    if missing:
        raise KafkaCommandError(
            f"no topic {', '.join(sorted(missing))} (deploy/local/run.sh creates it)"
        )
    partitions: list[TopicPartition] = []
    for topic in topics:
        # the consumer's metadata cache only holds subscribed topics; the producer fetches any
        partitions += [
            TopicPartition(topic, p) for p in sorted(await producer.partitions_for(topic))
        ]
    consumer.assign(partitions)
    await consumer.seek_to_end(*partitions)
    for tp in partitions:  # resolve the positions now, before anything is published
        await consumer.position(tp)


async def _publish(
    producer: AIOKafkaProducer, topic: str, batch: list[Sample], out: TextIO
) -> None:
    for sample in batch:
        meta = await producer.send_and_wait(topic, sample.body, key=sample.key.encode())
        sample.detail = f"on {topic} partition {meta.partition}"
    print(f"Published {len(batch)} requests to {topic}:", file=out)


async def _events(consumer: AIOKafkaConsumer) -> list[dict[str, Any]]:
    batch = await consumer.getmany(timeout_ms=500)
    events: list[dict[str, Any]] = []
    for records in batch.values():
        for record in records:
            try:
                event = json.loads(record.value or b"")
            except json.JSONDecodeError:
                continue
            if isinstance(event, dict):
                events.append(event)
    return events


def _key(event: dict[str, Any]) -> str | None:
    data = event.get("data") or {}
    key = data.get("request_key") if isinstance(data, dict) else None
    return key if isinstance(key, str) else None


async def _follow_batch(consumer: AIOKafkaConsumer, board: Board) -> None:
    """Applies this run's events until every request has a terminal state."""
    by_key = {s.key: s for s in board.batch}
    for sample in board.batch:
        board.changed(sample)
    board.redraw()
    while any(s.state not in TERMINAL for s in board.batch):
        for event in await _events(consumer):
            found = by_key.get(_key(event) or "")
            if found is not None and found.apply(*describe(event)):
                board.changed(found)
        board.redraw()


async def _watch(consumer: AIOKafkaConsumer, out: TextIO) -> None:
    print("Following new events (Ctrl-C stops everything):", file=out, flush=True)
    while True:
        for event in await _events(consumer):
            state, detail = describe(event)
            stamp = time.strftime("%H:%M:%S")
            print(f"{stamp}  {_key(event) or '(no key)'}  {state}: {detail}", file=out, flush=True)


async def run_samples(settings: Settings, args: argparse.Namespace, out: TextIO, stop: Stop) -> int:
    """Publishes the batch, shows it to the end, prints the summary; see the module doc."""
    run_id = args.run_id or time.strftime("%Y%m%d-%H%M%S")
    batch = build_batch(run_id)
    consumer = cli_consumer(settings, isolation_level="read_committed")  # see results
    producer = cli_producer(settings)
    try:
        try:
            async with asyncio.timeout(SETUP_TIMEOUT):
                await consumer.start()
                await producer.start()
                await _assign_at_end(consumer, producer, _topics(settings))
                await _publish(producer, settings.topic_requests, batch, out)
        except TimeoutError:
            raise KafkaCommandError(
                f"Kafka at {settings.kafka_bootstrap_servers} did not answer within "
                f"{SETUP_TIMEOUT:g}s"
            ) from None
        await producer.stop()
        board = Board(batch, out, live=out.isatty())
        try:
            async with asyncio.timeout(args.timeout):
                await _follow_batch(consumer, board)
        except TimeoutError:
            pending = ", ".join(s.key for s in batch if s.state not in TERMINAL)
            print(f"Sample batch incomplete after {args.timeout:g}s: {pending}", file=out)
            return ExitCode.UNAVAILABLE
        print(f"\n{summary(batch)}\n\n{hints(settings)}\n", file=out, flush=True)
        if args.watch:
            stop.ends_normally = True  # watching ends only with a signal
            await _watch(consumer, out)
    finally:
        await producer.stop()
        await consumer.stop()
    return ExitCode.OK


def handle(args: argparse.Namespace) -> int:
    return run_kafka_command(
        "samples", args, lambda s, stop: run_samples(s, args, sys.stdout, stop)
    )
