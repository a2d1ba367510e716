"""The planted defect: `ecs-provisioner run` with a consumer that commits before it publishes.

`Worker._handle` is replaced by a variant that marks the offset finished as soon as the pipeline
returns, waits `ECSP_TEST_DEFECT_DELAY_SECONDS` (the periodic commit runs meanwhile) and only
then publishes the terminal event. A SIGKILL during that window loses the request: its offset is
committed, its event never published. The reliability checks must catch this; nothing outside
the test suite imports this module.

Run as `python -m tests.reliability.broken_worker` with the worker's usual ECSP_* environment.
"""

from __future__ import annotations

import asyncio
import os
import sys

import structlog
from aiokafka import TopicPartition

from worker.cli.main import main
from worker.consumer.offsets import PartitionOffsets
from worker.consumer.runner import Worker
from worker.pipeline.message import InboundMessage


async def _handle_committing_first(
    self: Worker, tp: TopicPartition, offsets: PartitionOffsets, message: InboundMessage
) -> None:
    delay = float(os.environ.get("ECSP_TEST_DEFECT_DELAY_SECONDS", "3"))
    async with self._keys.hold(message.key):
        with structlog.contextvars.bound_contextvars(
            request_key=(message.key or b"").decode(errors="replace"), offset=message.offset
        ):
            event = await self._pipeline.process(message, self._publish_progress_for(message))
            offsets.finished(message.offset)  # the defect: committable before the event is out
            await asyncio.sleep(delay)
            await self._publisher.publish(self._topic_of[event.type], message.key, event)


def run() -> int:
    Worker._handle = _handle_committing_first  # type: ignore[method-assign]
    return main(["run"])


if __name__ == "__main__":
    sys.exit(run())
