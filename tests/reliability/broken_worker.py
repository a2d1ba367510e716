"""The planted defect: `ecs-provisioner run` with a publisher that does not wait for the broker.

`EventSink.publish` promises to return only once the broker acknowledged the event. This one
returns at once and sends the event `ECSP_TEST_DEFECT_DELAY_SECONDS` later in the background, so
the worker marks the offset finished and the periodic commit commits it while the event is not
out yet. A SIGKILL during that window loses the request: its offset is committed, its event never
published. The reliability checks must catch this; nothing outside the test suite imports this
module. The defect sits behind the publisher interface, so it follows the worker's real loop.

Run as `python -m tests.reliability.broken_worker` with the worker's usual ECSP_* environment.
"""

from __future__ import annotations

import asyncio
import os
import sys

from ecsp_contract.cloudevent import CloudEvent
from worker import service
from worker.cli.main import main
from worker.consumer.publisher import EventPublisher

#: The sends under way (a task nobody references may be collected before it runs).
_LATE: set[asyncio.Task[None]] = set()


class PublishesLate(EventPublisher):
    """An `EventPublisher` whose `publish` returns before the event is even sent."""

    async def publish(self, topic: str, key: bytes | None, event: CloudEvent) -> None:
        task = asyncio.create_task(self._publish_later(topic, key, event))
        _LATE.add(task)
        task.add_done_callback(_LATE.discard)

    async def _publish_later(self, topic: str, key: bytes | None, event: CloudEvent) -> None:
        await asyncio.sleep(float(os.environ.get("ECSP_TEST_DEFECT_DELAY_SECONDS", "3")))
        await super().publish(topic, key, event)


def run() -> int:
    service.EventPublisher = PublishesLate  # type: ignore[attr-defined]
    return main(["run"])


if __name__ == "__main__":
    sys.exit(run())
