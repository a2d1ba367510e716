"""Waiting for the answer to one published request (`publish --wait`).

Where the answer is looked for: the request key's partition of the results and the failures
topics, and of the progress topic when progress events are on (for the progress line). `watch`
positions the consumer at those partitions' end offsets, and must be called *before* the request
is published: its answer cannot be missed, and nothing older is read. Not the state topic: the
worker publishes every answer on its own topic first and gives a state copy up after a while
(`worker.consumer.state`), so these topics are where the answer is certain to be.

Which event answers: one whose `data.origin` is the record just published (topic, partition,
offset). Events of the key's earlier requests (a re-published key) or of a later one never
count. Progress events for that record update a `ProgressLine` (shown on a terminal only).
"""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient

from worker.cli.exit_codes import ExitCode
from worker.cli.key_partition import key_partitions, partition_counts
from worker.cli.key_reader import key_records
from worker.cli.outcome import is_terminal, parse_event, summary, wait_exit_code
from worker.cli.progress_line import ProgressLine
from worker.ops.settings import Settings

#: How often the wait looks at the clock and redraws the progress line.
TICK_MS = 250


@dataclass(frozen=True)
class Origin:
    """Where a request record was published: the `data.origin` of the events answering it."""

    topic: str
    partition: int
    offset: int

    def answered_by(self, event: dict[str, Any]) -> bool:
        origin = event["data"].get("origin")
        return (
            isinstance(origin, dict)
            and origin.get("topic") == self.topic
            and origin.get("partition") == self.partition
            and origin.get("offset") == self.offset
        )


async def watch(
    admin: AIOKafkaAdminClient, consumer: AIOKafkaConsumer, settings: Settings, event_key: bytes
) -> None:
    """Assigns `event_key`'s partitions of the answer topics, each at its current end."""
    topics = [settings.topic_results, settings.topic_failures]
    if settings.topic_progress and (await partition_counts(admin, [settings.topic_progress])):
        topics.append(settings.topic_progress)  # optional: without it, no progress line
    partitions = await key_partitions(admin, topics, event_key)
    ends = await consumer.end_offsets(partitions)
    consumer.assign(partitions)
    for tp in partitions:
        consumer.seek(tp, ends[tp])


async def answer(
    consumer: AIOKafkaConsumer,
    key: str,
    event_key: bytes,
    origin: Origin,
    *,
    within: float,
    as_json: bool,
) -> int:
    """Waits for the event answering `origin`, prints it, returns its exit code (0 succeeded or
    validated, 1 failed), or 3 after `within` seconds without an answer."""
    line = ProgressLine(sys.stdout)
    line.update(f"{key}: waiting for the worker")
    try:
        async with asyncio.timeout(within):
            while True:
                batch = await consumer.getmany(timeout_ms=TICK_MS)
                for record in key_records(batch, event_key):
                    event = parse_event(record.value)
                    if event is None or not origin.answered_by(event):
                        continue
                    if is_terminal(event):
                        line.clear()
                        print(json.dumps(event) if as_json else f"{key}: {summary(event)}")
                        return wait_exit_code(event)
                    line.update(f"{key}: {summary(event)}")
                line.tick()
    except TimeoutError:
        line.clear()
        print(
            f"ecs-provisioner publish: no outcome for {key} within {within:g}s (published to "
            f"{origin.topic} partition {origin.partition} offset {origin.offset}); the request "
            f"goes on: `ecs-provisioner status {key}` (or `results --key {key}`) shows it later",
            file=sys.stderr,
        )
        return ExitCode.UNAVAILABLE
